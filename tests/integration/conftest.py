"""Session-scoped lab servers for the integration tests.

A server that is already running (the README's demo left it up) is reused and left
running; a server this session started is stopped at the end, by PID.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from adminkit.lab.base import LabServer
from adminkit.lab.cups import CupsServer
from adminkit.lab.lab import Lab
from tests.integration.owncups import fresh, private_cups

__all__ = ["fresh", "private_cups"]  # the tests' private cupsd, for every module here

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session", autouse=True)
def journal_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The journals these tests write are keyed with a key of their own, never with (or
    into) the key in the operator's state folder, and anchor nothing in its syslog."""
    key = tmp_path_factory.mktemp("key") / "journal.key"
    saved = {name: os.environ.get(name) for name in ("ADMINKIT_JOURNAL_KEY", "ADMINKIT_SYSLOG")}
    os.environ["ADMINKIT_JOURNAL_KEY"] = f"file:{key}"
    os.environ["ADMINKIT_SYSLOG"] = "off"  # the runs' anchors: not into the machine's syslog
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def lab_config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Profiles written by the test lab go here, never into the user's config."""
    return tmp_path_factory.mktemp("config")


@pytest.fixture(scope="session")
def lab(lab_config_dir: Path) -> Lab:
    return Lab(config_dir=lab_config_dir)


@pytest.fixture(scope="session")
def lab_up(lab: Lab) -> Iterator[Callable[[str], LabServer]]:
    started: list[str] = []

    def up(name: str) -> LabServer:
        server = lab.server(name)
        if not server.is_running():
            started.append(name)  # before up(): a half-started server is stopped too
        lab.up([name])
        return server

    yield up
    lab.down(started)


@pytest.fixture(scope="session")
def samba(lab_up: Callable[[str], LabServer]) -> LabServer:
    return lab_up("samba")


@pytest.fixture(scope="session")
def slapd(lab_up: Callable[[str], LabServer]) -> LabServer:
    return lab_up("slapd")


@pytest.fixture(scope="session")
def cups_server(lab_up: Callable[[str], LabServer]) -> LabServer:
    return lab_up("cups")


@pytest.fixture
def cups_clean(cups_server: LabServer) -> Iterator[CupsServer]:
    """The lab's CUPS as it was seeded (its queues, no jobs), before and after the test."""
    assert isinstance(cups_server, CupsServer)
    cups_server.reset()
    yield cups_server
    cups_server.reset()


@pytest.fixture(scope="session")
def ssh_fleet(lab_up: Callable[[str], LabServer]) -> LabServer:
    return lab_up("ssh")


@pytest.fixture(scope="session")
def rt(lab_up: Callable[[str], LabServer]) -> LabServer:
    return lab_up("rt")


@pytest.fixture(scope="session")
def smtp_sink(lab_up: Callable[[str], LabServer]) -> LabServer:
    return lab_up("smtp")


@pytest.fixture(scope="session")
def redmine(lab_up: Callable[[str], LabServer]) -> LabServer:
    return lab_up("redmine")


@pytest.fixture(scope="session")
def winrm_lab(lab_up: Callable[[str], LabServer]) -> LabServer:
    return lab_up("winrm")


@pytest.fixture
def cli(lab_config_dir: Path, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real `adminkit` command against the lab's profiles and a fresh journal."""
    journal = tmp_path / "journal.db"
    env = {"ADMINKIT_CONFIG": str(lab_config_dir), "ADMINKIT_JOURNAL": str(journal),
           "ADMINKIT_OPERATOR": "pytest", "ADMINKIT_TICKETS": str(tmp_path / "tickets.db")}
    argv = [sys.executable, "-m", "adminkit.cli.main"]

    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*argv, *args], input=input, capture_output=True, text=True,
                              env={**os.environ, **env}, timeout=120, check=False)

    # for a test that starts the command itself (to kill it): the same command and settings
    run.argv, run.env = argv, env  # type: ignore[attr-defined]
    run.journal = journal  # type: ignore[attr-defined]
    return run
