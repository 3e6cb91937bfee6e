"""The run's connections to its targets (a directory, a print server, a host, a tenant).

Keyed by (backend kind, target): a connection is opened once per run and reused; at
most `per_target` are open to one target and `per_backend` to all targets of a kind;
each is closed on every path, Ctrl-C included. Work asks for a *lease*: a free
connection, a new one while the limits allow, or else it waits for one to come back.

A unit of work (the runner's row or batch of rows) is a *scope*: what it `held` is
returned when it ends, so a pool of W workers holds at most W connections to a
target, and the next unit (or the next run, after `Context.handover`) reuses them.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, wait
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from adminkit.core.errors import ConnectionFailed, Interrupted

T = TypeVar("T")
Key = tuple[str, str]  # (backend kind, target: a URL, a host name, a tenant)
BROKEN = (OSError, ConnectionFailed)  # a lease that ended with one of these is not reused


@dataclass(frozen=True)
class Limits:
    """How a backend kind's connections are shared; None: no limit."""

    per_target: int | None = None  # connections open to one target
    per_backend: int | None = None  # connections open to all targets of the kind
    shared: int = 1  # leases one connection serves at once (1: an LDAP bind; more: HTTP)
    open_timeout: float | None = None  # seconds an open may take
    wait_timeout: float | None = None  # seconds a lease waits for a free connection


@dataclass(eq=False)
class _Conn:
    key: Key
    value: Any
    close: Callable[[Any], None]
    uses: int = 0
    returned: float = 0.0  # when last returned: the idle one returned longest ago goes first
    broken: bool = False
    gone: bool = False  # out of the registry; whoever took it out closes it


@dataclass(eq=False)
class _Scope:
    held: dict[tuple[Targets, Key], _Conn] = field(default_factory=dict)


_SCOPE: ContextVar[_Scope | None] = ContextVar("adminkit_targets_scope", default=None)


class Targets:
    """Connections of one run, by (backend, target). Thread-safe."""

    def __init__(self, limits: dict[str, Limits] | None = None,
                 default: Limits | None = None) -> None:
        self._limits = dict(limits or {})
        self._default = default or Limits()
        self._cond = threading.Condition()
        self._conns: dict[Key, list[_Conn]] = {}
        self._per_target: Counter[Key] = Counter()  # open or opening
        self._per_backend: Counter[str] = Counter()
        self._stopped: str | None = None  # why no more leases are handed out
        self._own = _Scope()  # what is held outside any unit of work, until close()
        self._own_lock = threading.Lock()

    # -- configuration ------------------------------------------------------------------
    def configure(self, backend: str, limits: Limits) -> None:
        with self._cond:
            self._limits[backend] = limits

    def limits(self, backend: str) -> Limits:
        return self._limits.get(backend, self._default)

    @property
    def cancelled(self) -> bool:
        return self._stopped is not None

    # -- leasing ------------------------------------------------------------------------
    @contextlib.contextmanager
    def lease(self, backend: str, target: str, open: Callable[[], T],
              close: Callable[[T], None], *, limits: Limits | None = None) -> Iterator[T]:
        """A connection to `target` for the length of the block; `open` makes one when
        none is free, `close` ends it. `limits`, if given, are the backend's (the domain
        knows them). A block that ends in OSError or ConnectionFailed drops it."""
        conn = self._acquire((backend, target), open, close, limits)
        broken = False
        try:
            yield conn.value
        except BROKEN:
            broken = True
            raise
        finally:
            self._release(conn, broken=broken)

    def held(self, backend: str, target: str, open: Callable[[], T],
             close: Callable[[T], None], *, limits: Limits | None = None) -> T:
        """The connection to `target` that the current unit of work holds: leased at its
        first call in the `scope`, returned when the scope ends. Outside any scope it is
        held until `close()` (a one-off caller; the runner always opens a scope)."""
        scope = _SCOPE.get()
        if scope is None:
            with self._own_lock:
                return self._held_in(self._own, (backend, target), open, close, limits)
        return self._held_in(scope, (backend, target), open, close, limits)

    def holding(self, backend: str, target: str) -> Any | None:
        """What the current unit of work holds on (`backend`, `target`), or None: asks no
        lease, so a coroutine on the loop may call it."""
        scope = _SCOPE.get()
        found = scope.held.get((self, (backend, target))) if scope is not None else None
        return found.value if found is not None else None

    def _held_in(self, scope: _Scope, key: Key, open: Callable[[], T],
                 close: Callable[[T], None], limits: Limits | None) -> T:
        found = scope.held.get((self, key))
        if found is not None:
            value: T = found.value
            return value
        conn = self._acquire(key, open, close, limits)
        kept = scope.held.setdefault((self, key), conn)  # two coroutines of one unit
        if kept is not conn:
            self._release(conn, broken=False)
        kept_value: T = kept.value
        return kept_value

    @staticmethod
    @contextlib.contextmanager
    def scope() -> Iterator[None]:
        """A unit of work: every connection `held` in it is returned at its end. Inside
        another scope it is that one (a step within a row holds what the row holds)."""
        if _SCOPE.get() is not None:
            yield
            return
        scope = _Scope()
        token = _SCOPE.set(scope)
        try:
            yield
        finally:
            _SCOPE.reset(token)
            for (registry, _), conn in scope.held.items():
                registry._release(conn, broken=False)

    def _acquire(self, key: Key, open: Callable[[], Any], close: Callable[[Any], None],
                 limits: Limits | None) -> _Conn:
        backend, target = key
        if limits is not None:
            self.configure(backend, limits)
        lim = self.limits(backend)
        deadline = None if lim.wait_timeout is None else time.monotonic() + lim.wait_timeout
        evicted: _Conn | None = None
        with self._cond:
            while True:
                if self._stopped:
                    raise Interrupted(f"{backend} {target}: {self._stopped}")
                conn = self._free(key, lim)
                if conn is not None:
                    conn.uses += 1
                    return conn
                if _room(self._per_target[key], lim.per_target):
                    if not _room(self._per_backend[backend], lim.per_backend):
                        evicted = self._idle_elsewhere(key)
                        if evicted is not None:
                            self._forget(evicted)
                    if _room(self._per_backend[backend], lim.per_backend):
                        self._per_target[key] += 1
                        self._per_backend[backend] += 1
                        break
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise ConnectionFailed(
                        f"{backend} {target}: no free connection within "
                        f"{lim.wait_timeout:g} s", hint="every connection the limits allow "
                        "is in use and none came back; is one of them hanging?")
                self._cond.wait(left)
        if evicted is not None:  # made room for this one: closed outside the lock
            _close_quietly(evicted)
        try:
            value = _open_within(open, close, lim.open_timeout, f"{backend} {target}")
        except BaseException:
            with self._cond:
                self._free_slot(key)
            raise
        conn = _Conn(key, value, close, uses=1)
        with self._cond:
            if not self._stopped:
                self._conns.setdefault(key, []).append(conn)
                return conn
            self._free_slot(key)
        _close_quietly(conn)
        raise Interrupted(f"{backend} {target}: {self._stopped}")

    def _free(self, key: Key, lim: Limits) -> _Conn | None:
        """An open connection with room for one more use, the busiest first (so that
        shared ones fill up before another is opened)."""
        usable = [c for c in self._conns.get(key, ()) if c.uses < lim.shared and not c.broken]
        return max(usable, key=lambda c: (c.uses, c.returned), default=None)

    def _idle_elsewhere(self, key: Key) -> _Conn | None:
        """The idle connection of the same kind, to another target, returned longest ago."""
        idle = [c for k, conns in self._conns.items() if k[0] == key[0] and k != key
                for c in conns if c.uses == 0]
        return min(idle, key=lambda c: c.returned, default=None)

    def _release(self, conn: _Conn, *, broken: bool) -> None:
        with self._cond:
            conn.uses -= 1
            conn.returned = time.monotonic()
            conn.broken = conn.broken or broken
            drop = (conn.broken or self._stopped is not None) and conn.uses == 0 \
                and not conn.gone
            if drop:
                self._forget(conn)
            self._cond.notify_all()
        if drop:
            _close_quietly(conn)

    def _forget(self, conn: _Conn) -> None:
        """Take `conn` out (under the lock); the caller closes it."""
        self._conns[conn.key].remove(conn)
        conn.gone = True
        self._free_slot(conn.key)

    def _free_slot(self, key: Key) -> None:
        self._per_target[key] -= 1
        self._per_backend[key[0]] -= 1
        self._cond.notify_all()

    # -- ending -------------------------------------------------------------------------
    def values(self) -> list[Any]:
        """Every open connection, idle or in use (what a serve worker hands its next run)."""
        with self._cond:
            return [c.value for conns in self._conns.values() for c in conns]

    def cancel(self, why: str = "the run was interrupted") -> None:
        """Ctrl-C: hand out nothing more (waiting leases raise Interrupted) and close the
        idle connections now; those in use are closed as they come back."""
        self._stop(why, in_use=False)

    def close(self) -> None:
        """End of the run: close every connection, in use or not."""
        with self._own_lock:
            self._own.held.clear()
        self._stop("the run's connections are closed", in_use=True)

    def _stop(self, why: str, *, in_use: bool) -> None:
        with self._cond:
            self._stopped = self._stopped or why
            ending = [c for conns in self._conns.values() for c in conns
                      if in_use or c.uses == 0]
            for conn in ending:
                self._forget(conn)
        for conn in ending:
            _close_quietly(conn)

    def open_count(self, backend: str | None = None) -> int:
        """Connections open (or opening) now, of one kind or all."""
        with self._cond:
            if backend is None:
                return sum(self._per_backend.values())
            return self._per_backend[backend]


def _room(count: int, limit: int | None) -> bool:
    return limit is None or count < limit


def _close_quietly(conn: _Conn) -> None:
    with contextlib.suppress(Exception):  # closing must not mask the run's outcome
        conn.close(conn.value)


def _open_within(open: Callable[[], T], close: Callable[[T], None], seconds: float | None,
                 what: str) -> T:
    """`open()`, given up after `seconds`: it goes on in its thread, and a connection it
    makes too late is closed as soon as it is there."""
    if seconds is None:
        return open()
    made: Future[T] = Future()
    lock = threading.Lock()
    abandoned = False

    def opening() -> None:
        try:
            value = open()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
            made.set_exception(exc)
            return
        with lock:
            late = abandoned
            if not late:
                made.set_result(value)
        if late:
            with contextlib.suppress(Exception):
                close(value)

    threading.Thread(target=opening, name=f"adminkit-open {what}", daemon=True).start()
    interrupted = True
    try:
        wait([made], timeout=seconds)
        interrupted = False
    finally:  # from now on, a connection it makes is closed as it arrives
        with lock:
            abandoned = not made.done()
        if interrupted and not abandoned and made.exception() is None:
            with contextlib.suppress(Exception):  # made just as Ctrl-C came
                close(made.result())
    if abandoned:
        raise ConnectionFailed(f"{what}: not connected within {seconds:g} s",
                               hint="is the target up and reachable?")
    return made.result()
