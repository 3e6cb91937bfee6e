"""WAL mode for a SQLite file several processes and threads open at once.

Switching a database to WAL needs a lock that SQLite does not wait for with the busy
timeout: two first openers at once, or one opening while another writes, get
"database is locked" at once (seen with the ticket store under `serve`'s workers). The
mode is read first (no lock needed once it is WAL) and the switch retried briefly."""

from __future__ import annotations

import sqlite3
import time

WAIT_SECONDS = 30.0


def use_wal(db: sqlite3.Connection, *, wait: float = WAIT_SECONDS) -> None:
    """Put `db`'s file in WAL mode, waiting up to `wait` seconds for other openers."""
    deadline = time.monotonic() + wait
    pause = 0.005
    while True:
        try:
            (mode,) = db.execute("PRAGMA journal_mode").fetchone()
            if str(mode).lower() != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.2)
