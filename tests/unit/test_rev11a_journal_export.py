"""`journal export` where the writing fails: no half file passes for an export (rev11a)."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from adminkit.journal.store import Journal

LIMIT = 200_000  # bytes a file may grow to in the child (RLIMIT_FSIZE): a full disk


def _journal(path: Path, rows: int = 2000) -> None:
    journal = Journal(path)
    try:
        journal.append_many([(None, {
            "kind": "action", "run_id": "R-1", "idx": i, "operator": "tester",
            "mode": "apply", "action": "x.y", "target": f"user{i}", "status": "changed",
            "summary": f"did something to user{i}"}) for i in range(rows)])
    finally:
        journal.close()


def _full_disk() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


def _export(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "adminkit.cli.main", "journal", "export",
                           *args], env={**os.environ, "ADMINKIT_WARM": "0"}, text=True,
                          timeout=60, check=False, **kwargs)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_an_export_that_fills_the_disk_leaves_no_half_file(env: Any, tmp_path: Path,
                                                           fmt: str) -> None:
    _journal(env.journal)
    out = tmp_path / f"export.{fmt}"
    out.write_text("an older export\n")
    res = _export("-f", fmt, "--out", str(out), preexec_fn=_full_disk, capture_output=True)
    assert res.returncode == 1, res.stderr
    assert f"error: cannot write {out}: File too large; the file was left empty" in res.stderr
    assert "internal error" not in res.stderr and "Traceback" not in res.stderr
    assert out.stat().st_size == 0  # not 200,000 bytes that read as a shorter journal


def test_an_export_to_a_full_standard_output_says_so(env: Any) -> None:
    _journal(env.journal, rows=50)
    with open("/dev/full", "w") as full:
        res = _export(stdout=full, stderr=subprocess.PIPE)
    assert res.returncode == 1
    assert "error: cannot write the export to standard output: No space left on device" \
        in res.stderr
    assert "internal error" not in res.stderr and "Traceback" not in res.stderr


def test_an_export_that_fits_is_whole(env: Any, tmp_path: Path) -> None:
    _journal(env.journal, rows=50)
    out = tmp_path / "export.jsonl"
    res = _export("--out", str(out), preexec_fn=_full_disk, capture_output=True)
    assert res.returncode == 0, res.stderr
    assert len(out.read_text().splitlines()) == 50


root_only = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")


@root_only
def test_an_export_onto_a_file_another_user_owns_is_refused(env: Any, cli: Any,
                                                            tmp_path: Path) -> None:
    """/tmp/export.jsonl planted by another user (mode 0666, or an fd kept open): the
    export would be theirs to read; fchmod to 0600 keeps them its owner."""
    _journal(env.journal, rows=5)
    planted = tmp_path / "export.jsonl"
    planted.write_text("")
    os.chown(planted, 54321, 54321)
    planted.chmod(0o666)
    res = cli("journal", "export", "--out", str(planted))
    assert res.code == 2, res.err
    assert "belongs to another user (uid 54321)" in res.err
    assert planted.read_text() == ""
    assert planted.stat().st_mode & 0o777 == 0o666


def test_an_export_onto_a_hard_link_is_refused(env: Any, cli: Any, tmp_path: Path) -> None:
    _journal(env.journal, rows=5)
    kept = tmp_path / "notes.txt"
    kept.write_text("keep\n")
    link = tmp_path / "export.jsonl"
    os.link(kept, link)
    res = cli("journal", "export", "--out", str(link))
    assert res.code == 2, res.err
    assert "has other names (hard links)" in res.err
    assert kept.read_text() == "keep\n"


HOSTILE = "x\x1b]52;c;cHduZWQ=\x07\x1b[2J\u009b31m\u202eevil"


def _hostile_journal(path: Path) -> None:
    journal = Journal(path)
    try:
        journal.append(kind="action", run_id="R-1", idx=0, operator="tester", mode="apply",
                       action="x.y", target=HOSTILE, status="changed", summary=HOSTILE)
    finally:
        journal.close()


def _on_a_terminal(*args: str) -> bytes:
    import pty

    main, child = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "adminkit.cli.main", "journal",
                                 "export", *args], env={**os.environ, "ADMINKIT_WARM": "0"},
                                stdout=child, stderr=subprocess.PIPE)
        os.close(child)
        out = b""
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        assert proc.wait(timeout=60) == 0
        return out
    finally:
        os.close(main)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_export_to_a_terminal_shows_escapes_instead_of_obeying_them(
        env: Any, fmt: str) -> None:
    """`ESC]52;c;…` writes the operator's clipboard, `ESC[2J` clears the screen, CSI
    (U+009B) is ESC[ to many terminals, U+202E reverses what follows."""
    _hostile_journal(env.journal)
    out = _on_a_terminal("-f", fmt)
    for raw in (b"\x1b", b"\x07", "\u009b".encode(), "\u202e".encode()):
        assert raw not in out, (raw, out)
    assert b"cHduZWQ=" in out  # the value is there, shown


def test_an_export_to_a_file_keeps_csv_values_and_escapes_json_controls(
        env: Any, cli: Any, tmp_path: Path) -> None:
    import csv as csvmod
    import json

    _hostile_journal(env.journal)
    assert cli("journal", "export", "-f", "csv", "--out", str(tmp_path / "e.csv")).code == 0
    with (tmp_path / "e.csv").open(newline="", encoding="utf-8") as f:
        [row] = list(csvmod.DictReader(f))
    assert row["target"] == HOSTILE  # data for a program, as it is
    assert cli("journal", "export", "--out", str(tmp_path / "e.jsonl")).code == 0
    text = (tmp_path / "e.jsonl").read_text(encoding="utf-8")
    assert "\u009b" not in text and "\u202e" not in text
    assert json.loads(text)["target"] == HOSTILE  # the same JSON value
