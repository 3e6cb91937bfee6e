"""SIGKILL in the middle of a spooled bulk import (more than 500 rows) on the lab's
OpenLDAP, then `run --resume -o json`: the resumed report holds every row once with the
right counts and exit code; the spool file, read while the run goes, holds no password
it delivered (revspool)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from adminkit.lab.base import LabServer
from tests.childproc import adminkit_child, wait_for_files
from tests.integration.test_interrupt import _on_server

ROWS = 700
PREFIX = "irq"  # test_interrupt's: its reset and search serve here too


def _spool_texts(pid: int) -> list[bytes]:
    """What the process's unnamed temporary files hold now (root may read them)."""
    texts = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            link = os.readlink(fd)
        except OSError:
            continue
        if link.endswith(" (deleted)"):
            try:
                texts.append(Path(fd).read_bytes())
            except OSError:
                continue
    return texts


def test_sigkill_mid_spool_then_resume(slapd: LabServer, lab_config_dir: Path,
                                       tmp_path: Path) -> None:
    slapd.reset()
    csv = tmp_path / "hires.csv"
    csv.write_text("given_name,surname,login\n" + "".join(
        f"Kim,Kill{i:04d},{PREFIX}{i:04d}\n" for i in range(ROWS)), encoding="utf-8")
    passwords = tmp_path / "pw"
    passwords.mkdir()
    env = {**os.environ, "ADMINKIT_CONFIG": str(lab_config_dir),
           "ADMINKIT_JOURNAL": str(tmp_path / "journal.db"), "ADMINKIT_OPERATOR": "pytest"}
    spooled: list[bytes] = []

    def look() -> None:
        nonlocal spooled
        spooled = _spool_texts(proc.pid) or spooled

    with adminkit_child([sys.executable, "-m", "adminkit.cli.main", "--profile",
                         "lab-openldap", "account", "import", str(csv), "--deliver",
                         f"file:{passwords}"], env) as proc:
        wait_for_files(proc, passwords, 200, each=look, pause=0.05)
        look()
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL  # killed, not finished
    try:
        assert spooled and any(b'"status": "changed"' in t for t in spooled), spooled[:1]
        delivered = [p.read_text().strip() for p in passwords.iterdir()
                     if p.name.endswith(".password")]
        assert delivered
        assert not [pw for pw in delivered if any(pw.encode() in t for t in spooled)]
        again = subprocess.run([sys.executable, "-m", "adminkit.cli.main", "-o", "json", "run",
                                "--resume", "last"], env=env, capture_output=True,
                               text=True, timeout=600, check=False)
        assert again.returncode == 0, again.stderr[-2000:]
        report = json.loads(again.stdout)
        assert len(_on_server(lab_config_dir)) == ROWS
        assert report["counts"]["changed"] == ROWS, report["counts"]
        # the killed attempt's journaled rows, and the rest done now (the rows it was
        # writing when killed are found done on the server: "done by the interrupted ...")
        assert 0 < sum("(done earlier)" in r["summary"] for r in report["results"]) < ROWS
        assert len(report["results"]) == ROWS
        assert sum(report["counts"].values()) == ROWS
        assert report["counts"]["failed"] == 0 and report["exit_code"] == 0
        assert len({r["target"] for r in report["results"]}) == ROWS
        delivered = [p.read_text().strip() for p in passwords.iterdir()
                     if p.name.endswith(".password")]
        assert not [pw for pw in delivered if pw in again.stdout]
        assert len(_on_server(lab_config_dir)) == ROWS
    finally:
        slapd.reset()
