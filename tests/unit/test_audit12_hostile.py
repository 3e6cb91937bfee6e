"""Issue 12, bullets the other hostile-input files left to a plug-in or a ticket only:
the journal's own listing through a pseudo-terminal, and password attributes refused at
profile load. Each drives the real command in a child process (see
tests/README.md, "Hostile input" for the map of the whole suite)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from adminkit.journal.store import Journal
from tests.unit.test_terminal_output import HOSTILE, assert_shown_not_obeyed, through_a_pty


def _env() -> dict[str, str]:
    return {**os.environ, "COLUMNS": "250", "TERM": "xterm-256color"}


def in_a_terminal(*args: str) -> tuple[int, bytes]:
    return through_a_pty(_env(), *args)


def _journal_with_a_hostile_row(path: Path) -> str:
    """A run whose failure text came from outside (a server's diagnostic, say)."""
    run_id = "R-20261207-000000-a12a12"
    journal = Journal(path)
    common = {"run_id": run_id, "operator": "tester", "profile": "acme", "ticket": None,
              "mode": "apply"}
    journal.append(kind="run", summary="account disable jdoe", status="started", **common)
    journal.append(kind="action", idx=0, action="account.disable", target="jdoe",
                   status="failed", summary=HOSTILE, error=HOSTILE, **common)
    journal.close()
    return run_id


@pytest.mark.parametrize("command", [["journal", "list"], ["journal", "show", "{run}"]])
def test_journal_text_reaches_a_terminal_shown_not_obeyed(env, command: list[str]) -> None:
    run_id = _journal_with_a_hostile_row(env.journal)
    code, out = in_a_terminal(*[a.replace("{run}", run_id) for a in command])
    assert code == 0, out
    assert_shown_not_obeyed(out)


def test_journal_json_keeps_the_text_exact_at_a_terminal_and_in_a_pipe(env) -> None:
    run_id = _journal_with_a_hostile_row(env.journal)
    piped = subprocess.run([sys.executable, "-m", "adminkit.cli.main", "journal", "list",
                            "-o", "json"], env=_env(), capture_output=True, text=True,
                           timeout=60, check=True)
    rows = [r for r in json.loads(piped.stdout) if r["kind"] == "action"]
    assert [r["summary"] for r in rows] == [HOSTILE]
    code, out = in_a_terminal("journal", "show", run_id, "-o", "json")
    assert code == 0, out
    assert b"\x1b]52" not in out and b"\x1b[2J" not in out  # escaped by JSON, not raw
    shown = json.loads(out.decode())
    assert [a["summary"] for a in shown["actions"]] == [HOSTILE]
    assert [a["error"] for a in shown["actions"]] == [HOSTILE]


@pytest.mark.parametrize("attribute", ["userPassword", "unicodePwd", "UNICODEPWD",
                                       "userpassword"])
def test_a_password_attribute_cannot_be_made_settable_at_profile_load(
        env, attribute: str) -> None:
    """`account set jdoe userPassword=…` would put the password in argv and the journal:
    the profile naming it is refused when loaded (exit 2), naming file:line:col."""
    profile = env.profiles / "leaky.yaml"
    profile.write_text("description: leaky\naccounts:\n"
                       f"  settable_attributes: [title, {attribute}]\n")
    r = subprocess.run([sys.executable, "-m", "adminkit.cli.main", "profile", "show", "leaky"],
                       env=_env(), capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"{profile}:3:3: accounts.settable_attributes" in r.stderr, r.stderr
    assert "hold(s) a password" in r.stderr and "Traceback" not in r.stderr


def test_playbook_show_at_a_terminal_shows_a_files_escapes_and_a_pipe_gets_it_exact(
        env) -> None:
    """YAML refuses ESC in a value, but a comment carries it: `playbook show` printed the
    file raw, so a shared playbook could write the operator's clipboard."""
    book = env.config / "playbooks" / "evil.yaml"
    book.parent.mkdir()
    body = ("name: evil\n# see \x1b]52;c;cm0gLXJmIH4=\x07 and \x1b[2J\u202eevil\u202c "
            "\x9b31m\nsteps:\n  - uses: account.disable\n    with: {login: jdoe}\n")
    book.write_text(body)
    code, out = in_a_terminal("playbook", "show", "evil")
    assert code == 0, out
    assert_shown_not_obeyed(out)
    piped = subprocess.run([sys.executable, "-m", "adminkit.cli.main", "playbook", "show",
                            "evil"], env=_env(), capture_output=True, timeout=60, check=True)
    assert piped.stdout == body.encode()  # a copy into a file is the file
