"""`run --resume last` picks the newest run that did not finish well: failed, without an
end row (killed), or interrupted (Ctrl-C, exit 130, whose message says to resume it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from adminkit.automation.service import RunService
from adminkit.journal.store import Journal


def _run(journal: Journal, run_id: str, end: str | None) -> None:
    common = {"run_id": run_id, "operator": "tester", "profile": None, "ticket": None,
              "mode": "apply"}
    journal.append(kind="run", summary="x", status="started", detail={"request": {}},
                   **common)
    if end is not None:
        journal.append(kind="end", status=end, summary="x", detail={}, **common)


@pytest.mark.parametrize("newest", ["interrupted", "failed", None])
def test_last_is_the_newest_unfinished_run_however_it_stopped(
        tmp_path: Path, newest: str | None) -> None:
    journal = Journal(tmp_path / "journal.db")
    try:
        _run(journal, "R-20261201-000000-aaaaaa", "failed")
        _run(journal, "R-20261202-000000-bbbbbb", newest)
        _run(journal, "R-20261203-000000-cccccc", "changed")
    finally:
        journal.close()
    service = RunService(journal_path=tmp_path / "journal.db")
    assert service._last_unfinished() == "R-20261202-000000-bbbbbb"
