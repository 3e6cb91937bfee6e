"""A serve worker's connections, kept from one of its runs to the next.

A run opens its connections (a directory: TCP, TLS, bind; the policy read once) and
closes them at its end. A CLI process runs once, but a worker of `serve` runs one
small playbook after another against the same directory: across a VPN, a new LDAPS
connection is three or four round trips before the first search. The worker keeps
its last run's connections and event loop and hands them to its next run, so only the
first run pays for them. Nothing else is kept: what a run cached for itself
(`Context.resource`: groups read, protections checked) is closed with it, and the next
run reads the systems afresh.

What is kept is bounded: one worker's own connections (a worker never shares them),
only of backends that can forget what they cached (`forget_cached()`, called before
each run: a directory's policies and protected groups are read afresh, as in a run of
its own; any other connection closes the lot), for at most `max_age` seconds since
they were first opened (a rotated password is used that soon); never after a run
that was interrupted or raised, and never across profiles. A broken connection is
dropped by the registry as it always is, and one the server closed between two runs
(`connected()` False) ends the lot, so the next run opens everything afresh. A
connection lost in the middle of a run is opened again by its transport, which reads
the bind password from the secret store again (`core.secrets.current`): a rotated
password is used at once, never the one the kept object was opened with.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from adminkit.core.bridge import AsyncBridge
from adminkit.core.config import Profile
from adminkit.core.context import Context
from adminkit.core.run import Run
from adminkit.core.targets import Targets

MAX_AGE = 60.0  # seconds a worker's connections serve its runs


class Warm:
    """One worker's context between its runs. Not thread-safe: one per worker."""

    def __init__(self, max_age: float = MAX_AGE) -> None:
        self.max_age = max_age
        self._kept: Context | None = None
        self._since = 0.0  # when the kept context's first run began

    def context(self, run: Run, profile: Profile | None) -> Context:
        """`run`'s context: the kept one's connections if they are young enough and of
        this profile, else a fresh one."""
        kept, self._kept = self._kept, None
        if kept is not None and (kept.profile is not profile
                                 or time.monotonic() - self._since > self.max_age
                                 or not _forgot(kept)):
            kept.close()
            kept = None
        if kept is None:
            self._since = time.monotonic()
            return Context(run=run, profile=profile)
        return kept.handover(run)

    def keep(self, ctx: Context) -> None:
        """The run ended well: its connections wait for the next run (an interrupted
        context is closed instead)."""
        if ctx.targets.cancelled:
            ctx.close()
            return
        self.close()
        self._kept = Context(run=ctx.run, profile=ctx.profile, targets=ctx.targets,
                             bridge=ctx.bridge)
        ctx.targets, ctx.bridge = Targets(), AsyncBridge()
        ctx.close()  # the run's own caches and resources end with it

    def expire(self) -> None:
        """While the worker idles: close what is past its age (a directory need not keep
        a connection open for a worker that has nothing to do)."""
        if self._kept is not None and time.monotonic() - self._since > self.max_age:
            self.close()

    def close(self) -> None:
        kept, self._kept = self._kept, None
        if kept is not None:
            kept.close()


def _forgot(ctx: Context) -> bool:
    """Every kept connection forgot what it cached; False if one cannot."""
    forgets: list[Callable[[], None]] = []
    for value in ctx.targets.values():
        forget = getattr(value, "forget_cached", None)
        if not callable(forget):
            return False
        connected = getattr(value, "connected", None)
        if callable(connected) and not connected():  # lost: opened anew, its secret too
            return False
        forgets.append(forget)
    for forget in forgets:
        forget()
    return True
