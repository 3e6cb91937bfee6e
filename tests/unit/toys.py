"""Toy actions, hooks and a toy backend for the runner, journal, secret and connection
tests (no real backend, no I/O)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from adminkit.core.action import Action, Applied, AsyncAction, Params, Plan
from adminkit.core.context import Context
from adminkit.core.result import Change, Result
from adminkit.core.run import Run
from adminkit.core.runner import RunReport
from adminkit.core.secrets import Secret
from adminkit.core.targets import Limits


class SecretParams(Params):
    login: str
    password: Secret


class LeakyAction(Action[SecretParams]):
    """Plans a password change and fails the way a chatty server would: echoing the value."""

    name = "toy.set_password"
    params_model: ClassVar[type[Params]] = SecretParams

    def __init__(self, params: SecretParams) -> None:
        super().__init__(params)
        self.raised: str | None = None

    def target(self) -> str:
        return self.params.login

    def plan(self, ctx: Context) -> Plan:
        return Plan(changes=[Change(op="set", field="password", before=None,
                                    after=self.params.password)],
                    summary=f"set the password of {self.params.login}")

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        self.raised = (f"server refused password {self.params.password.reveal()!s} "
                       f"for {self.params.login}")
        raise RuntimeError(self.raised)


class ToyParams(Params):
    key: str
    changes: int = 1  # 0: nothing to do
    fail_in: str | None = None  # "plan", "guard" or "apply"
    error: str = "boom"


class ToyAction(Action[ToyParams]):
    """Records every call in `calls` as (key, phase)."""

    name = "toy.action"
    params_model: ClassVar[type[Params]] = ToyParams

    def __init__(self, params: ToyParams, calls: list[tuple[str, str]],
                 exc: type[Exception] | Exception | None = None) -> None:
        super().__init__(params)
        self.calls = calls
        self.exc = exc

    def _maybe_fail(self, phase: str) -> None:
        if self.params.fail_in == phase:
            if isinstance(self.exc, Exception):
                raise self.exc
            raise (self.exc or RuntimeError)(self.params.error)

    def target(self) -> str:
        return f"item-{self.params.key}"

    def plan(self, ctx: Context) -> Plan:
        self.calls.append((self.params.key, "plan"))
        self._maybe_fail("plan")
        changes = [Change(op="set", field=f"f{i}", before="old", after="new")
                   for i in range(self.params.changes)]
        return Plan(changes=changes, summary=f"update item-{self.params.key}",
                    data={"planned": self.params.key})

    def guard(self, ctx: Context, plan: Plan) -> None:
        self.calls.append((self.params.key, "guard"))
        self._maybe_fail("guard")

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        self.calls.append((self.params.key, "apply"))
        self._maybe_fail("apply")
        return Applied(summary=f"updated item-{self.params.key}",
                       data={"applied": self.params.key})


def toy(key: str, calls: list[tuple[str, str]], **kw: Any) -> ToyAction:
    exc = kw.pop("exc", None)
    return ToyAction(ToyParams(key=key, **kw), calls, exc)


class RecordingHook:
    """Records hook calls as (hook name, event, detail)."""

    def __init__(self, name: str, events: list[tuple[str, str, Any]]) -> None:
        self.name = name
        self.events = events

    def run_started(self, run: Run) -> None:
        self.events.append((self.name, "run_started", run.id))

    def action_finished(self, run: Run, index: int, result: Result) -> None:
        self.events.append((self.name, "action_finished", (index, result.status.value)))

    def run_finished(self, run: Run, report: RunReport) -> None:
        self.events.append((self.name, "run_finished", report.status))


@dataclass(eq=False)
class ToyConn:
    target: str
    number: int
    closed: int = 0  # times closed: more than once is a bug


class ToyServer:
    """A pretend backend that counts, per target: connections opened and closed, how many
    are open at once, and uses in flight at once (the peaks are what limits bound)."""

    def __init__(self, kind: str = "toy") -> None:
        self.kind = kind
        self.lock = threading.Lock()
        self.conns: list[ToyConn] = []
        self.open_now: Counter[str] = Counter()
        self.open_peak: Counter[str] = Counter()
        self.open_peak_all = 0
        self.in_flight: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.peak_all = 0
        self.fail_open: Exception | None = None

    def open(self, target: str) -> ToyConn:
        if self.fail_open is not None:
            raise self.fail_open
        with self.lock:
            conn = ToyConn(target, len(self.conns) + 1)
            self.conns.append(conn)
            self.open_now[target] += 1
            self.open_peak[target] = max(self.open_peak[target], self.open_now[target])
            self.open_peak_all = max(self.open_peak_all, sum(self.open_now.values()))
        return conn

    def close(self, conn: ToyConn) -> None:
        with self.lock:
            conn.closed += 1
            if conn.closed == 1:
                self.open_now[conn.target] -= 1

    def opener(self, target: str) -> Callable[[], ToyConn]:
        return lambda: self.open(target)

    @property
    def opened(self) -> int:
        return len(self.conns)

    @property
    def closed(self) -> int:
        return sum(1 for c in self.conns if c.closed)

    @property
    def closed_twice(self) -> int:
        return sum(1 for c in self.conns if c.closed > 1)

    def _enter(self, conn: ToyConn) -> None:
        assert not conn.closed, "a closed connection was handed out"
        with self.lock:
            self.in_flight[conn.target] += 1
            self.peak[conn.target] = max(self.peak[conn.target], self.in_flight[conn.target])
            self.peak_all = max(self.peak_all, sum(self.in_flight.values()))

    def _leave(self, conn: ToyConn) -> None:
        with self.lock:
            self.in_flight[conn.target] -= 1

    @contextlib.contextmanager
    def use(self, conn: ToyConn) -> Iterator[None]:
        self._enter(conn)
        try:
            yield
        finally:
            self._leave(conn)

    @contextlib.asynccontextmanager
    async def ause(self, conn: ToyConn) -> AsyncIterator[None]:
        self._enter(conn)
        try:
            yield
        finally:
            self._leave(conn)


class TargetParams(ToyParams):
    target: str = "t1"


class TargetAction(ToyAction):
    """A toy action that uses a connection to its target while it plans and applies;
    `work(key)`, if set, is what it does while holding it (default: give way briefly)."""

    name = "toy.target"
    server: ClassVar[ToyServer]
    limits: ClassVar[Limits] = Limits()
    work: ClassVar[Callable[[str], None] | None] = None

    def _use(self, ctx: Context, phase: str) -> None:
        assert isinstance(self.params, TargetParams)
        target, work = self.params.target, type(self).work
        conn = ctx.connection(self.server.kind, target, self.server.opener(target),
                              self.server.close, limits=self.limits)
        with self.server.use(conn):
            self.calls.append((self.params.key, f"{phase}:{conn.number}"))
            if work is not None:
                work(self.params.key)
            else:
                threading.Event().wait(0.001)

    def plan(self, ctx: Context) -> Plan:
        self._use(ctx, "plan")
        return super().plan(ctx)

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        self._use(ctx, "apply")
        return super().apply(ctx, plan)


class AsyncToy(AsyncAction[TargetParams]):
    """An async action: awaits a connection, then `work(key)` (a coroutine) while using it.
    Records the thread each coroutine ran on."""

    name = "toy.async"
    params_model: ClassVar[type[Params]] = TargetParams
    server: ClassVar[ToyServer]
    limits: ClassVar[Limits] = Limits()
    work: ClassVar[Callable[[str], Any] | None] = None
    threads: ClassVar[set[int]] = set()

    def target(self) -> str:
        return f"item-{self.params.key}"

    async def plan_async(self, ctx: Context) -> Plan:
        target = self.params.target
        conn = await ctx.connection_async(self.server.kind, target, self.server.opener(target),
                                          self.server.close, limits=self.limits)
        work = type(self).work
        async with self.server.ause(conn):
            AsyncToy.threads.add(threading.get_ident())
            if work is not None:
                await work(self.params.key)
            else:
                await asyncio.sleep(0)
        return Plan(changes=[Change(op="set", field="f", before="old", after="new")],
                    summary=f"update item-{self.params.key}")

    async def apply_async(self, ctx: Context, plan: Plan) -> Applied:
        target = self.params.target  # the unit's connection again, as plan had it
        conn = await ctx.connection_async(self.server.kind, target, self.server.opener(target),
                                          self.server.close, limits=self.limits)
        async with self.server.ause(conn):
            await asyncio.sleep(0)
        return Applied(summary=f"updated item-{self.params.key}")


def async_toy_server(wait_timeout: float) -> ToyServer:
    """A fresh "graph" server for `AsyncToy`, three connections at most per target."""
    server = ToyServer("graph")
    AsyncToy.server, AsyncToy.work, AsyncToy.threads = server, None, set()
    AsyncToy.limits = Limits(per_target=3, wait_timeout=wait_timeout)
    return server
