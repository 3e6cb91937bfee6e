"""A secret that goes through the whole stack (action -> runner -> journal -> output) stays hidden.

The toy action plans a change whose new value is a Secret and then fails with an
exception whose message contains the secret's *value*, the way a server that
echoes its input would. The value must appear nowhere: not in the journal's raw
bytes (main file and WAL), not in `journal export`, not in any rendered report.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from adminkit.cli.output import emit_report
from adminkit.cli.state import GlobalState, OutputFormat
from adminkit.core.context import Context
from adminkit.core.result import Status
from adminkit.core.run import Run
from adminkit.core.runner import Runner, RunReport
from adminkit.core.secrets import MASK, Secret
from adminkit.journal.hook import JournalHook
from adminkit.journal.store import Journal
from tests.unit.toys import LeakyAction, SecretParams


def _raw_bytes(db: Path) -> bytes:
    """The journal as stored: the database file plus any WAL / shm / rollback journal."""
    files = sorted(db.parent.glob(db.name + "*"))
    assert db in files
    return b"".join(f.read_bytes() for f in files)


@pytest.fixture
def canary() -> str:
    return f"canary-{uuid.uuid4().hex}"


def _run(journal_path: Path, canary: str, *, check: bool = False,
         ticket: str = "T-1") -> tuple[RunReport, LeakyAction, bytes]:
    journal = Journal(journal_path)
    action = LeakyAction(SecretParams(login="jdoe", password=Secret(canary)))
    run = Run(command="toy set-password jdoe", profile="acme", ticket=ticket, check=check,
              record={"actions": [action.record()]})
    ctx = Context(run=run)
    report = Runner(ctx, [JournalHook(journal)]).execute([action])
    while_open = _raw_bytes(journal_path)
    journal.close()
    return report, action, while_open


def test_failed_action_leaks_nothing_to_the_journal(env, canary: str) -> None:
    report, action, while_open = _run(env.journal, canary)

    # the value really went through: the exception the action raised contained it
    assert action.raised is not None
    assert canary in action.raised
    [result] = report.results
    assert result.status is Status.FAILED
    assert result.error_type == "RuntimeError"
    assert canary not in result.model_dump_json()
    assert result.error == f"server refused password {MASK} for jdoe"

    after_close = _raw_bytes(env.journal)
    for raw in (while_open, after_close):
        assert canary.encode() not in raw
        assert MASK.encode() in raw  # the error row is there, redacted
        assert b"server refused password" in raw

    journal = Journal(env.journal)
    rows = list(journal.iter_all())
    assert [(r["kind"], r["status"]) for r in rows] == [
        ("run", "started"), ("action", "started"), ("action", "failed"), ("end", "failed")]
    assert rows[2]["error"] == f"server refused password {MASK} for jdoe"
    assert journal.verify().ok
    journal.close()


def test_failed_action_leaks_nothing_to_export(env, canary: str, cli) -> None:
    _run(env.journal, canary)
    for fmt in ("jsonl", "csv"):
        res = cli("journal", "export", "--format", fmt)
        assert res.code == 0, res.err
        assert "server refused password" in res.out
        assert canary not in res.out
        assert canary not in res.err
    for args in (("journal", "list"), ("-o", "json", "journal", "list"),
                 ("journal", "show", _only_run_id(env.journal)),
                 ("-o", "json", "journal", "show", _only_run_id(env.journal))):
        res = cli(*args)
        assert res.code == 0, res.err
        assert "jdoe" in res.out
        assert canary not in res.out + res.err


def _only_run_id(path: Path) -> str:
    journal = Journal(path)
    ids = {r["run_id"] for r in journal.iter_all()}
    journal.close()
    assert len(ids) == 1
    return ids.pop()


@pytest.mark.parametrize("output", list(OutputFormat))
def test_failed_action_leaks_nothing_to_the_report(env, canary: str, output: OutputFormat,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    report, _, _ = _run(env.journal, canary)
    capsys.readouterr()
    emit_report(GlobalState(output=output), report)
    out, err = capsys.readouterr()
    assert canary not in out + err
    assert "server refused password" in out
    assert MASK in out
    if output is OutputFormat.JSON:
        data = json.loads(out)
        assert data["status"] == "failed"
        assert data["exit_code"] == 1
        assert data["results"][0]["error"] == f"server refused password {MASK} for jdoe"


def test_check_mode_change_holding_a_secret_is_journaled_masked(env, canary: str) -> None:
    report, _, _ = _run(env.journal, canary, check=True)
    [result] = report.results
    assert result.status is Status.CHANGED
    raw = _raw_bytes(env.journal)
    assert canary.encode() not in raw
    assert MASK.encode() in raw


def test_change_with_a_secret_renders_masked(canary: str) -> None:
    from adminkit.core.result import Change

    change = Change(op="set", field="password", before=None, after=Secret(canary))
    assert change.model_dump(mode="json")["after"] == MASK
    assert change.line() == f"password = {MASK}"
