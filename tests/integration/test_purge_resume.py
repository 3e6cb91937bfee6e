"""A resumed `queue purge` cancels exactly the jobs its interrupted attempt chose, never
one submitted after the interruption (which no bulk limit saw): on the tests' private
cupsd (Ctrl-C between two Cancel-Jobs requests; SIGKILL after the first) and on the
lab's WinRM fake (Ctrl-C while the purge script's answer has not come). Outcomes are read
back from the server; the resumed journal row names the jobs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from adminkit.lab.cups import CupsServer
from tests.integration.test_printing_hostile import doc, held, state
from tests.integration.test_printing_windows import S, win
from tests.integration.test_printing_windows import model as _model
from tests.integration.test_purge_cancel_jobs_cupsd import ctrl_c_before_the_third_request

pytestmark = pytest.mark.integration
cups = pytest.importorskip("cups")
HELD, CANCELED = 4, 7
__all__ = ["doc", "win"]


def _service(server: CupsServer, tmp_path: Path) -> Any:
    """A run service on a journal of the test's own, with a profile `own` for `server`."""
    from adminkit.automation.service import RunService

    config = tmp_path / "config"
    (config / "profiles").mkdir(parents=True)
    (config / "profiles" / "own.yaml").write_text(
        yaml.safe_dump({"description": "purge resume", **server.profile()}))
    service = RunService(journal_path=tmp_path / "journal.db", config_dir=config)
    service.deliver_later = False
    return service


def _purge(service: Any) -> Any:
    from adminkit.automation.request import RunRequest
    from adminkit.core.config import load_profile
    from adminkit.printing.actions.queue import PurgeParams, PurgeQueue

    return RunRequest(command="queue purge front-desk",
                      profile=load_profile("own", service.config_dir),
                      actions=[PurgeQueue(PurgeParams(printer="front-desk"))])


def _rows(journal: Path, run_id: str) -> list[dict[str, Any]]:
    """The run's action rows (intents too), their details decoded."""
    from adminkit.journal.store import Journal

    opened = Journal(journal)
    try:
        rows = [dict(r) for r in opened.iter_all()
                if r["kind"] == "action" and r["run_id"] == run_id]
    finally:
        opened.close()
    for row in rows:
        if isinstance(row["detail"], str):
            row["detail"] = json.loads(row["detail"])
    return rows


def test_a_purge_stopped_by_ctrl_c_resumes_with_its_own_jobs_only(
        fresh: CupsServer, doc: Path, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    """Ctrl-C before the third of three requests (two ids each): the row fails as
    Interrupted. A job submitted after it stays queued through the resume, which
    cancels the two jobs the purge chose and had not cancelled."""
    from adminkit.printing.idranges import id_ranges

    ids = held(fresh, doc, 6)
    service = _service(fresh, tmp_path)
    with monkeypatch.context() as patched:
        ctrl_c_before_the_third_request(patched)
        first = service.run(_purge(service))
    assert first.exit_code == 130, first.results
    assert [state(fresh, i) for i in ids] == [CANCELED] * 4 + [HELD] * 2
    [later] = held(fresh, doc, 1)  # after the Ctrl-C: the purge never chose it

    again = service.resume(first.run.id)
    assert again.exit_code == 0, again.results
    assert [state(fresh, i) for i in ids] == [CANCELED] * 6
    assert state(fresh, later) == HELD
    rows = _rows(service.journal_path, first.run.id)
    intent = [r for r in rows if r["status"] == "started"]
    assert [r["detail"]["intent"]["ids"] for r in intent] == [id_ranges(ids),
                                                             id_ranges(ids[4:])]
    assert all(r["detail"]["intent"]["newest"] for r in intent)  # cupsd's time-at-creation
    resumed = rows[-1]
    assert resumed["status"] == "changed", resumed
    assert resumed["detail"]["ids"] == id_ranges(ids[4:])
    assert resumed["detail"]["chosen_ids"] == id_ranges(ids)


CHILD = """
import os, signal, sys
from pathlib import Path

from adminkit.automation.request import RunRequest
from adminkit.automation.service import RunService
from adminkit.core.config import load_profile
from adminkit.printing import ipp
from adminkit.printing.actions.queue import PurgeParams, PurgeQueue

config, journal = Path(sys.argv[1]), Path(sys.argv[2])
ipp.MAX_IDS = 2
real = ipp.cancel_jobs_whole

def killed_after_the_first(*args):
    real(*args)
    os.kill(os.getpid(), signal.SIGKILL)

ipp.cancel_jobs_whole = killed_after_the_first
service = RunService(journal_path=journal, config_dir=config)
service.deliver_later = False
service.run(RunRequest(command="queue purge front-desk", profile=load_profile("own", config),
                       actions=[PurgeQueue(PurgeParams(printer="front-desk"))]))
"""


def test_a_purge_killed_after_its_first_request_resumes_with_its_own_jobs_only(
        fresh: CupsServer, doc: Path, tmp_path: Path) -> None:
    """SIGKILL right after the first of three requests: the journal keeps only the intent
    row (`started`), with the ids. The resume cancels the other four, not the job
    submitted after the kill."""
    from adminkit.printing.idranges import id_ranges

    ids = held(fresh, doc, 6)
    service = _service(fresh, tmp_path)
    child = subprocess.run([sys.executable, "-c", CHILD, str(service.config_dir),
                            str(service.journal_path)], capture_output=True, text=True,
                           timeout=60, check=False)
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert [state(fresh, i) for i in ids] == [CANCELED] * 2 + [HELD] * 4
    [later] = held(fresh, doc, 1)

    again = service.resume("last")
    assert again.exit_code == 0, again.results
    assert [state(fresh, i) for i in ids] == [CANCELED] * 6
    assert state(fresh, later) == HELD
    rows = _rows(service.journal_path, again.run.id)
    assert rows[0]["status"] == "started"
    assert rows[0]["detail"]["intent"]["ids"] == id_ranges(ids)
    resumed = rows[-1]
    assert resumed["status"] == "changed", resumed
    assert resumed["detail"]["ids"] == id_ranges(ids[2:])
    assert resumed["detail"]["chosen_ids"] == id_ranges(ids)


# -- Windows: the lab's WinRM fake, as tests/integration/test_printing_windows.py drives it
def _purge_cut_by_ctrl_c(win: Any, cli: Callable[..., Any]) -> None:
    """`queue purge front-desk` whose script removes the jobs and never answers; Ctrl-C
    while it waits: its row stays `started`."""
    _model(win, hang_in_purge=True)
    proc = subprocess.Popen([*cli.argv, "-p", "lab", "queue", "purge",  # type: ignore[attr-defined]
                             "front-desk", "--server", S],
                            env={**os.environ, **cli.env},  # type: ignore[attr-defined]
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):  # the purge script runs: its jobs are gone from the model
            if not _model(win)["jobs"] or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the purge ended: does the fake know hang_in_purge?"
        time.sleep(0.3)  # waiting for the answer that does not come
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err


def test_a_windows_purge_whose_answer_ctrl_c_cut_is_not_done_again_on_new_jobs(
        win: Any, cli: Callable[..., Any], tmp_path: Path) -> None:
    """The purge script removed the jobs, its answer never came, Ctrl-C: the row stays
    `started`. A job submitted after it is still there after `run --resume last`, which
    finds the purge's own jobs gone (done by the interrupted attempt)."""
    from adminkit.printing.idranges import id_ranges

    ids = list(_model(win, jobs=[{"printer": "front-desk"} for _ in range(3)])["added"])
    _purge_cut_by_ctrl_c(win, cli)
    [later] = _model(win, jobs=[{"printer": "front-desk", "owner": "alice"}])["added"]

    r = cli("-o", "json", "run", "--resume", "last")
    assert r.returncode == 0, r.stdout + r.stderr
    assert list(_model(win)["jobs"]) == [str(later)]  # read back from the fake
    [result] = json.loads(r.stdout)["results"]
    assert result["status"] == "changed", result
    assert "done by the interrupted attempt" in result["summary"]
    run_id = json.loads(r.stdout)["run"]["id"]
    rows = _rows(tmp_path / "journal.db", run_id)
    assert [r["status"] for r in rows] == ["started", "changed"], rows
    assert rows[0]["detail"]["intent"]["ids"] == id_ranges(ids)
    assert rows[-1]["detail"]["chosen_ids"] == id_ranges(ids)
    purges = [c for c in win.control(S)["calls"] if c["op"] == "printing.queue_purge"]
    assert len(purges) == 1  # the resume sent none


def test_a_windows_purge_resumed_after_a_spooler_restart_leaves_a_new_job_with_a_chosen_id(
        win: Any, cli: Callable[..., Any], tmp_path: Path) -> None:
    """Windows numbers jobs from 2 again when its spooler starts with every queue empty:
    after the interrupted purge and a spooler restart, a new job of another user takes
    an id the purge chose. The resume leaves it (submitted after every chosen job)."""
    from adminkit.printing.idranges import parse_id_ranges

    assert not _model(win)["jobs"]  # every queue empty, then a restart: ids from 2
    _model(win, spooler="stopped")
    _model(win, spooler="running")
    ids = list(_model(win, jobs=[{"printer": "front-desk"} for _ in range(3)])["added"])
    assert ids == [2, 3, 4], ids
    _purge_cut_by_ctrl_c(win, cli)
    _model(win, spooler="stopped")  # someone restarts the spooler meanwhile
    _model(win, spooler="running")
    [later] = _model(win, jobs=[{"printer": "front-desk", "owner": "alice"}])["added"]
    assert later in ids  # the id is the chosen one's again

    r = cli("-o", "json", "run", "--resume", "last")
    assert r.returncode == 0, r.stdout + r.stderr
    assert list(_model(win)["jobs"]) == [str(later)]  # read back from the fake
    run_id = json.loads(r.stdout)["run"]["id"]
    rows = _rows(tmp_path / "journal.db", run_id)
    assert parse_id_ranges(rows[0]["detail"]["intent"]["ids"]) == ids
    purges = [c for c in win.control(S)["calls"] if c["op"] == "printing.queue_purge"]
    assert len(purges) == 1  # the resume sent none
