"""Text from outside (a ticket, the journal, a playbook) reaches a terminal with its
control characters shown, not obeyed: `ESC]52;…` would write the operator's clipboard,
`ESC[2J` clear the screen, a bidi override reorder what is read. Through a real
pseudo-terminal, as an operator would see it; JSON stays exact."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

HOSTILE = "Printer \x1b]52;c;cm0gLXJmIH4=\x07 jammed \x1b[2J\u202eevil\u202c \x9b31m"


def in_a_terminal(tmp_path: Path, *args: str) -> bytes:
    env = {**os.environ, "ADMINKIT_CONFIG": str(tmp_path / "config"),
           "ADMINKIT_JOURNAL": str(tmp_path / "journal.db"),
           "ADMINKIT_TICKETS": str(tmp_path / "tickets.db"), "COLUMNS": "200",
           "TERM": "xterm-256color"}
    code, out = through_a_pty(env, *args)
    assert code == 0, out
    return out


def through_a_pty(env: dict[str, str], *args: str) -> tuple[int, bytes]:
    """`adminkit ARGS` with a pseudo-terminal as stdin, stdout and stderr: its exit code
    and every byte the terminal received."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "adminkit.cli.main", *args], env=env,
                              stdin=follower, stdout=follower, stderr=follower, timeout=60,
                              check=False)
        os.close(follower)
        follower = -1
        out = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    return proc.returncode, out


def plain(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ADMINKIT_CONFIG": str(tmp_path / "config"),
           "ADMINKIT_JOURNAL": str(tmp_path / "journal.db"),
           "ADMINKIT_TICKETS": str(tmp_path / "tickets.db")}
    return subprocess.run([sys.executable, "-m", "adminkit.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=60, check=True)


def assert_shown_not_obeyed(out: bytes) -> None:
    for obeyed in (b"\x1b]52", b"\x07", b"\x1b[2J", "\u202e".encode(), "\x9b".encode()):
        assert obeyed not in out, (obeyed, out)
    text = out.decode()
    assert "\\x1b]52;c;cm0gLXJmIH4=\\x07" in text
    assert "\\x1b[2J" in text and "\\u202e" in text and "\\x9b" in text


def test_a_ticket_subject_in_a_listing_and_a_show(tmp_path: Path) -> None:
    number = plain(tmp_path, "ticket", "new", HOSTILE).stdout.strip()
    assert_shown_not_obeyed(in_a_terminal(tmp_path, "ticket", "list"))
    assert_shown_not_obeyed(in_a_terminal(tmp_path, "ticket", "show", f"local:{number}"))


def test_json_keeps_the_text_exact(tmp_path: Path) -> None:
    plain(tmp_path, "ticket", "new", HOSTILE)
    [row] = json.loads(plain(tmp_path, "ticket", "list", "-o", "json").stdout)
    assert row["subject"] == HOSTILE
