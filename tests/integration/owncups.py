"""A cupsd of the tests' own (an extra lab instance on 127.0.3.N), for tests that stop,
fill or sit in front of a print server, so that no lab server another test uses is touched.

`private_cups` is one such cupsd for the whole session (set up, seeded and started once),
and `fresh` hands it to a test as seeded: its two queues, no job, no history, running.
The integration conftest makes both fixtures visible to every module there.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from adminkit.lab.cups import CupsServer, extra_instance

S = TypeVar("S", bound=CupsServer)
PRIVATE = 231  # 127.0.3.231: no other lab server's address


def running(server: S) -> Iterator[S]:
    """Set up, start and wait for `server`; stop it by its PID afterwards."""
    with server.running():
        yield server


@pytest.fixture(scope="session")
def private_cups(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CupsServer]:
    """The session's private cupsd on 127.0.3.PRIVATE; stopped by its PID at the end."""
    yield from running(extra_instance(tmp_path_factory.mktemp("private-cups"), PRIVATE))


@pytest.fixture
def fresh(private_cups: CupsServer) -> CupsServer:
    """The private cupsd as seeded, for one test."""
    return seeded(private_cups)


def seeded(server: S) -> S:
    """`server` as seeded, whatever a test before did to it (stopped it, SIGSTOPped it,
    filled or moved its jobs, added queues): its state restored, cupsd running."""
    server.reset()  # kills cupsd and its filters (SIGKILL ends a stopped one too)
    if not server.is_running():
        server.start()
        server.wait_ready()
    return server


def held_jobs(server: CupsServer, folder: Path, queue: str, n: int) -> list[int]:
    """`n` one-page jobs on `queue`, held so that they stay listable; their ids."""
    doc = folder / "doc.txt"
    doc.write_text("page\n")
    conn = server.connection()
    return [conn.printFile(queue, str(doc), f"doc {i}", {"job-hold-until": "indefinite"})
            for i in range(n)]
