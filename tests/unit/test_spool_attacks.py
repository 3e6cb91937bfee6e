"""Hostile review of the spooled bulk report (revspool): what it must still do when a
password comes back after its unit, when the spool's disk fails, and for every format."""

from __future__ import annotations

import io
import json
import re
import tempfile
from typing import Any, ClassVar

import pytest

from adminkit.cli.output import emit_report
from adminkit.cli.state import GlobalState, OutputFormat
from adminkit.core.action import Applied, Plan
from adminkit.core.context import Context
from adminkit.core.result import Change, Result
from adminkit.core.run import Run
from adminkit.core.runner import Runner, RunReport
from adminkit.core.secrets import Secret
from tests.unit.toys import ToyAction, ToyParams, toy


class _Leaking(ToyAction):
    """Row `a` makes a fresh password; row `z` fails with a server error that names it
    (a directory that echoes what it holds, a CSV that carries it to a later row)."""

    made: ClassVar[list[str]] = []

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        if self.params.key == "a":
            value = f"Made-In-Row-A-Pass.{len(_Leaking.made)}-{id(self)}"
            _Leaking.made.append(Secret(value, fresh=True).reveal())
            return Applied(summary="set a password")
        if self.params.key == "z":
            raise RuntimeError(f"server says: {_Leaking.made[-1]} is the old password")
        return Applied(summary=f"updated {self.params.key}")


class _Journal:
    """What a journal hook writes: each result's public form."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def run_started(self, run: Run) -> None: ...

    def action_finished(self, run: Run, index: int, result: Result) -> None:
        self.lines.append(json.dumps(result.public(keep=False)))

    def run_finished(self, run: Run, report: RunReport) -> None: ...


@pytest.mark.parametrize("spool_above", [100, 2])
def test_a_generated_password_named_by_a_later_row_is_scrubbed_everywhere(
        spool_above: int, monkeypatch: pytest.MonkeyPatch) -> None:
    _Leaking.made = []
    rows = [_Leaking(ToyParams(key=k), []) for k in "abcdz"]
    journal = _Journal()
    report = Runner(Context(run=Run(command="toy")), [journal],
                    spool_above=spool_above).execute(rows, workers=1)
    secret = _Leaking.made[-1]
    assert not any(secret in line for line in journal.lines), "journal"
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    emit_report(GlobalState(output=OutputFormat.JSON), report)
    assert secret not in out.getvalue(), "output"


class _Rich(ToyAction):
    """Rows whose report uses every field: secret changes, data, multi-line errors."""

    def plan(self, ctx: Context) -> Plan:
        k = self.params.key
        return Plan(changes=[Change(op="set", field="password", after=Secret(f"Given-{k}-Pw.1")),
                             Change(op="add", field="groups", after=["g1", "=g2"]),
                             Change(op="set", field="n", before=1, after=2.5)],
                    summary=f"update {k}", data={"secret": Secret(f"Data-{k}-Pw.2"), "n": 1})

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        if int(self.params.key) % 7 == 3:
            raise RuntimeError(f"refused {self.params.key}\nsecond line\n\tthird")
        return Applied(summary=f"updated {self.params.key}", data={"how": "x"})


def _emitted(report: RunReport, fmt: OutputFormat, monkeypatch: pytest.MonkeyPatch) -> str:
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    emit_report(GlobalState(output=fmt), report)
    text = re.sub(r'"(duration|started)": [^,}]+', "", out.getvalue())
    return text.replace(report.run.id, "RUN")


@pytest.mark.parametrize("rows", [499, 500, 501])
@pytest.mark.parametrize("fmt", list(OutputFormat))
def test_every_format_of_a_spooled_report_equals_the_one_kept_in_memory(
        rows: int, fmt: OutputFormat, monkeypatch: pytest.MonkeyPatch) -> None:
    def run(spool_above: int) -> RunReport:
        actions = [_Rich(ToyParams(key=str(n)), []) for n in range(rows)]
        return Runner(Context(run=Run(command="toy")), spool_above=spool_above
                      ).execute(actions, workers=2)

    kept, spooled = run(10_000), run(1)
    assert isinstance(kept.results, list) and not isinstance(spooled.results, list)
    assert _emitted(spooled, fmt, monkeypatch) == _emitted(kept, fmt, monkeypatch)


class _BrokenHook(_Journal):
    """A journal that breaks on its second unit (a full disk, a locked database)."""

    def __init__(self) -> None:
        super().__init__()
        self.units = 0

    def actions_finished(self, run: Run, finished: list[tuple[int, Result]]) -> None:
        self.units += 1
        if self.units == 2:
            raise OSError(28, "No space left on device")
        self.lines.extend(json.dumps(r.public(keep=False)) for _, r in finished)

    def run_finished(self, run: Run, report: RunReport) -> None:
        self.report = report


@pytest.mark.parametrize("spool_above", [100, 2])
def test_rows_written_before_the_journal_broke_are_not_reported_as_not_run(
        spool_above: int) -> None:
    calls: list[tuple[str, str]] = []
    hook = _BrokenHook()
    with pytest.raises(OSError, match="No space"):
        Runner(Context(run=Run(command="toy")), [hook], spool_above=spool_above
               ).execute([toy(k, calls) for k in "abcd"], workers=1)
    applied = {f"item-{k}" for k, phase in calls if phase == "apply"}
    assert "item-b" in applied  # the second unit (b) was written, then the journal broke
    said = {r.target: r.summary for r in hook.report.results}
    assert not [t for t in applied if "not run" in said[t]], said


def test_a_full_spool_disk_does_not_abort_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """/dev/full: every write fails with ENOSPC, as on a full (tiny) tmpfs."""
    monkeypatch.setattr(tempfile, "TemporaryFile",
                        lambda *a, **kw: open("/dev/full", "w+b", buffering=0))  # noqa: SIM115
    calls: list[tuple[str, str]] = []
    report = Runner(Context(run=Run(command="toy")), spool_above=2).execute(
        [toy(k, calls) for k in "abcdef"], workers=2)
    assert [k for k, p in calls if p == "apply"] != []
    assert report.counts["changed"] == 6
    assert [r.target for r in report.results] == [f"item-{k}" for k in "abcdef"]





def test_a_spool_that_fills_up_midway_keeps_the_rest_in_memory(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A real tmpfs too small for the run: the first lines on disk, the rest in memory."""
    real = tempfile.TemporaryFile

    class Filling:
        """The temporary file of a disk that takes 600 bytes, then ENOSPC (a short write
        first, as a real one near full does)."""

        def __init__(self) -> None:
            self.file = real("w+b", buffering=0)
            self.room = 600

        def write(self, data: Any) -> int:
            if not self.room:
                raise OSError(28, "No space left on device")
            took = self.file.write(bytes(data)[:self.room])
            self.room -= took
            return took

        def __getattr__(self, name: str) -> Any:
            return getattr(self.file, name)

    monkeypatch.setattr(tempfile, "TemporaryFile", lambda *a, **kw: Filling())
    calls: list[tuple[str, str]] = []
    keys = [f"k{n:02}" for n in range(40)]
    spooled = Runner(Context(run=Run(command="toy")), spool_above=2).execute(
        [toy(k, calls) for k in keys], workers=2)
    kept = Runner(Context(run=Run(command="toy")), spool_above=1000).execute(
        [toy(k, calls) for k in keys], workers=2)
    assert [(r.target, r.summary) for r in spooled.results] == \
        [(r.target, r.summary) for r in kept.results]
    assert spooled.counts == kept.counts
