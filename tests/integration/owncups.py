"""A cupsd of a test module's own (an extra lab instance on 127.0.3.N), for tests that
stop, fill or sit in front of a print server, so that no other test's server is touched."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

from adminkit.lab.cups import CupsServer

S = TypeVar("S", bound=CupsServer)


def running(server: S) -> Iterator[S]:
    """Set up, start and wait for `server`; stop it by its PID afterwards."""
    with server.running():
        yield server


def held_jobs(server: CupsServer, folder: Path, queue: str, n: int) -> list[int]:
    """`n` one-page jobs on `queue`, held so that they stay listable; their ids."""
    doc = folder / "doc.txt"
    doc.write_text("page\n")
    conn = server.connection()
    return [conn.printFile(queue, str(doc), f"doc {i}", {"job-hold-until": "indefinite"})
            for i in range(n)]
