"""Unit-test isolation: every test gets its own config folder, journal and state folder.

Nothing here touches the user's real config or journal, starts a server or uses the network.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
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
