"""A cupsd of a test module's own (an extra lab instance on 127.0.3.N), for tests that
stop, fill or sit in front of a print server, so that no other test's server is touched."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

from adminkit.lab.cups import CupsServer

S = TypeVar("S", bound=CupsServer)


def running(server: S) -> Iterator[S]:
    """Set up, start and wait for `server`; stop it by its PID afterwards."""
    with server.running():
        yield server
