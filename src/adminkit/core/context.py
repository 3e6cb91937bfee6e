"""What an action sees while it runs: the run, the profile and shared connections."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from adminkit.core.config import Profile
from adminkit.core.errors import UsageError
from adminkit.core.run import Run

T = TypeVar("T")


@dataclass
class Context:
    run: Run
    profile: Profile | None = None
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

    def handover(self, run: Run) -> Context:
        """A context for `run` that takes over this one's open resources (a bulk run's
        connections, bound while every row was planned, serve the writes too)."""
        with self._lock:
            taken = Context(run=run, profile=self.profile, _resources=dict(self._resources),
                            _closers=list(self._closers))
            self._resources.clear()
            self._closers.clear()
        return taken

    def close(self) -> None:
        while self._closers:
            closer = self._closers.pop()
            with contextlib.suppress(Exception):  # closing must not mask the run's outcome
                closer()
        self._resources.clear()
