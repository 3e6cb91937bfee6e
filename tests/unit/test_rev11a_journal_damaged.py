"""A journal whose pages were overwritten: `verify` gives a verdict, every other command
a clear error, never "internal error ... this is a bug" (rev11a)."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from adminkit.journal.store import Journal


@pytest.fixture
def damaged(env: Any) -> Path:
    journal = Journal(env.journal)
    try:
        journal.append_many([(None, {
            "kind": "action", "run_id": "R-1", "idx": i, "operator": "tester",
            "mode": "apply", "action": "x.y", "target": f"user{i}", "status": "changed",
            "summary": f"did something to user{i}"}) for i in range(3000)])
    finally:
        journal.close()
    db = sqlite3.connect(env.journal)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    assert env.journal.stat().st_size > 400_000
    with env.journal.open("r+b") as f:  # three pages in the middle of the rows
        f.seek(100 * 4096)
        f.write(random.Random(11).randbytes(3 * 4096))
    return env.journal


def test_verify_of_a_damaged_journal_is_a_verdict(damaged: Path, cli: Any) -> None:
    res = cli("journal", "verify")
    assert res.code == 1, res.err
    assert "the database itself is damaged (database disk image is malformed)" in res.err
    res = cli("--output", "json", "journal", "verify")
    assert res.code == 1
    assert '"ok": false' in res.out


@pytest.mark.parametrize("command", [["journal", "list", "--runs"], ["journal", "show", "R-1"],
                                     ["run", "--resume", "R-1"]])
def test_reading_a_damaged_journal_is_a_clear_error(damaged: Path, cli: Any,
                                                    command: list[str]) -> None:
    res = cli(*command)
    assert res.code == 1, res.err
    assert "error: a database cannot be read: database disk image is malformed" in res.err
    assert "internal error" not in res.err and "Traceback" not in res.err
