"""Id ranges in text a person reads (errors, results, ticket notes) are capped; the
journal's data keeps every id (printing/idranges.py, core/runner's failed result)."""

from __future__ import annotations

import json
from pathlib import Path

from adminkit.core.context import Context
from adminkit.core.errors import ActionFailed
from adminkit.core.run import Run
from adminkit.core.runner import Runner
from adminkit.journal.hook import JournalHook
from adminkit.journal.store import Journal
from adminkit.printing.idranges import TEXT_LIMIT, id_ranges, id_ranges_text
from adminkit.tickets.notes import action_note
from tests.unit.toys import ToyAction, ToyParams

SCATTERED = list(range(1, 4001, 2))  # 2,000 ids, no two consecutive


def _ids(runs: str) -> list[int]:
    back: list[int] = []
    for run in runs.split(","):
        first, _, last = run.partition("-")
        back += range(int(first), int(last or first) + 1)
    return back


def test_few_ids_are_named_whole() -> None:
    ids = [5, 1, 2, 3, 9, 10, 12]
    assert id_ranges_text(ids) == id_ranges(ids) == "1-3,5,9-10,12"
    assert id_ranges_text([]) == ""


def test_2000_scattered_ids_name_the_first_runs_and_count_the_rest() -> None:
    whole = id_ranges(SCATTERED)
    assert len(whole) > 8000  # what a note carried before
    text = id_ranges_text(SCATTERED)
    runs, _, tail = text.partition(" … and ")
    assert len(runs) <= TEXT_LIMIT and len(text) < TEXT_LIMIT + 50
    named = _ids(runs)
    assert named == SCATTERED[:len(named)]  # the first ones, exactly
    assert tail == f"{len(SCATTERED) - len(named)} more ids (see the journal)"


def test_one_long_run_and_one_id_more() -> None:
    ids = [*range(1, 1501), 1502]
    assert id_ranges_text(ids) == "1-1500,1502"
    assert id_ranges_text(ids, limit=6) == "1-1500 … and 1 more id (see the journal)"


class Purging(ToyAction):
    """Fails the way a purge does after cancelling some of its jobs."""

    def apply(self, ctx: Context, plan: object) -> object:  # type: ignore[override]
        exc = ActionFailed(f"purge front-desk: refused; before it, {len(SCATTERED)} job(s) "
                           f"of the purge were cancelled: {id_ranges_text(SCATTERED)}")
        exc.data = {"cancelled": len(SCATTERED), "cancelled_ids": id_ranges(SCATTERED)}
        raise exc


def test_the_journal_keeps_every_id_and_the_note_only_the_capped_text(tmp_path: Path) -> None:
    run = Run(command="queue purge front-desk")
    journal = Journal(tmp_path / "journal.db")
    try:
        [result] = Runner(Context(run=run), [JournalHook(journal)]).execute(
            [Purging(ToyParams(key="q"), [])]).results
        [row] = [dict(r) for r in journal.iter_all()
                 if r["kind"] == "action" and r["status"] == "failed"]
    finally:
        journal.close()
    assert result.data["cancelled_ids"] == id_ranges(SCATTERED)
    detail = json.loads(row["detail"])
    assert _ids(detail["cancelled_ids"]) == SCATTERED and detail["cancelled"] == 2000
    assert len(row["error"]) < TEXT_LIMIT + 200 and len(row["summary"]) < TEXT_LIMIT + 200
    note = action_note(run, 0, result)
    assert len(note) < 1000 and "more ids (see the journal)" in note
