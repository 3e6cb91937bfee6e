"""Many first openers of one SQLite file at once, as `serve`'s workers open the local
ticket store: each gets its connection in WAL mode, none "database is locked"."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from adminkit.core.sqlitewal import use_wal
from adminkit.tickets.local import LocalTickets


def test_concurrent_first_opens_of_the_ticket_store_all_succeed(tmp_path: Path) -> None:
    for round_ in range(15):
        path = tmp_path / f"tickets{round_}.db"
        start = threading.Barrier(8)
        errors: list[BaseException] = []

        def open_one(path: Path = path, start: threading.Barrier = start,
                     errors: list[BaseException] = errors) -> None:
            start.wait()
            try:
                LocalTickets(path).close()
            except BaseException as exc:  # noqa: BLE001 - collected for the assert
                errors.append(exc)

        threads = [threading.Thread(target=open_one) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        db = sqlite3.connect(path)
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        db.close()


def test_a_lock_held_longer_than_the_wait_is_still_an_error(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            use_wal(other, wait=0.05)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    use_wal(other)
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    other.close()
