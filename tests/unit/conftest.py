"""Unit-test isolation: every test gets its own config folder, journal and state folder.

Nothing here touches the user's real config or journal, starts a server or uses the network.
"""

from __future__ import annotations

import os
import pwd
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# Variables adminkit reads; a test must never inherit them from the shell that runs pytest.
_CLEARED = ("ADMINKIT_PROFILE", "ADMINKIT_DEBUG", "ADMINKIT_RESUME_RUN", "ADMINKIT_LAB_DIR",
            "ADMINKIT_OPERATOR", "SUDO_USER", "XDG_CONFIG_HOME", "ADMINKIT_JOURNAL_KEY")


@dataclass
class Env:
    config: Path  # ADMINKIT_CONFIG (holds profiles/)
    profiles: Path
    journal: Path  # ADMINKIT_JOURNAL
    state: Path  # XDG_STATE_HOME


@pytest.fixture(autouse=True)
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    config = tmp_path / "config"
    profiles = config / "profiles"
    profiles.mkdir(parents=True)
    state = tmp_path / "state"
    state.mkdir()
    journal = tmp_path / "journal" / "journal.db"
    for name in _CLEARED:
        # setenv first so that monkeypatch remembers (and restores) the original state,
        # even when code under test sets the variable again (run --resume does).
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setenv("ADMINKIT_CONFIG", str(config))
    monkeypatch.setenv("ADMINKIT_JOURNAL", str(journal))
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    monkeypatch.setenv("ADMINKIT_OPERATOR", "tester")
    monkeypatch.setenv("ADMINKIT_SYSLOG", "off")  # journal anchors: never the machine's syslog
    monkeypatch.setenv("COLUMNS", "250")  # rich: no wrapping of long paths in assertions
    return Env(config=config, profiles=profiles, journal=journal, state=state)


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run `adminkit ARGS` in-process through the real entry point (`main()`).

    `main()` is what turns AdminkitErrors into `error: ...` and exit codes, so this
    exercises the same path as the installed command, without a subprocess.
    """
    from adminkit.cli.main import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()  # drop anything printed before
        monkeypatch.setattr(sys, "argv", ["adminkit", *args])
        code: int | str | None = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code
        captured = capsys.readouterr()
        if code is None:
            code = 0
        assert isinstance(code, int), f"exit with a non-int {code!r}"
        return CliResult(code, captured.out, captured.err)

    return run


def _useradd(name: str) -> pwd.struct_passwd:
    """An ordinary login (uid from UID_MIN up), no home, no group of its own, no shell.
    /etc/passwd is locked while another useradd writes it (another test worker, another
    process on the machine): tried again then."""
    argv = ["useradd", "--no-create-home", "--no-user-group", "--shell", "/usr/sbin/nologin",
            "--comment", "adminkit test login, removed after its test", name]
    for _ in range(50):
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode == 0:
            return pwd.getpwnam(name)
        if "lock" not in done.stderr:
            break
        time.sleep(0.1)
    raise AssertionError(f"useradd {name}: {done.stderr.strip()}")


def _userdel(name: str) -> None:
    for _ in range(300):  # as useradd: /etc/passwd may be locked a while by another
        done = subprocess.run(["userdel", "--remove", name], capture_output=True, text=True,
                              check=False)
        if done.returncode in (0, 6, 12):  # gone; 6: no such user; 12: no home to remove
            return
        time.sleep(0.1)
    raise AssertionError(f"userdel {name}: {done.stderr.strip()}")


@pytest.fixture
def two_logins() -> Iterator[tuple[pwd.struct_passwd, pwd.struct_passwd]]:
    """Two ordinary logins that exist for one test only: made with useradd and removed
    with userdel however the test ends, so no machine (CI's included) keeps them. They
    need root; without it the test is skipped."""
    if os.geteuid() != 0:
        pytest.skip("makes two throwaway logins (useradd): needs root")
    made: list[str] = []
    try:
        users = []
        for _ in range(2):
            name = f"akt{secrets.token_hex(4)}"  # 11 characters: any useradd takes it
            made.append(name)
            users.append(_useradd(name))
        yield users[0], users[1]
    finally:
        for name in made:
            _userdel(name)
        left = {u.pw_name for u in pwd.getpwall()} & set(made)
        assert not left, f"throwaway logins left behind: {left}"
