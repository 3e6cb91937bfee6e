"""`adminkit run --resume RUN` runs the journaled request again under the same run id,
rebuilt from the run row's record (never from argv)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from adminkit.journal.store import Filters, Journal


def adminkit(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ADMINKIT_CONFIG": str(tmp / "config"),
           "ADMINKIT_JOURNAL": str(tmp / "journal.db"), "ADMINKIT_OPERATOR": "tester"}
    env.pop("ADMINKIT_PROFILE", None)
    return subprocess.run([sys.executable, "-m", "adminkit.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def profile_without_directory(tmp_path: Path) -> Path:
    folder = tmp_path / "config" / "profiles"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "acme.yaml").write_text("description: no directory yet\n")
    return tmp_path


def test_resume_reruns_the_recorded_command_under_the_same_id(
        profile_without_directory: Path) -> None:
    tmp = profile_without_directory
    first = adminkit(tmp, "--profile", "acme", "account", "create", "--given-name", "Jan",
                     "--surname", "Novák", "--deliver", f"file:{tmp}")
    assert first.returncode == 2, first.stderr  # the profile names no directory
    journal = Journal(tmp / "journal.db")
    [run] = journal.entries(Filters(kinds=("run",)))
    record = run["detail"]["request"]
    assert "argv" not in run["detail"]
    assert record["actions"] == [{"uses": "account.create", "deliver": f"file:{tmp}",
                                  "with": {"given_name": "Jan", "surname": "Novák"}}]

    again = adminkit(tmp, "run", "--resume", run["run_id"])
    assert again.returncode == 2
    assert "names no directory" in again.stdout
    rows = journal.entries(Filters(kinds=("run",)))
    assert [r["run_id"] for r in rows] == [run["run_id"], run["run_id"]]
    assert rows[1]["detail"]["resumed"] is True
    assert journal.verify().ok


def test_resume_of_an_unknown_run_is_a_usage_error(tmp_path: Path) -> None:
    r = adminkit(tmp_path, "run", "--resume", "R-20000101-000000-000000")
    assert r.returncode == 2
    assert "no run R-20000101-000000-000000" in r.stderr
    assert "Traceback" not in r.stderr
