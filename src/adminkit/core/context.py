"""What an action sees while it runs: the run, the profile and shared connections.

Connections to targets come from the run's registry (`targets`, see core/targets.py),
coroutines of async actions run on the run's one event loop (`bridge`); both are handed
to the next run by `handover` and closed by `close`, on every path.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from adminkit.core.bridge import AsyncBridge
from adminkit.core.config import Profile
from adminkit.core.errors import UsageError
from adminkit.core.run import Run
from adminkit.core.targets import Limits, Targets

T = TypeVar("T")


@dataclass
class Context:
    run: Run
    profile: Profile | None = None
    targets: Targets = field(default_factory=Targets)
    bridge: AsyncBridge = field(default_factory=AsyncBridge)
    _resources: dict[str, Any] = field(default_factory=dict)
    _closers: list[Callable[[], None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _making: dict[str, threading.Lock] = field(default_factory=dict)

    @property
    def check(self) -> bool:
        return self.run.check

    def require_profile(self) -> Profile:
        if self.profile is None:
            raise UsageError("this command needs a profile",
                             hint="pass --profile NAME (see `adminkit profile list`)")
        return self.profile

    def resource(self, key: str, factory: Callable[[], T],
                 close: Callable[[T], None] | None = None) -> T:
        """One shared instance per key for the run (a bound directory connection, say).

        Made outside the context's lock: workers opening their own connections do not
        wait for each other, only for another worker making the same key.
        """
        with self._lock:
            if key in self._resources:
                found: T = self._resources[key]
                return found
            making = self._making.setdefault(key, threading.Lock())
        with making:
            with self._lock:
                if key in self._resources:
                    made: T = self._resources[key]
                    return made
            value = factory()
            with self._lock:
                self._resources[key] = value
                if close is not None:
                    self._closers.append(lambda: close(value))
                self._making.pop(key, None)
            return value

    def connection(self, backend: str, target: str, open: Callable[[], T],
                   close: Callable[[T], None], *, limits: Limits | None = None) -> T:
        """The connection to (`backend`, `target`) that this unit of work holds: leased
        from the run's registry at the first call, returned when the unit ends."""
        return self.targets.held(backend, target, open, close, limits=limits)

    async def connection_async(self, backend: str, target: str, open: Callable[[], T],
                               close: Callable[[T], None], *,
                               limits: Limits | None = None) -> T:
        """`connection` from a coroutine on the bridge: a wait for a free connection (and
        the opening) happen off the loop, so the other coroutines go on meanwhile."""
        import asyncio

        held: T | None = self.targets.holding(backend, target)
        if held is not None:  # the unit has it: no thread (they may all be busy waiting)
            return held
        return await asyncio.to_thread(self.connection, backend, target, open, close,
                                       limits=limits)

    def interrupt(self) -> None:
        """Ctrl-C: no new connections, idle ones closed, running coroutines cancelled."""
        self.targets.cancel()
        self.bridge.cancel()

    def handover(self, run: Run) -> Context:
        """A context for `run` that takes over this one's open connections, event loop and
        resources (a bulk run's connections, bound while every row was planned, serve
        the writes too)."""
        with self._lock:
            taken = Context(run=run, profile=self.profile, targets=self.targets,
                            bridge=self.bridge, _resources=dict(self._resources),
                            _closers=list(self._closers))
            self.targets, self.bridge = Targets(), AsyncBridge()
            self._resources.clear()
            self._closers.clear()
        return taken

    def close(self) -> None:
        """Connections first (a closer may still need the loop), then resources, then the
        loop."""
        try:
            self.targets.close()
            while self._closers:
                closer = self._closers.pop()
                with contextlib.suppress(Exception):  # closing must not mask the outcome
                    closer()
            self._resources.clear()
        finally:
            self.bridge.close()
