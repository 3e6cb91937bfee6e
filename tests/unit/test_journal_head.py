"""The head file catches rows cut off the end, which the chain alone cannot see."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from adminkit.journal.store import Journal


def fill(path: Path, n: int) -> None:
    journal = Journal(path)
    for i in range(n):
        journal.append(kind="action", run_id="R", idx=i, operator="o", mode="apply",
                       action="toy", target=f"t{i}", status="changed", summary=f"row {i}")
    journal.close()


def cut_tail(path: Path, keep: int) -> None:
    db = sqlite3.connect(path)
    db.execute("DROP TRIGGER entries_append_only_d")
    db.execute("DELETE FROM entries WHERE seq > ?", (keep,))
    db.commit()
    db.close()


def test_intact_journal_matches_its_head(tmp_path: Path) -> None:
    fill(tmp_path / "j.db", 5)
    journal = Journal(tmp_path / "j.db")
    assert journal.read_head() is not None
    assert journal.read_head()[0] == 5
    assert journal.verify().ok


def test_rows_removed_from_the_end_are_found(tmp_path: Path) -> None:
    fill(tmp_path / "j.db", 5)
    cut_tail(tmp_path / "j.db", keep=3)
    report = Journal(tmp_path / "j.db").verify()
    assert not report.ok
    assert report.first_bad == 4
    assert "rows 4..5 were removed from the end" in report.reason


def test_head_never_moves_back(tmp_path: Path) -> None:
    fill(tmp_path / "j.db", 3)
    journal = Journal(tmp_path / "j.db")
    journal._write_head(2, "0" * 64, 1)  # a slower writer finishing late
    assert journal.read_head()[0] == 3
    assert journal.verify().ok


def test_csv_cells_cannot_become_formulas() -> None:
    from adminkit.core.csvcell import csv_safe

    assert csv_safe("=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")"
    assert csv_safe("+1") == "'+1"
    assert csv_safe("@SUM(A1)") == "'@SUM(A1)"
    assert csv_safe("jdoe") == "jdoe"


def test_head_keeps_up_with_a_fast_writer_once_closed(tmp_path: Path) -> None:
    """Appends rewrite the head at most every HEAD_EVERY seconds; close writes the last."""
    journal = Journal(tmp_path / "j.db")
    for i in range(50):
        journal.append(kind="action", run_id="R", idx=i, operator="o", mode="apply",
                       action="toy", target=f"t{i}", status="changed", summary=f"row {i}")
    lagging = journal.read_head()
    assert lagging is not None and 1 <= lagging[0] <= 50
    assert journal.verify().ok  # a head behind the rows (a crash now) is not an error
    journal.close()
    reopened = Journal(tmp_path / "j.db")
    assert reopened.read_head()[0] == 50
    cut_tail(tmp_path / "j.db", keep=49)
    assert not Journal(tmp_path / "j.db").verify().ok
