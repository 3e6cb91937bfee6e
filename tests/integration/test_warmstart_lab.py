"""The warm start against the lab: commands that talk to CUPS and OpenLDAP say the same
bytes and exit codes warm and cold, and Ctrl-C during a bulk import run warm ends it as
a cold run ends: exit 130, the journal's run marked interrupted.

A warm process of its own (a private runtime folder), started by `adminkit warm start`
and stopped after each test; each warm run is checked to have been served by it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from adminkit.journal.store import Filters, Journal
from adminkit.lab.base import LabServer
from adminkit.lab.cups import CupsServer
from tests.childproc import adminkit_child, exited, wait_for_files

Cli = Callable[..., subprocess.CompletedProcess[str]]


class Warm:
    def __init__(self, cli: Cli, run_dir: Path) -> None:
        self.argv: list[str] = cli.argv  # type: ignore[attr-defined]
        self.env = {**os.environ, **cli.env, "XDG_RUNTIME_DIR": str(run_dir)}  # type: ignore[attr-defined]
        self.env.pop("ADMINKIT_WARM", None)

    def run(self, *args: str, warm: bool = True) -> subprocess.CompletedProcess[str]:
        env = self.env if warm else {**self.env, "ADMINKIT_WARM": "0"}
        return subprocess.run([*self.argv, *args], env=env, capture_output=True, text=True,
                              timeout=300, check=False)

    def status(self) -> dict[str, Any]:
        answer: dict[str, Any] = json.loads(self.run("warm", "status", "-o", "json",
                                                     warm=False).stdout)
        return answer


@pytest.fixture
def warm(cli: Cli, tmp_path: Path) -> Iterator[Warm]:
    run_dir = tmp_path / "run"
    run_dir.mkdir(mode=0o700)
    process = Warm(cli, run_dir)
    assert process.run("warm", "start", "--idle", "10m", warm=False).returncode == 0
    pid = process.status()["pid"]
    yield process
    process.run("warm", "stop", warm=False)
    assert exited(pid)


def _same(warm: Warm, *args: str, seen: Callable[[str], str] = str
          ) -> subprocess.CompletedProcess[str]:
    """Run `args` warm then cold: alike (as `seen` shows stdout), the first served warm."""
    before = warm.status()["served"]
    hot = warm.run(*args)
    assert warm.status()["served"] == before + 1, "the warm process did not run it"
    cold = warm.run(*args, warm=False)
    assert (hot.returncode, seen(hot.stdout), hot.stderr) == (
        cold.returncode, seen(cold.stdout), cold.stderr)
    return hot


def _ageless(csv: str) -> str:
    """The CSV without its last column, the jobs' age (4s warm, 5s a second later)."""
    return "\n".join(line.rsplit(",", 1)[0] for line in csv.splitlines())


def test_print_commands_say_the_same_warm_and_cold(warm: Warm, cups_clean: CupsServer,
                                                   tmp_path: Path) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_text("warm start\n")
    conn = cups_clean.connection()
    ids = [conn.printFile("front-desk", str(doc), f"doc {i}", {"job-hold-until": "indefinite"})
           for i in range(3)]
    listed = _same(warm, "-p", "lab", "-o", "json", "job", "list", "-s", "lab-cups",
                   seen=lambda out: re.sub(r'"age": "\w+"', '"age": ""', out))
    assert sorted(r["id"] for r in json.loads(listed.stdout)) == sorted(ids)
    table = _same(warm, "-p", "lab", "-o", "csv", "job", "list", "-s", "lab-cups",
                  seen=_ageless)
    assert table.stdout.startswith("server,id,printer,owner,name,size_kb,state,age\n")
    _same(warm, "-p", "lab", "printer", "list", "-s", "lab-cups")
    failed = _same(warm, "-p", "lab", "job", "cancel", "999999", "-s", "lab-cups",
                   seen=lambda out: re.sub(r"R-\d{8}-\d{6}-\w+", "R-(id)", out))
    assert failed.returncode == 2 and "has no job 999999" in failed.stdout


def test_directory_commands_say_the_same_warm_and_cold(warm: Warm, slapd: LabServer) -> None:
    shown = _same(warm, "-p", "lab-openldap", "-o", "json", "group", "show", "staff")
    assert shown.returncode == 0 and "staff" in shown.stdout
    missing = _same(warm, "-p", "lab-openldap", "account", "show", "nosuch-warm")
    assert missing.returncode != 0


ROWS = 1500


def test_ctrl_c_during_a_warm_bulk_import_is_journaled_as_interrupted(
        warm: Warm, slapd: LabServer, tmp_path: Path) -> None:
    slapd.reset()
    csv = tmp_path / "hires.csv"
    csv.write_text("given_name,surname,login\n" + "".join(
        f"Ira,Warm{i:04d},wrm{i:04d}\n" for i in range(ROWS)), encoding="utf-8")
    passwords = tmp_path / "pw"
    passwords.mkdir()
    before = warm.status()["served"]
    with adminkit_child([*warm.argv, "--profile", "lab-openldap", "account", "import",
                         str(csv), "--deliver", f"file:{passwords}"], warm.env) as proc:
        wait_for_files(proc, passwords, 20)  # writing has begun
        proc.send_signal(signal.SIGINT)  # to the client, as a terminal's Ctrl-C
        _, err = proc.communicate(timeout=120)
    try:
        assert warm.status()["served"] == before + 1
        assert proc.returncode == 130, err
        assert re.search(r"interrupted: \d+ changed, .*; what finished is in the journal "
                         r"\(run R-[\w-]+\)", err), err
        journal = Journal(Path(warm.env["ADMINKIT_JOURNAL"]))
        [run] = journal.entries(Filters(kinds=["run"]))
        [end] = journal.entries(Filters(run_id=run["run_id"], kinds=["end"]))
        journal.close()
        assert end["status"] == "interrupted" and end["detail"]["exit_code"] == 130
    finally:
        slapd.reset()
