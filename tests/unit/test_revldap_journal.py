"""Review of the journal's one executemany per unit: a process appending 25-row units
(each row with its ticket note) killed with SIGKILL at varying moments leaves a journal
that verifies, holds whole units only, and has exactly one queued note per row."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from adminkit.journal.store import Journal

CHILD = """
import os, sys
from adminkit.journal.store import Journal
journal = Journal(__import__("pathlib").Path(sys.argv[1]))
unit = 0
print("ready", flush=True)
while True:
    rows = []
    for i in range(25):
        n = unit * 25 + i
        rows.append(({"key": f"adminkit:R{os.getpid()}:{n};", "system": "local", "ticket": "7",
                      "body": f"row {n} of {os.getpid()}"},
                     {"kind": "action", "run_id": "R", "idx": n, "operator": "o",
                      "mode": "apply", "action": "toy", "target": f"t{n}",
                      "status": "changed", "summary": f"row {n} of {os.getpid()}"}))
    journal.append_many(rows)
    unit += 1
"""


def test_a_journal_killed_mid_unit_keeps_whole_units_and_verifies(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for delay in (0.05, 0.13, 0.21, 0.34, 0.55):
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], env=env,
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    journal = Journal(path)
    try:
        report = journal.verify()
        assert report.ok, report
        rows = journal.entries()
        assert rows and len(rows) % 25 == 0
        assert [r["summary"].split(" of ")[0] for r in rows][:25] == [f"row {n}" for n in range(25)]
        notes = journal.outbox()
        assert len(notes) == len(rows)
        assert {n["body"] for n in notes} == {r["summary"] for r in rows}
    finally:
        journal.close()
