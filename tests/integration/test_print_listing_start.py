"""`job list` against the lab's real CUPS imports only what a listing uses.

The lab's profile has every section (directory, tickets, inventory, print servers);
a listing reads `print_servers` alone, prints CSV without rich and starts no run. The
unit test (tests/unit/test_startup_hotpath.py) stops at a refused connection; this one
lists real jobs, so the output path is covered too.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest

from adminkit.lab.cups import CupsServer
from tests.unit.test_startup import _modules_after
from tests.unit.test_startup_hotpath import NOT_FOR_A_LISTING, found

pytestmark = pytest.mark.integration
cups = pytest.importorskip("cups")


def test_a_job_listing_on_the_lab(cups_clean: CupsServer, lab_config_dir: Path,
                                  tmp_path: Path) -> None:
    doc = tmp_path / "page.txt"
    doc.write_text("page\n" * 10)
    doc.chmod(0o644)
    tmp_path.chmod(0o755)
    conn = cups_clean.connection()
    ids = [conn.printFile("front-desk", str(doc), f"doc {i}", {"job-hold-until": "indefinite"})
           for i in range(3)]
    env = {"ADMINKIT_CONFIG": str(lab_config_dir), "ADMINKIT_JOURNAL": str(tmp_path / "j.db")}
    assert "directory:" in (lab_config_dir / "profiles" / "lab.yaml").read_text()
    proc, modules = _modules_after(tmp_path, "-p", "lab", "-o", "csv", "job", "list", "-s",
                                   "lab-cups", env={**os.environ, **env})
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert sorted(int(r["id"]) for r in rows) == sorted(ids)
    assert {r["state"] for r in rows} == {"held"}
    assert found(modules, NOT_FOR_A_LISTING) == []
