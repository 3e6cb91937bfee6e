"""The durable queue of triggered work, and the watchers' cursors, in the journal's database.

A trigger is one ticket event (a ticket seen by `watch`, a webhook delivery) under an
idempotency key that names the event and the ticket-system instance it happened in
(`rt:12:created@https://rt.example.com`, `event_key`; the instance is
`tickets/instance.py`'s): the same event twice is one trigger, so one run, whichever
profile hears it; ticket 12 of another instance is another trigger.
Its status moves queued -> (waiting ->) running -> done | failed, or ends as refused,
rejected, cancelled or ignored; a process that dies leaves it queued or running, and
the next one picks it up (a running trigger's run is resumed from the journal, under
the run id it was given before it started).

A watcher's cursor (the newest ticket it has recorded) is written in the same
transaction as the triggers it covers: a restart neither misses nor repeats a ticket.
What a trigger did is in the hash-chained journal rows of its run; this table is the
work list, so it is updated in place (SQLite's own transactions keep it whole).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from adminkit.core.jsonvalues import encode
from adminkit.core.secrets import redact_obj
from adminkit.journal.store import Journal

OPEN = ("queued", "waiting", "running")
ENDED = ("done", "failed", "refused", "rejected", "cancelled", "ignored")
TABLES = (f"""
CREATE TABLE IF NOT EXISTS triggers (
    key      TEXT PRIMARY KEY,
    source   TEXT NOT NULL,
    profile  TEXT,
    ticket   TEXT,
    status   TEXT NOT NULL CHECK (status IN ({", ".join(repr(s) for s in OPEN + ENDED)})),
    run_id   TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    detail   TEXT NOT NULL DEFAULT '{{}}',
    created  TEXT NOT NULL,
    updated  TEXT NOT NULL
)""", "CREATE INDEX IF NOT EXISTS triggers_open ON triggers (status, created)",
          "CREATE INDEX IF NOT EXISTS triggers_run ON triggers (run_id)", """
CREATE TABLE IF NOT EXISTS cursors (
    source  TEXT PRIMARY KEY,
    value   TEXT NOT NULL,
    updated TEXT NOT NULL
)""")


def event_key(event: str, instance: str) -> str:
    """A trigger's key: the event as its system names it (`rt:12:created`) in `instance`."""
    return f"{event}@{instance}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Trigger:
    key: str
    source: str
    profile: str | None
    ticket: str | None
    status: str
    run_id: str | None
    attempts: int
    detail: dict[str, Any]
    created: str
    updated: str


class Triggers:
    """The SQLite implementation of the run queue (one machine; the `serve` process's
    workers and any `watch` share it through SQLite's locking)."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        with journal.lock:
            for sql in TABLES:
                journal.db.execute(sql)

    def _write(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[int]:
        """Statements in one IMMEDIATE transaction; each one's row count."""
        db = self.journal.db
        counts = []
        with self.journal.lock:
            db.execute("BEGIN IMMEDIATE")
            try:
                for sql, args in statements:
                    counts.append(db.execute(sql, args).rowcount)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return counts

    def add(self, key: str, *, source: str, profile: str | None, ticket: str | None,
            detail: dict[str, Any] | None = None, status: str = "queued",
            cursor: str | None = None) -> bool:
        """Queue an event unless its key is known; True if it is new. `cursor`: the
        source's cursor moves to it in the same transaction."""
        return self.add_many([(key, ticket, detail or {})], source=source, profile=profile,
                             status=status, cursor=cursor)[0]

    def add_many(self, events: Sequence[tuple[str, str | None, dict[str, Any]]], *,
                 source: str, profile: str | None, status: str = "queued",
                 cursor: str | None = None) -> list[bool]:
        now = _now()
        statements: list[tuple[str, Sequence[Any]]] = [(
            "INSERT OR IGNORE INTO triggers (key, source, profile, ticket, status, detail, "
            "created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (key, source, profile, ticket, status, _json(detail), now, now))
            for key, ticket, detail in events]
        if cursor is not None:
            statements.append(("INSERT INTO cursors (source, value, updated) VALUES (?, ?, ?) "
                               "ON CONFLICT (source) DO UPDATE SET value = excluded.value, "
                               "updated = excluded.updated", (source, cursor, now)))
        counts = self._write(statements)
        return [c == 1 for c in counts[:len(events)]]

    def adopt(self, profile: str, prefix: str, instance: str,
              sources: tuple[str, str] | None = None) -> None:
        """Name `instance` in the keys of this profile's `prefix` triggers written before
        keys named it (`rt:12:created`), once, in one transaction: what they queued is
        resumed, approved and de-duplicated as before. `sources`: (old, new) name of a
        watcher's cursor and its triggers' source, the cursor copied unless the new one
        exists already."""
        statements: list[tuple[str, Sequence[Any]]] = [(
            "UPDATE OR IGNORE triggers SET key = key || '@' || ? WHERE profile = ? "
            "AND substr(key, 1, ?) = ? AND instr(key, '@') = 0",
            (instance, profile, len(prefix) + 1, f"{prefix}:"))]
        if sources is not None:
            old, new = sources
            statements += [
                ("UPDATE triggers SET source = ? WHERE profile = ? AND source = ?",
                 (new, profile, old)),
                ("INSERT OR IGNORE INTO cursors (source, value, updated) "
                 "SELECT ?, value, updated FROM cursors WHERE source = ?", (new, old))]
        self._write(statements)

    def move(self, key: str, to: str, *, was: Sequence[str] | None = None,
             run_id: str | None = None, detail: dict[str, Any] | None = None,
             attempt: bool = False) -> bool:
        """Set a trigger's status (only from one of `was`, if given: a claim that one
        process wins); `detail` is merged into what it holds. True if it moved."""
        sets = ["status = ?", "updated = ?"]
        args: list[Any] = [to, _now()]
        if run_id is not None:
            sets.append("run_id = ?")
            args.append(run_id)
        if detail:
            sets.append("detail = json_patch(detail, ?)")
            args.append(_json(detail))
        if attempt:
            sets.append("attempts = attempts + 1")
        where = "key = ?"
        args.append(key)
        if was is not None:
            where += f" AND status IN ({', '.join('?' * len(was))})"
            args.extend(was)
        return self._write([(f"UPDATE triggers SET {', '.join(sets)} "  # noqa: S608
                             f"WHERE {where}", args)])[0] == 1

    def get(self, key: str) -> Trigger | None:
        rows = self._select("key = ?", [key])
        return rows[0] if rows else None

    def by_run(self, run_id: str) -> Trigger | None:
        rows = self._select("run_id = ?", [run_id])
        return rows[0] if rows else None

    def open(self, profile: str | None = None, source: str | None = None) -> list[Trigger]:
        """Triggers not ended yet, oldest first (of one profile and source, if given)."""
        where, args = f"status IN ({', '.join('?' * len(OPEN))})", list(OPEN)
        for column, value in (("profile", profile), ("source", source)):
            if value is not None:
                where += f" AND {column} = ?"
                args.append(value)
        return self._select(where, args)

    def all(self, ticket: str | None = None) -> list[Trigger]:
        return self._select("ticket = ?", [ticket]) if ticket else self._select("1", [])

    def _select(self, where: str, args: Sequence[Any]) -> list[Trigger]:
        with self.journal.lock:  # the connection may be shared by threads: read it whole
            rows = self.journal.db.execute(
                f"SELECT * FROM triggers WHERE {where} ORDER BY created, key",  # noqa: S608
                args).fetchall()
        return [Trigger(**{**dict(r), "detail": json.loads(r["detail"])}) for r in rows]

    def cursor(self, source: str) -> str | None:
        with self.journal.lock:
            rows = self.journal.db.execute("SELECT value FROM cursors WHERE source = ?",
                                           (source,)).fetchall()
        return str(rows[0]["value"]) if rows else None


def _json(detail: dict[str, Any]) -> str:
    return encode(redact_obj(detail))
