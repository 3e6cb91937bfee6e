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
