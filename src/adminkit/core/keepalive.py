"""TCP keepalive for connections kept open between requests (a serve worker's directory
connections, a ticket system's pool).

A firewall or NAT that forgets an idle connection drops it silently: no FIN, no RST, so
the next request on it waits out its whole timeout before anyone learns the connection
is gone. With keepalive the kernel probes an idle connection after `IDLE` seconds, every
`INTERVAL` seconds, and gives up after `COUNT` unanswered probes: a dead connection is
noticed within `IDLE + INTERVAL * COUNT` seconds of silence (35 s), less than a kept
connection's age (`automation.warm.MAX_AGE`, 60 s) and well under the idle timeouts of
common firewalls (minutes to an hour).
"""

from __future__ import annotations

import contextlib
import socket

IDLE, INTERVAL, COUNT = 20, 5, 3


def options() -> list[tuple[int, int, int]]:
    """(level, option, value) for `setsockopt`, as httpcore's `socket_options` takes
    them: the per-connection timings where the platform has them (Linux; macOS lacks
    TCP_KEEPIDLE and keeps its system-wide ones)."""
    found = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    for name, value in (("TCP_KEEPIDLE", IDLE), ("TCP_KEEPINTVL", INTERVAL),
                        ("TCP_KEEPCNT", COUNT)):
        if hasattr(socket, name):
            found.append((socket.IPPROTO_TCP, getattr(socket, name), value))
    return found


def apply(sock: socket.socket | None) -> None:
    """Keepalive on an open socket; a socket that refuses an option keeps going without."""
    if sock is None:
        return
    for level, option, value in options():
        with contextlib.suppress(OSError):
            sock.setsockopt(level, option, value)
