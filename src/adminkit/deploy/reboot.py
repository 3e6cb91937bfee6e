"""Restart a host and wait for it to come back: the part every transport shares.

A host counts as rebooted only when it answers again with a boot id other than the one
read before the restart was asked for (Linux: /proc/sys/kernel/random/boot_id; Windows:
the last boot time). A host that never went down (the command was ignored, or only
scheduled for later) keeps its boot id and fails at the deadline, as does one that does
not come back in time: "the connection dropped" alone proves nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from adminkit.core.errors import ActionFailed, AdminkitError, ConnectionFailed, Interrupted

POLL = 0.5  # seconds between attempts to reach a host that is down
DEFAULT_TIMEOUT = 600.0  # seconds a host may take to come back


class HostKeyRefused(ConnectionFailed):
    """The host offers a key known_hosts does not hold for it: never "still booting",
    so a wait for it ends at once (a host re-keyed by its restart is not trusted)."""


@dataclass(frozen=True)
class Rebooted:
    """What a restart left: the boot ids before and after (None: not waited for), how
    long it took, and whether the host was seen unreachable in between."""

    before: str
    after: str | None
    seconds: float
    went_down: bool

    def summary(self) -> str:
        if self.after is None:
            return "restart requested, not waited for"
        return f"back after {self.seconds:.1f} s with a new boot id"


def wait_for_new_boot(host: str, before: str, read: Callable[[float], str], *,
                      timeout: float, cancelled: Callable[[], bool],
                      started: float, poll: float = POLL) -> Rebooted:
    """Call `read(seconds_left)` (reconnect and read the boot id; raises while the host is
    down) until it answers something other than `before`, or `timeout` has passed since
    `started` (ActionFailed). Ctrl-C ends the wait (Interrupted); the host reboots anyway."""
    went_down = False
    last = ""
    while True:
        left = started + timeout - time.monotonic()
        if cancelled():
            raise Interrupted(f"host {host}: restart requested; the wait for it was "
                              "interrupted")
        if left <= 0:
            if not went_down and last == before:
                raise ActionFailed(f"host {host}: did not restart: it still answers with the "
                                   f"boot id it had before, after {timeout:g} s",
                                   hint="is the restart only scheduled, or refused by the "
                                        "host's policy?")
            raise ActionFailed(f"host {host}: did not come back within {timeout:g} s "
                               f"({last or 'no answer'})",
                               hint="look at its console; raise --timeout if it is slow")
        try:
            now = read(left).strip()
        except HostKeyRefused:
            raise
        except AdminkitError as exc:  # down, or half up (sshd not yet, WinRM 503)
            went_down = True
            last = exc.message
        else:
            if not now:  # half up (an unreadable boot id proves nothing)
                went_down, last = True, "an empty boot id"
            elif now != before:
                return Rebooted(before, now, time.monotonic() - started, went_down)
            last = before
        time.sleep(min(poll, max(0.0, started + timeout - time.monotonic())))
