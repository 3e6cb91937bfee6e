"""A resumed playbook run must not take a rolled-back change, or a row that is not the one
journaled at its index, as done (rev11a)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any, ClassVar

import pytest

from adminkit.automation.request import PlaybookRequest, RunRequest
from adminkit.automation.service import RunService
from adminkit.core.action import Plan
from adminkit.core.context import Context
from adminkit.core.errors import UsageError, ValidationError
from adminkit.journal.store import Filters, Journal
from tests.unit import test_playbook_render as render_toys

FAILING: set[str] = set()  # keys whose toy.make fails; a test changes it between attempts


class Make(render_toys.Make):
    """test_playbook_render's toy.make (undone by toy.unmake), naming its target
    parameter, as the real actions do, and failing for the keys in FAILING."""

    target_param: ClassVar[str | None] = "key"

    def plan(self, ctx: Context) -> Plan:
        if self.params.key in FAILING:
            raise ValidationError(f"{self.params.key} cannot be made")
        return super().plan(ctx)


def made() -> list[tuple[str, ...]]:
    """What the toys did, as (verb, key)."""
    return [entry[:2] for entry in render_toys.LOG]


@pytest.fixture(autouse=True)
def toys(monkeypatch: pytest.MonkeyPatch) -> None:
    from adminkit.core import domains

    monkeypatch.setitem(domains.actions(), "toy.make", Make)
    render_toys.LOG.clear()
    FAILING.clear()


def _book(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "toy.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def _run(env: Any, path: Path, inputs: dict[str, Any] | None = None,
         resume: str | None = None) -> Any:
    service = RunService(journal_path=env.journal, config_dir=env.config)
    if resume:
        return service.run(RunRequest(command="run toy", profile=None, resume=resume,
                                      playbook=PlaybookRequest(path, dict(inputs or {}))))
    return service.run(RunRequest(command="run toy", profile=None,
                                  playbook=PlaybookRequest(path, dict(inputs or {}))))


def test_a_rolled_back_run_is_not_resumed_as_if_its_changes_stood(env: Any,
                                                                 tmp_path: Path) -> None:
    path = _book(tmp_path, """\
        name: toy
        steps:
          - uses: toy.make
            with: {key: a}
          - uses: toy.make
            with: {key: b}
            on_error: rollback
          - uses: toy.make
            with: {key: c}
        """)
    FAILING.add("b")
    first = _run(env, path)
    assert [(r.action, r.status.value) for r in first.results] == [
        ("toy.make", "changed"), ("toy.make", "failed"), ("undo toy.make", "changed")]
    assert made() == [("make", "a"), ("unmake", "a")]
    FAILING.clear()
    render_toys.LOG.clear()
    with pytest.raises(UsageError, match="was rolled back"):
        _run(env, path, resume=first.run.id)
    assert made() == []  # b and c were not made on top of a rolled-back run
    rows = Journal(env.journal).entries(Filters(run_id=first.run.id, kinds=("run",)))
    assert len(rows) == 1  # nothing of a second attempt was journaled


CSV_BOOK = """\
    name: toy
    inputs:
      file: {type: string}
    steps:
      - uses: toy.make
        for_each: {csv: "{{ inputs.file }}"}
        with: {key: "{{ item.key }}"}
      - uses: toy.make
        with: {key: last}
    """


def _first_attempt(env: Any, tmp_path: Path, on_error: str = "stop"
                   ) -> tuple[Path, Path, str]:
    """Rows a, b, c: b fails, so the run stops after the loop with a and c made (or,
    with on_error: continue, makes `last` too)."""
    path = _book(tmp_path, CSV_BOOK.replace("with: {key: \"{{ item.key }}\"}",
                                            "with: {key: \"{{ item.key }}\"}\n"
                                            f"        on_error: {on_error}"))
    rows = tmp_path / "rows.csv"
    rows.write_text("key\na\nb\nc\n")
    FAILING.add("b")
    first = _run(env, path, {"file": str(rows)})
    assert [(r.target, r.status.value) for r in first.results][:3] == [
        ("a", "changed"), ("b", "failed"), ("c", "changed")]
    FAILING.clear()
    render_toys.LOG.clear()
    return path, rows, first.run.id


@pytest.mark.parametrize("edited", ["key\nx\na\nb\nc\n", "key\nb\nc\n", "key\nc\nb\na\n"])
def test_a_resume_whose_rows_moved_does_nothing_twice_and_skips_nothing(
        env: Any, tmp_path: Path, edited: str) -> None:
    """The CSV edited between the attempts: the row at a journaled index is no longer the
    one that was done there. It is neither skipped as done nor is the done one redone."""
    path, rows, run_id = _first_attempt(env, tmp_path)
    rows.write_text(edited)
    again = _run(env, path, {"file": str(rows)}, resume=run_id)
    assert made() == []
    [result] = again.results
    assert result.failed
    assert "was toy.make on a when it was done" in (result.error or "")
    assert again.exit_code != 0
    assert not any("done earlier" in r.summary for r in again.results)


def test_a_resume_with_rows_added_at_the_end_does_the_rest(env: Any, tmp_path: Path) -> None:
    path, rows, run_id = _first_attempt(env, tmp_path)
    rows.write_text("key\na\nb\nc\nd\n")
    again = _run(env, path, {"file": str(rows)}, resume=run_id)
    assert made() == [("make", "b"), ("make", "d"), ("make", "last")]
    assert [(r.target, r.status.value) for r in again.results] == [
        ("a", "changed"), ("b", "changed"), ("c", "changed"), ("d", "changed"),
        ("last", "changed")]
    assert again.exit_code == 0


@pytest.mark.parametrize("on_error", ["stop", "continue"])
def test_a_resume_whose_csv_is_gone_fails_and_is_not_taken_as_done(
        env: Any, tmp_path: Path, on_error: str) -> None:
    """Its rows cannot be held against the journal's, nor can the steps after it, whose
    indexes depend on how many rows it had: the resume stops there."""
    path, rows, run_id = _first_attempt(env, tmp_path, on_error)
    rows.unlink()
    again = _run(env, path, {"file": str(rows)}, resume=run_id)
    assert made() == []
    assert [r.status.value for r in again.results] == ["failed"]
    assert again.exit_code != 0


def test_a_rollback_in_a_resume_names_what_the_earlier_attempt_did(
        env: Any, tmp_path: Path) -> None:
    """The rollback of a resumed run cannot undo the rows an earlier attempt did (their
    plans, which an undo is made from, are gone): it says so for each, in order."""
    path = _book(tmp_path, """\
        name: toy
        steps:
          - uses: toy.make
            with: {key: a}
          - uses: toy.make
            with: {key: b}
          - uses: toy.make
            with: {key: c}
            on_error: rollback
        """)
    FAILING.add("b")
    first = _run(env, path)
    assert [r.status.value for r in first.results] == ["changed", "failed"]
    FAILING.clear()
    FAILING.add("c")
    render_toys.LOG.clear()
    again = _run(env, path, resume=first.run.id)
    assert made() == [("make", "b"), ("unmake", "b")]
    assert [(r.action, r.target, r.status.value) for r in again.results] == [
        ("toy.make", "a", "changed"), ("toy.make", "b", "changed"), ("toy.make", "c", "failed"),
        ("undo toy.make", "b", "changed"), ("undo toy.make", "a", "skipped")]
    assert "cannot undo toy.make a: an earlier attempt of this run did it" in \
        again.results[-1].summary


def test_a_rollback_step_s_loop_stops_at_its_first_failure(env: Any, tmp_path: Path) -> None:
    """Items after the one that failed would only be made to be undone (an account
    created, its password delivered, then deleted): they are not run."""
    path = _book(tmp_path, """\
        name: toy
        steps:
          - uses: toy.make
            with: {key: first}
          - uses: toy.make
            loop: [a, b, c, d]
            with: {key: "{{ item }}"}
            on_error: rollback
        """)
    FAILING.add("b")
    report = _run(env, path)
    assert made() == [("make", "first"), ("make", "a"), ("unmake", "a"), ("unmake", "first")]
    assert [(r.action, r.target, r.status.value) for r in report.results] == [
        ("toy.make", "first", "changed"), ("toy.make", "a", "changed"),
        ("toy.make", "b", "failed"), ("undo toy.make", "a", "changed"),
        ("undo toy.make", "first", "changed")]
