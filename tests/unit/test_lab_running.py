"""LabServer.running(): a server of a test's or a bench's own is stopped by its PIDs
when the block ends, also when it never became ready or the block failed."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from adminkit.core.errors import LabError
from adminkit.lab import process
from adminkit.lab.base import LabServer
from adminkit.lab.process import Proc


class Sleeper(LabServer):
    """A process that runs until stopped; ready unless told otherwise."""

    name: ClassVar[str] = "sleeper"
    ready_timeout: ClassVar[float] = 0.3

    def __init__(self, lab_dir: Path, *, ready: bool = True) -> None:
        super().__init__(lab_dir)
        self.ready = ready
        self.set_up = 0
        self.started: list[Proc] = []

    def is_set_up(self) -> bool:
        return self.set_up > 0

    def setup(self) -> None:
        self.set_up += 1

    def start(self) -> None:
        proc, _ = process.spawn(["sleep", "300"], self.log_file)
        self.started.append(proc)
        self.record([proc])

    def probe(self) -> None:
        if not self.ready:
            raise LabError("sleeper: not ready")

    def reset(self) -> None:
        self.stop()

    def profile(self) -> dict[str, Any]:
        return {}


def test_the_block_gets_a_started_server_and_its_end_stops_it(tmp_path: Path) -> None:
    server = Sleeper(tmp_path)
    with server.running() as same:
        assert same is server and server.set_up == 1 and server.is_running()
    assert not process.alive(server.started[0]) and server.procs.load("sleeper") == []


def _fail_inside(server: Sleeper) -> None:
    with server.running():
        raise RuntimeError("the test failed")


def test_a_failing_block_stops_it_too(tmp_path: Path) -> None:
    server = Sleeper(tmp_path)
    with pytest.raises(RuntimeError, match="the test failed"):
        _fail_inside(server)
    assert len(server.started) == 1 and not process.alive(server.started[0])


def test_a_server_that_never_gets_ready_is_stopped(tmp_path: Path) -> None:
    server = Sleeper(tmp_path, ready=False)
    with pytest.raises(LabError, match="not ready"), server.running():
        pytest.fail("the block must not run")
    assert len(server.started) == 1 and not process.alive(server.started[0])
    assert server.procs.load("sleeper") == []
