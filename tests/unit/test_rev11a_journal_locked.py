"""A journal another process holds: adminkit's error, not "internal error" (rev11a)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adminkit.core.errors import JournalError
from adminkit.journal import store
from adminkit.journal.store import Filters, Journal


@pytest.fixture
def held(env: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The journal, with another connection in an exclusive transaction on it."""
    monkeypatch.setattr(store, "BUSY_SECONDS", 0.2)
    Journal(env.journal).close()
    other = sqlite3.connect(env.journal, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    yield env.journal
    other.execute("ROLLBACK")
    other.close()


def test_an_append_to_a_held_journal_is_a_journal_error(held: Path) -> None:
    journal = Journal(held)
    try:
        with pytest.raises(JournalError, match=r"cannot write to the journal .*database is "
                                               r"locked") as caught:
            journal.append(kind="run", run_id="R-1", operator="tester", mode="apply")
        assert "another process holds it (waited 0.2 s)" in (caught.value.hint or "")
    finally:
        journal.close()


def test_a_run_on_a_held_journal_says_so_and_runs_nothing(held: Path, env: Any,
                                                         cli: Any) -> None:
    (env.profiles / "acme.yaml").write_text("description: no directory\n")
    res = cli("--profile", "acme", "run", "unlock-account", "-i", "login=jnovak")
    assert res.code == 1, res.err
    assert f"error: cannot write to the journal {held}: database is locked" in res.err
    assert "internal error" not in res.err and "Traceback" not in res.err


def test_the_journal_still_takes_rows_once_let_go(env: Any, cli: Any) -> None:
    (env.profiles / "acme.yaml").write_text("description: no directory\n")
    res = cli("--profile", "acme", "run", "unlock-account", "-i", "login=jnovak")
    assert res.code == 2  # the profile names no directory: a run that was journaled
    journal = Journal(env.journal)
    try:
        assert [r["kind"] for r in journal.entries(Filters(kinds=("run", "end")))] == [
            "run", "end"]
    finally:
        journal.close()
