"""Toy actions and hooks for the runner, journal and secret tests (no backend, no I/O)."""

from __future__ import annotations

from typing import Any, ClassVar

from adminkit.core.action import Action, Applied, Params, Plan
from adminkit.core.context import Context
from adminkit.core.result import Change, Result
from adminkit.core.run import Run
from adminkit.core.runner import RunReport
from adminkit.core.secrets import Secret


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
