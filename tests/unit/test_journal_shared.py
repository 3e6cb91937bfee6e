"""Several `Journal`s of one file in one process (serve: the HTTP side, each worker, each
run) keep their SQLite locks: another process that reads the journal and closes never
takes the WAL (and the rows in it) from under them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from adminkit.journal.store import Journal

READ = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
        "print(c.execute('SELECT count(*) FROM entries').fetchone()[0]); c.close()")


def count_elsewhere(path: Path) -> int:
    out = subprocess.run([sys.executable, "-c", READ, str(path)], capture_output=True,
                         text=True, check=True)
    return int(out.stdout)


def row(journal: Journal, n: int) -> None:
    journal.append(kind="run", run_id=f"R-{n}", operator="t", mode="apply", summary="x")


def test_a_second_journal_of_the_same_file_keeps_the_first_ones_rows(env: object,
                                                                     tmp_path: Path) -> None:
    path = tmp_path / "j" / "journal.db"
    first = Journal(path)
    row(first, 1)
    second = Journal(path)  # opening it again must not drop the first one's locks
    assert count_elsewhere(path) == 1  # a reader in another process comes and goes
    assert (path.parent / "journal.db-wal").exists()
    row(first, 2)
    row(second, 3)
    first.close()
    second.close()
    assert count_elsewhere(path) == 3


def test_journals_of_one_file_in_one_process_take_turns_on_one_lock(env: object,
                                                                    tmp_path: Path) -> None:
    """serve's workers each open the journal: their writes queue on one lock of the
    process (woken as the last commits) rather than meet SQLite's busy sleeps; every
    row lands, in one chain that verifies."""
    import threading

    path = tmp_path / "j" / "journal.db"
    journals = [Journal(path) for _ in range(4)]
    other = Journal(tmp_path / "k" / "journal.db")
    assert all(j.lock is journals[0].lock for j in journals)
    assert other.lock is not journals[0].lock

    def write(n: int) -> None:
        for i in range(25):
            row(journals[n], n * 100 + i)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert count_elsewhere(path) == 100
    assert journals[0].verify().ok
    for journal in (*journals, other):
        journal.close()
