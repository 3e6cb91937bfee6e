"""A bulk run's results spooled to disk read back as the results kept in memory would be;
a pre-flight keeps only counts and failures."""

from __future__ import annotations

import io
import json
from typing import Any, ClassVar

import pytest

from adminkit.automation import bulk
from adminkit.automation.request import Bulk
from adminkit.cli.output import write_report_json
from adminkit.core import secrets
from adminkit.core.action import Applied, Plan
from adminkit.core.context import Context
from adminkit.core.errors import ValidationError
from adminkit.core.result import Change, Result, Status
from adminkit.core.run import Run
from adminkit.core.runner import Runner, RunReport
from adminkit.core.secrets import Secret
from adminkit.core.spool import SpooledResults, Tally
from tests.unit.toys import RecordingHook, ToyAction, ToyParams, toy

ROWS = "abcdefghij"


def _rows(calls: list[tuple[str, str]]) -> list[Any]:
    """Ten rows: c fails (exit 1), f has nothing to do, h fails as a validation (exit 2)."""
    return [toy(k, calls, fail_in="apply" if k in "ch" else None, changes=0 if k == "f" else 1,
                exc=ValidationError("h refused") if k == "h" else None)
            for k in ROWS]


def _run(spool_above: int, **kw: Any) -> RunReport:
    return Runner(Context(run=Run(command="toy", operator="me")), spool_above=spool_above,
                  **kw).execute(_rows([]), workers=3)


def _json(report: RunReport, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    write_report_json(report)
    data: dict[str, Any] = json.loads(out.getvalue())
    data["run"].pop("id")
    data["run"].pop("started")
    for row in data["results"]:
        row.pop("duration")
    return data


def test_a_spooled_report_reads_as_the_one_kept_in_memory(
        monkeypatch: pytest.MonkeyPatch) -> None:
    kept, spooled = _run(spool_above=100), _run(spool_above=5)
    assert isinstance(spooled.results, SpooledResults)
    assert isinstance(kept.results, list)
    assert spooled.counts == kept.counts == {"ok": 1, "changed": 7, "failed": 2, "skipped": 0}
    assert spooled.exit_code == kept.exit_code == 2
    assert spooled.status == kept.status == "failed"
    assert spooled.failures() and [i for i, _ in spooled.failures()] == [2, 7]
    assert len(spooled.results) == 10
    assert [r.target for r in spooled.results] == [f"item-{k}" for k in ROWS]
    assert [(r.status, r.summary) for r in spooled.results] == \
        [(r.status, r.summary) for r in kept.results]
    assert spooled.results[7].error == "h refused"
    assert [r.target for r in spooled.results[8:]] == ["item-i", "item-j"]
    assert _json(spooled, monkeypatch) == _json(kept, monkeypatch)


def test_rows_a_resume_skips_are_in_the_spooled_report_in_their_place() -> None:
    report = _run(spool_above=2, done={0, 4})
    assert isinstance(report.results, SpooledResults)
    assert [r.status for r in report.results][:5] == [Status.SKIPPED, Status.CHANGED,
                                                      Status.FAILED, Status.CHANGED,
                                                      Status.SKIPPED]


def test_hooks_hear_every_row_before_it_is_spooled() -> None:
    events: list[tuple[str, str, Any]] = []
    Runner(Context(run=Run(command="toy")), [RecordingHook("h", events)],
           spool_above=1).execute(_rows([]), workers=2)
    assert sorted(e[2][0] for e in events if e[1] == "action_finished") == list(range(10))
    assert events[-1] == ("h", "run_finished", "failed")


def test_a_spooled_line_holds_no_secret_and_is_scrubbed_again_for_one_known_later() -> None:
    spool = SpooledResults(2)
    given = Secret("Spool-Given-Pass.1")
    spool.put(1, Result(action="a", target="t", status=Status.CHANGED,
                        summary="set Later-Known-Pass.2",
                        changes=[Change(op="set", field="password", after=given)]))
    spool.append(Result(action="a", target="u", status=Status.OK, summary="nothing"))
    assert len(spool) == 3  # row 0 never reported: left out of the lines
    Secret("Later-Known-Pass.2")
    lines = list(spool.lines())
    assert len(lines) == 2
    assert "Spool-Given-Pass.1" not in lines[0] and "Later-Known-Pass.2" not in lines[0]
    assert json.loads(lines[0])["summary"] == "set ********"
    with pytest.raises(IndexError):
        spool[0]
    spool.close()


def test_a_tally_keeps_counts_and_failures_only() -> None:
    tally = Tally()
    tally.put(0, Result(action="a", target="t", status=Status.CHANGED, summary="x"))
    tally.put(1, Result(action="a", target="u", status=Status.FAILED, summary="y", exit_code=4))
    assert len(tally) == 2 and tally.worst == 4 and list(tally.failures) == [1]
    with pytest.raises(TypeError):
        list(tally)


def test_the_preflight_names_failed_rows_by_their_labels_from_the_tally() -> None:
    rows = [toy(k, [], fail_in="plan" if k in "bd" else None,
                exc=ValidationError(f"{k} is bad")) for k in "abcde"]
    with pytest.raises(ValidationError) as caught:
        bulk.preflight(Run(command="toy", check=True), None, rows,
                       Bulk(labels=[f"f.csv:{n}" for n in range(2, 7)], workers=2))
    assert "2 row(s) cannot be done" in caught.value.message
    assert "f.csv:3: b is bad" in caught.value.message
    assert "f.csv:5: d is bad" in caught.value.message


def test_fresh_secrets_of_a_unit_are_forgotten_after_it_and_no_other() -> None:
    known_before = Secret("Known-Before-Pass.3", fresh=True)
    with secrets.forgotten_after():
        fresh = Secret("Fresh-Unit-Pass.4x", fresh=True)
        short = Secret("Short.5x!", fresh=True)
        resolved = Secret("Resolved-Ref-Pass.6")  # from a reference: not fresh
        Secret("Known-Before-Pass.3", fresh=True)
        text = "Fresh-Unit-Pass.4x Short.5x! Resolved-Ref-Pass.6 Known-Before-Pass.3"
        assert secrets.redact(text) == " ".join([secrets.MASK] * 4)
    assert secrets.redact(text) == "Fresh-Unit-Pass.4x Short.5x! ******** ********"
    assert fresh.reveal() and short.reveal() and resolved.reveal() and known_before.reveal()


class _Generating(ToyAction):
    """Makes a fresh password while applying and names it in its summary."""

    made: ClassVar[list[str]] = []

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        value = f"Generated-{self.params.key}-Pass.7"
        _Generating.made.append(Secret(value, fresh=True).reveal())
        return Applied(summary=f"set {value}")


def test_a_spooled_run_forgets_the_passwords_of_each_unit_once_it_is_written(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _Generating.made = []
    rows = [_Generating(ToyParams(key=k), []) for k in "abcdef"]
    report = Runner(Context(run=Run(command="toy")), spool_above=2).execute(rows, workers=2)
    assert len(_Generating.made) == 6
    assert all(secrets.redact(value) == value for value in _Generating.made)  # forgotten
    assert all(r.summary == "set ********" for r in report.results)
    kept = Runner(Context(run=Run(command="toy")), spool_above=100).execute(
        [_Generating(ToyParams(key=k), []) for k in "gh"], workers=2)
    assert isinstance(kept.results, list)
    assert secrets.redact(_Generating.made[-1]) == secrets.MASK  # in memory: still known
