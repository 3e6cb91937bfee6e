"""A run killed with SIGKILL resumes under the same id, and nothing done is done twice.

A helper script (its own process, so it can really be killed) runs six toy actions
through `Runner` + `JournalHook`. Each action writes `plan I` when planning, sleeps
0.3 s in apply and then writes `applied I`. We kill the first attempt while action 2
is inside its apply (after actions 0 and 1 were applied *and journaled*: the runner
journals each action before it plans the next), then resume.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adminkit.journal.store import Journal
from tests.childproc import ctrl_c_able

RUN_ID = "R-20261125-120000-abcdef"
N = 6

SCRIPT = '''
import json, sys, time
from pathlib import Path
from typing import ClassVar

from adminkit.core.action import Action, Applied, Params, Plan
from adminkit.core.context import Context
from adminkit.core.result import Change
from adminkit.core.run import Run
from adminkit.core.runner import Runner
from adminkit.journal.hook import JournalHook
from adminkit.journal.store import Journal

journal_path, counter = Path(sys.argv[1]), Path(sys.argv[2])
mode, run_id = sys.argv[3], sys.argv[4]


def note(line):
    with counter.open("a") as out:
        out.write(line + "\\n")
        out.flush()


class P(Params):
    i: int


class Step(Action[P]):
    name = "toy.step"
    params_model: ClassVar[type[Params]] = P

    def target(self):
        return f"item{self.params.i}"

    def plan(self, ctx):
        note(f"plan {self.params.i}")
        return Plan(changes=[Change(op="set", field="done", before=False, after=True)],
                    summary=f"step {self.params.i}")

    def apply(self, ctx, plan):
        time.sleep(0.3)
        note(f"applied {self.params.i}")
        return Applied()


journal = Journal(journal_path)
run = Run(command="toy steps", profile="acme", ticket="T-7", id=run_id,
          record={"command": "toy steps"}, resumed=(mode == "resume"))
done = journal.done_indexes(run_id)
report = Runner(Context(run=run), [JournalHook(journal)], done=done).execute(
    [Step(P(i=i)) for i in range(N_ACTIONS)])
journal.close()
print(json.dumps({"done_before": sorted(done),
                  "statuses": [r.status.value for r in report.results]}))
'''.replace("N_ACTIONS", str(N))


def _lines(counter: Path) -> list[str]:
    return counter.read_text().splitlines() if counter.exists() else []


def _start(script: Path, journal: Path, counter: Path, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(script), str(journal), str(counter), mode,
                             RUN_ID], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=ctrl_c_able)


def _intent_of_2(journal_path: Path) -> bool:
    """Whether the journal holds action 2's intent row (read-only, the writer's own WAL)."""
    import sqlite3

    try:
        db = sqlite3.connect(f"file:{journal_path}?mode=ro", uri=True, timeout=1)
        try:
            return db.execute("SELECT 1 FROM entries WHERE kind = 'action' AND idx = 2 "
                              "AND status = 'started'").fetchone() is not None
        finally:
            db.close()
    except sqlite3.OperationalError:  # not created yet, or busy for a moment
        return False


def _first_attempt(tmp_path: Path, sig: signal.Signals) -> tuple[Path, Path, Path, str]:
    """Run the script and send `sig` once action 2 is planned ("plan 2" means 0 and 1 were
    applied and journaled; 2 now sleeps inside apply). (script, journal, counter, stderr)"""
    script = tmp_path / "steps.py"
    script.write_text(SCRIPT)
    journal_path = tmp_path / "journal.db"
    counter = tmp_path / "counter.txt"
    first = _start(script, journal_path, counter, "first")
    try:
        deadline = time.monotonic() + 60
        while "plan 2" not in _lines(counter):
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first attempt never got to action 2"
            time.sleep(0.005)
        # "plan 2" comes just before the intent row of action 2 is committed: wait for
        # the row (its apply sleeps 0.3 s), or a loaded machine kills before it
        while not _intent_of_2(journal_path):
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "action 2's intent row never came"
            time.sleep(0.005)
        first.send_signal(sig)
        _, err = first.communicate(timeout=60)
    finally:
        first.kill()
        first.communicate()
    assert first.returncode == -sig, err
    return script, journal_path, counter, err


def test_resume_after_sigkill(tmp_path: Path) -> None:
    script, journal_path, counter, _ = _first_attempt(tmp_path, signal.SIGKILL)
    killed_at = _lines(counter)
    applied_before = [line for line in killed_at if line.startswith("applied")]
    assert applied_before == ["applied 0", "applied 1"], killed_at

    journal = Journal(journal_path)
    assert journal.done_indexes(RUN_ID) == {0, 1}
    kinds = [(r["kind"], r["idx"], r["status"]) for r in journal.iter_all()]
    assert kinds == [("run", None, "started"),
                     ("action", 0, "started"), ("action", 0, "changed"),
                     ("action", 1, "started"), ("action", 1, "changed"),
                     ("action", 2, "started")]  # the intent of the write it died in; no end
    first_attempt_rows = len(kinds)
    journal.close()

    second = subprocess.run(
        [sys.executable, str(script), str(journal_path), str(counter), "resume", RUN_ID],
        capture_output=True, text=True, timeout=60, check=False)
    assert second.returncode == 0, second.stderr
    outcome = json.loads(second.stdout)
    assert outcome["done_before"] == [0, 1]
    assert outcome["statuses"] == ["skipped", "skipped"] + ["changed"] * (N - 2)

    lines = _lines(counter)
    for i in range(N):
        assert lines.count(f"applied {i}") == 1, (i, lines)
    assert "plan 0" not in lines[len(killed_at):]  # done actions are not even planned again
    assert "plan 1" not in lines[len(killed_at):]

    journal = Journal(journal_path)
    rows = [dict(r) for r in journal.iter_all()]
    assert journal.verify().ok
    journal.close()
    assert all(r["run_id"] == RUN_ID for r in rows)
    actions = [r for r in rows if r["kind"] == "action" and r["status"] != "started"]
    assert sorted({r["idx"] for r in actions}) == list(range(N))
    assert all(r["status"] == "changed" for r in actions)
    resumed = rows[first_attempt_rows:]
    assert resumed[0]["kind"] == "run"
    assert json.loads(resumed[0]["detail"]) == {"request": {"command": "toy steps"},
                                                "resumed": True}
    assert resumed[-1]["kind"] == "end"
    resumed_idx = [r["idx"] for r in resumed if r["kind"] == "action" and
                   r["status"] != "started"]
    assert resumed_idx == list(range(2, N))  # nothing journaled again for 0 and 1


@pytest.mark.parametrize("check", [False, True])
def test_done_indexes_only_counts_applied_ok_or_changed(env, check: bool) -> None:
    journal = Journal(env.journal)
    mode = "check" if check else "apply"
    for idx, status in enumerate(["ok", "changed", "failed", "skipped"]):
        journal.append(kind="action", run_id="R-1", idx=idx, status=status, operator="o",
                       mode=mode)
    journal.append(kind="action", run_id="R-2", idx=7, status="changed", operator="o",
                   mode="apply")
    assert journal.done_indexes("R-1") == (set() if check else {0, 1})
    journal.close()


def test_ctrl_c_finishes_the_running_row_journals_interrupted_and_resume_does_the_rest(
        tmp_path: Path) -> None:
    """SIGINT (Ctrl-C) while action 2 is inside its apply: it finishes and is journaled,
    nothing after it starts, the run's end row says interrupted; a resume does 3 to 5."""
    script, journal_path, counter, _ = _first_attempt(tmp_path, signal.SIGINT)
    assert [x for x in _lines(counter) if x.startswith("applied")] == [
        "applied 0", "applied 1", "applied 2"]

    journal = Journal(journal_path)
    rows = [dict(r) for r in journal.iter_all()]
    assert [(r["kind"], r["idx"], r["status"]) for r in rows] == [
        ("run", None, "started"),
        ("action", 0, "started"), ("action", 0, "changed"),
        ("action", 1, "started"), ("action", 1, "changed"),
        ("action", 2, "started"), ("action", 2, "changed"),
        ("end", None, "interrupted")]
    assert json.loads(rows[-1]["detail"]) == {
        "counts": {"ok": 0, "changed": 3, "failed": 0, "skipped": 3}, "exit_code": 130}
    assert journal.done_indexes(RUN_ID) == {0, 1, 2}
    journal.close()

    second = subprocess.run(
        [sys.executable, str(script), str(journal_path), str(counter), "resume", RUN_ID],
        capture_output=True, text=True, timeout=60, check=False)
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["statuses"] == ["skipped"] * 3 + ["changed"] * 3
    assert [x for x in _lines(counter) if x.startswith("applied")] == [
        f"applied {i}" for i in range(N)]
