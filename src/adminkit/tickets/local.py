"""The embedded ticket store: a request history for a team without a ticket system.

SQLite beside the journal. Tickets have a subject, requester, status and notes;
`adminkit ticket new|show|list|note|close` work on it, and runs note on it like on
any other system.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adminkit.core import paths
from adminkit.core.errors import UsageError
from adminkit.core.sqlitewal import use_wal
from adminkit.tickets.base import Ticket, TicketNotFound, TicketRef, parse_ref

SCHEMA = """
CREATE TABLE IF NOT EXISTS tickets (
    id INTEGER PRIMARY KEY, subject TEXT NOT NULL, requester TEXT, queue TEXT,
    status TEXT NOT NULL DEFAULT 'open', created TEXT NOT NULL, updated TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY, ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    time TEXT NOT NULL, author TEXT NOT NULL, internal INTEGER NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS notes_ticket ON notes (ticket_id);
"""


def default_path() -> Path:
    import os

    override = os.environ.get("ADMINKIT_TICKETS")
    return Path(override) if override else paths.state_home() / "tickets.db"


def number(ticket_id: str) -> int:
    """`12` or `local:12`; anything else is a usage error, never a crash."""
    ref = parse_ref(ticket_id, "local", what="ticket")
    if ref.kind != "local":
        raise UsageError(f"{ticket_id!r} is not a local ticket",
                         hint="the local store takes a number or local:NUMBER")
    return int(ref.id)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class LocalTickets:
    kind = "local"

    def __init__(self, path: Path | None = None, author: str = "adminkit") -> None:
        self.path = path or default_path()
        paths.private_dir(self.path.parent)
        import os

        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        paths.tighten(self.path, 0o600, "the ticket store")
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        use_wal(self.db)
        self.db.executescript(SCHEMA)
        self.author = author

    def close(self) -> None:
        self.db.close()

    def ping(self) -> str:
        """Nothing remote: the store is a file on this machine."""
        (count,) = self.db.execute("SELECT count(*) FROM tickets").fetchone()
        return f"local ticket store {self.path} ({count} tickets), nothing remote to reach"

    def _row(self, ticket_id: str) -> sqlite3.Row:
        row: sqlite3.Row | None = self.db.execute(
            "SELECT * FROM tickets WHERE id = ?", (number(ticket_id),)).fetchone()
        if row is None:
            raise TicketNotFound(f"local ticket {ticket_id} does not exist",
                                 hint="`adminkit ticket list` shows them")
        return row

    def new(self, subject: str, requester: str | None = None, queue: str | None = None) -> str:
        now = _now()
        cur = self.db.execute("INSERT INTO tickets (subject, requester, queue, created, updated)"
                              " VALUES (?, ?, ?, ?, ?)", (subject, requester, queue, now, now))
        return str(cur.lastrowid)

    def all(self, status: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM tickets", []
        if status:
            sql, args = sql + " WHERE status = ?", [status]
        return [dict(r) for r in self.db.execute(sql + " ORDER BY id", args)]

    def notes(self, ticket_id: str) -> list[dict[str, Any]]:
        self._row(ticket_id)
        return [dict(r) for r in self.db.execute(
            "SELECT * FROM notes WHERE ticket_id = ? ORDER BY id", (number(ticket_id),))]

    def add_note(self, ticket_id: str, text: str, *, internal: bool = True) -> str:
        self._row(ticket_id)
        now = _now()
        self.db.execute("BEGIN IMMEDIATE")  # one commit (one fsync) for the note and the stamp
        try:
            cur = self.db.execute("INSERT INTO notes (ticket_id, time, author, internal, body) "
                                  "VALUES (?, ?, ?, ?, ?)",
                                  (number(ticket_id), now, self.author, int(internal), text))
            self.db.execute("UPDATE tickets SET updated = ? WHERE id = ?",
                            (now, number(ticket_id)))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return str(cur.lastrowid)

    def find_note(self, ticket_id: str, marker: str) -> str | None:
        row = self.db.execute("SELECT id FROM notes WHERE ticket_id = ? AND instr(body, ?) > 0",
                              (number(ticket_id), marker)).fetchone()
        return str(row["id"]) if row else None

    def get(self, ticket_id: str) -> Ticket:
        row = self._row(ticket_id)
        return Ticket(ref=TicketRef("local", str(number(ticket_id))), subject=row["subject"],
                      status=row["status"], queue=row["queue"], requester=row["requester"])

    def set_status(self, ticket_id: str, status: str) -> None:
        self._row(ticket_id)
        self.db.execute("UPDATE tickets SET status = ?, updated = ? WHERE id = ?",
                        (status, _now(), number(ticket_id)))

    def attach(self, ticket_id: str, filename: str, data: bytes) -> None:
        self.add_note(ticket_id, f"attachment {filename} ({len(data)} bytes) kept elsewhere")
