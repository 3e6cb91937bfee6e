"""SQLite journal, append-only and hash-chained.

Every row carries the SHA-256 of its own content and of the previous row, so a
changed, removed or reordered row breaks the chain at that point and `verify`
names it. Triggers refuse UPDATE and DELETE through SQLite itself; the chain
catches edits made around them (another tool, a copied file).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from adminkit.core import paths
from adminkit.core.errors import JournalError, UsageError
from adminkit.core.files import read_small
from adminkit.core.result import Result, Status
from adminkit.core.secrets import redact, redact_obj

GENESIS = "0" * 64
WAL = ("-wal", "-shm")  # SQLite's files beside the database
# While rows are appended the head file is rewritten at most this often (and on close):
# a crash can leave it up to this far behind, which only shortens what it vouches for.
HEAD_EVERY = 0.25
COLUMNS = ("seq", "kind", "time", "run_id", "idx", "operator", "profile", "ticket", "mode",
           "action", "target", "status", "summary", "diff", "error", "detail")
INSERT_SQL = (f"INSERT INTO entries ({', '.join(COLUMNS)}, prev_hash, hash) "  # noqa: S608
              f"VALUES ({', '.join('?' * len(COLUMNS))}, ?, ?)")

SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    seq       INTEGER PRIMARY KEY,
    kind      TEXT NOT NULL CHECK (kind IN ('run', 'action', 'end')),
    time      TEXT NOT NULL,
    run_id    TEXT NOT NULL,
    idx       INTEGER,
    operator  TEXT NOT NULL,
    profile   TEXT,
    ticket    TEXT,
    mode      TEXT NOT NULL,
    action    TEXT,
    target    TEXT,
    status    TEXT,
    summary   TEXT,
    diff      TEXT,
    error     TEXT,
    detail    TEXT,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_run ON entries (run_id, idx);
CREATE INDEX IF NOT EXISTS entries_ticket ON entries (ticket);
CREATE INDEX IF NOT EXISTS entries_target ON entries (target);
CREATE TABLE IF NOT EXISTS outbox (
    id           INTEGER PRIMARY KEY,
    key          TEXT NOT NULL UNIQUE,
    run_id       TEXT NOT NULL,
    system       TEXT NOT NULL,
    ticket       TEXT NOT NULL,
    profile      TEXT,
    internal     INTEGER NOT NULL,
    body         TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt TEXT NOT NULL,
    lease_until  TEXT,
    last_error   TEXT,
    remote_id    TEXT,
    created      TEXT NOT NULL,
    delivered    TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_attempt);
CREATE TRIGGER IF NOT EXISTS entries_append_only_u BEFORE UPDATE ON entries
BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
CREATE TRIGGER IF NOT EXISTS entries_append_only_d BEFORE DELETE ON entries
BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
"""


def row_hash(prev_hash: str, row: dict[str, Any]) -> str:
    payload = json.dumps([row.get(c) for c in COLUMNS], ensure_ascii=False,
                         separators=(",", ":"))
    return hashlib.sha256((prev_hash + payload).encode()).hexdigest()


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    rows: int
    first_bad: int | None = None
    reason: str = ""


@dataclass
class Filters:
    run_id: str | None = None
    ticket: str | None = None
    target: str | None = None
    operator: str | None = None
    status: str | None = None
    action: str | None = None
    since: datetime | None = None
    kinds: Sequence[str] = ("action",)
    limit: int | None = None


class Journal:
    """One journal file. Safe to share between threads; several processes may append."""

    def __init__(self, path: Path) -> None:
        self.path = path
        paths.private_dir(path.parent)
        # Create it private first: SQLite gives the -wal and -shm files the database's mode.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        for own in (path, self.head_path, *(path.with_name(path.name + s) for s in WAL)):
            paths.tighten(own, 0o600, "the journal file")
        try:
            self.db = sqlite3.connect(path, timeout=30, isolation_level=None,
                                      check_same_thread=False)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"cannot open the journal {path}: {exc}",
                               hint="check ADMINKIT_JOURNAL and the file's permissions") from None
        self.lock = threading.Lock()
        self._head_due: tuple[int, str] | None = None  # the newest row, once the head lags
        self._head_written = 0.0

    def close(self) -> None:
        with self.lock:
            self._flush_head()
        self.db.close()

    # -- writing ------------------------------------------------------------------
    def append(self, note: dict[str, Any] | None = None, **fields: Any) -> int:
        """Append one row inside an IMMEDIATE transaction; return its seq.

        `note` (key, system, ticket, internal, body) goes into the ticket outbox in the
        same transaction: a journaled action always has its note queued, and vice versa.
        """
        return self.append_many([(note, fields)])[0]

    def append_many(self, rows: Sequence[tuple[dict[str, Any] | None, dict[str, Any]]], *,
                    scrubbed: bool = False) -> list[int]:
        """Several (note, fields) rows, in order, in one transaction; their seqs.
        `scrubbed`: their diff and detail went through redact already (Result.public)."""
        prepared = [(note, self._row(fields, scrubbed)) for note, fields in rows]
        seqs: list[int] = []
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                last = self.db.execute(
                    "SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
                seq = last["seq"] if last else 0
                prev = last["hash"] if last else GENESIS
                for note, row in prepared:
                    seq += 1
                    row["seq"] = seq
                    digest = row_hash(prev, row)
                    self.db.execute(INSERT_SQL, [row[c] for c in COLUMNS] + [prev, digest])
                    if note is not None:
                        self._enqueue(note, row)
                    seqs.append(seq)
                    prev = digest
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            if seqs:
                self._head_due = (seq, prev)
                if time.monotonic() - self._head_written >= HEAD_EVERY:
                    self._flush_head()
        return seqs

    @staticmethod
    def _row(fields: dict[str, Any], scrubbed: bool = False) -> dict[str, Any]:
        row = {c: _text(fields.get(c)) for c in COLUMNS if c != "seq"}
        row["idx"] = fields.get("idx")
        for key in ("summary", "error", "target", "diff", "detail"):
            if isinstance(row[key], str):
                row[key] = redact(row[key])
            elif row[key] is None:
                continue
            elif scrubbed:  # Result.public(): every string already scrubbed
                row[key] = json.dumps(row[key], ensure_ascii=False, default=str)
            else:  # each string, then what default=str made of objects
                row[key] = redact(json.dumps(redact_obj(row[key]), ensure_ascii=False,
                                             default=str))
        row["time"] = row["time"] or datetime.now(UTC).isoformat(timespec="microseconds")
        return row

    def _enqueue(self, note: dict[str, Any], row: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO outbox (key, run_id, system, ticket, profile, internal, body,"
            " next_attempt, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (note["key"], row["run_id"], note["system"], note["ticket"], row["profile"],
             int(note.get("internal", True)), redact(note["body"]), row["time"], row["time"]))

    # -- the ticket outbox ------------------------------------------------------------
    def outbox(self, status: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM outbox", []
        if status:
            sql, args = sql + " WHERE status = ?", [status]
        return [dict(r) for r in self.db.execute(sql + " ORDER BY id", args)]

    def claim_due(self, now: datetime, lease_seconds: float = 120,
                  run_id: str | None = None) -> list[dict[str, Any]]:
        """Pending notes whose time has come (of one run, if given), leased to this
        process so no other posts them."""
        stamp = now.isoformat(timespec="microseconds")
        until = (now + timedelta(seconds=lease_seconds)).isoformat(timespec="microseconds")
        only_run = "AND run_id = ? " if run_id is not None else ""
        args = (stamp, stamp, run_id) if run_id is not None else (stamp, stamp)
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                rows = [dict(r) for r in self.db.execute(
                    "SELECT * FROM outbox WHERE status = 'pending' AND next_attempt <= ? "  # noqa: S608
                    f"AND (lease_until IS NULL OR lease_until < ?) {only_run}ORDER BY id",
                    args)]
                self.db.executemany("UPDATE outbox SET lease_until = ? WHERE id = ?",
                                    [(until, r["id"]) for r in rows])
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        return rows

    def note_delivered(self, note_id: int, remote_id: str) -> None:
        self._update_note(note_id, status="delivered", remote_id=remote_id,
                          delivered=datetime.now(UTC).isoformat(timespec="microseconds"),
                          lease_until=None)

    def note_retry(self, note_id: int, error: str, next_attempt: datetime) -> None:
        self._update_note(note_id, last_error=redact(error), lease_until=None,
                          next_attempt=next_attempt.isoformat(timespec="microseconds"),
                          attempts_plus=1)

    def note_failed(self, note_id: int, error: str) -> None:
        self._update_note(note_id, status="failed", last_error=redact(error), lease_until=None,
                          attempts_plus=1)

    def requeue_failed(self) -> int:
        with self.lock:
            cur = self.db.execute("UPDATE outbox SET status = 'pending', next_attempt = ? "
                                  "WHERE status = 'failed'",
                                  (datetime.now(UTC).isoformat(timespec="microseconds"),))
            return cur.rowcount

    def _update_note(self, note_id: int, *, attempts_plus: int = 0, **values: Any) -> None:
        sets = ", ".join(f"{k} = ?" for k in values)  # keys are fixed by the callers above
        with self.lock:
            self.db.execute(f"UPDATE outbox SET {sets}, attempts = attempts + ? "  # noqa: S608
                            "WHERE id = ?", [*values.values(), attempts_plus, note_id])

    @property
    def head_path(self) -> Path:
        return self.path.with_name(self.path.name + ".head")

    def _flush_head(self) -> None:
        if self._head_due is not None:
            self._write_head(*self._head_due)
            self._head_due, self._head_written = None, time.monotonic()

    def _write_head(self, seq: int, digest: str) -> None:
        """Remember the newest row outside the database, so that rows cut off the end show.

        Another process may have written a newer head meanwhile; never move it back.
        """
        head = self.read_head()
        if head is not None and head[0] >= seq:
            return
        tmp = self.head_path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(json.dumps({"seq": seq, "hash": digest}))
        tmp.replace(self.head_path)

    def read_head(self) -> tuple[int, str] | None:
        try:
            data = json.loads(read_small(self.head_path, 4096, follow_links=False))
            return int(data["seq"]), str(data["hash"])
        except (UsageError, ValueError, KeyError, TypeError):
            return None

    # -- reading ------------------------------------------------------------------
    def entries(self, f: Filters | None = None) -> list[dict[str, Any]]:
        f = f or Filters()
        where: list[str] = []
        args: list[Any] = []
        if f.kinds:
            where.append(f"kind IN ({', '.join('?' * len(f.kinds))})")
            args.extend(f.kinds)
        for column, value in (("run_id", f.run_id), ("ticket", f.ticket),
                              ("operator", f.operator), ("status", f.status),
                              ("action", f.action)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if f.target is not None:
            where.append("target = ?")
            args.append(f.target)
        if f.since is not None:
            where.append("time >= ?")
            args.append(f.since.astimezone(UTC).isoformat(timespec="microseconds"))
        sql = "SELECT * FROM entries"  # conditions are fixed text; values are bound
        if where:
            sql += " WHERE " + " AND ".join(where)
        if f.limit:  # the newest `limit` rows, still printed oldest first
            sql = f"SELECT * FROM ({sql} ORDER BY seq DESC LIMIT ?) ORDER BY seq"  # noqa: S608
            args.append(int(f.limit))
        else:
            sql += " ORDER BY seq"
        return [_decode(r) for r in self.db.execute(sql, args)]

    def run(self, run_id: str) -> dict[str, Any] | None:
        rows = self.db.execute("SELECT * FROM entries WHERE run_id = ? AND kind = 'run' "
                               "ORDER BY seq LIMIT 1", (run_id,)).fetchall()
        return _decode(rows[0]) if rows else None

    def done_indexes(self, run_id: str) -> set[int]:
        """Action indexes of this run that finished ok or changed, in any attempt."""
        rows = self.db.execute(
            "SELECT idx FROM entries WHERE run_id = ? AND kind = 'action' AND mode = 'apply' "
            "AND status IN ('ok', 'changed')", (run_id,))
        return {int(r["idx"]) for r in rows}

    def done_results(self, run_id: str) -> dict[int, Result]:
        """The results of this run's actions that finished ok or changed, by index, as
        journaled: a resumed playbook sees what its earlier steps registered."""
        rows = self.db.execute(
            "SELECT * FROM entries WHERE run_id = ? AND kind = 'action' AND mode = 'apply' "
            "AND status IN ('ok', 'changed') ORDER BY seq", (run_id,))
        out = {}
        for raw in rows:
            row = _decode(raw)
            out[int(row["idx"])] = Result(
                action=row["action"], target=row["target"], status=Status(row["status"]),
                summary=row["summary"], data=row["detail"] if isinstance(row["detail"], dict)
                else {})
        return out

    def iter_all(self) -> Iterator[sqlite3.Row]:
        yield from self.db.execute("SELECT * FROM entries ORDER BY seq")

    def verify(self) -> VerifyReport:
        prev, expected_seq, count = GENESIS, 1, 0
        for raw in self.iter_all():
            row = dict(raw)
            count += 1
            if row["seq"] != expected_seq:
                return VerifyReport(False, count, expected_seq,
                                    f"row {expected_seq} is missing (next is {row['seq']})")
            if row["prev_hash"] != prev:
                return VerifyReport(False, count, row["seq"],
                                    "does not follow the previous row (removed or reordered)")
            if row_hash(prev, row) != row["hash"]:
                return VerifyReport(False, count, row["seq"], "its content was altered")
            prev, expected_seq = row["hash"], expected_seq + 1
        head = self.read_head()
        if head is not None:
            seq, digest = head
            if seq > count:
                return VerifyReport(False, count, count + 1,
                                    f"rows {count + 1}..{seq} were removed from the end "
                                    f"(the head file {self.head_path.name} records row {seq})")
            row = self.db.execute("SELECT hash FROM entries WHERE seq = ?", (seq,)).fetchone()
            if row is None or row["hash"] != digest:
                return VerifyReport(False, count, seq,
                                    f"does not match the head file {self.head_path.name}")
        return VerifyReport(True, count)


def _text(value: Any) -> Any:
    """Store what will be read back: SQLite's TEXT affinity turns 42 into '42', and the
    hash must cover the stored form, or an untouched row would fail `verify`."""
    if value is None or isinstance(value, str | dict | list):
        return value
    return str(value)


def _decode(row: sqlite3.Row) -> dict[str, Any]:
    out = dict(row)
    for key in ("diff", "detail"):
        if out.get(key):
            with contextlib.suppress(ValueError):
                out[key] = json.loads(out[key])
    return out
