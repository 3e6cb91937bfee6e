"""SQLite journal, append-only and hash-chained under a key.

Every row carries an HMAC-SHA256 (under the journal key, `journal.keys`) of its own
content and of the previous row's hash, so a changed, removed or reordered row breaks
the chain at that point, and rewriting every row needs the key. Rows an older adminkit
wrote carry plain SHA-256; `journal_meta` records, under the key, the row where keying
began. Triggers refuse UPDATE and DELETE through SQLite itself; a dropped trigger is
reported by `verify`, never quietly re-created. The head file (outside SQLite, signed
with the key) names the newest row, so rows cut off the end show. `journal.verify`
checks all of it.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import sqlite3
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from adminkit.core import paths
from adminkit.core.errors import AdminkitError, JournalError, UsageError
from adminkit.core.files import read_small
from adminkit.core.jsonvalues import encode
from adminkit.core.result import Result, Status
from adminkit.core.run import operator_is
from adminkit.core.secrets import redact, redact_obj
from adminkit.core.sqlitewal import use_wal
from adminkit.journal import anchor
from adminkit.journal.keys import JournalKey, key_reference, load_key

GENESIS = "0" * 64
WAL = ("-wal", "-shm")  # SQLite's files beside the database
# While rows are appended the head file is rewritten at most this often (and on close):
# a crash can leave it up to this far behind, which only shortens what it vouches for.
HEAD_EVERY = 0.25
BUSY_SECONDS = 30.0  # how long a write waits for another process's transaction
COLUMNS = ("seq", "kind", "time", "run_id", "idx", "operator", "profile", "ticket", "mode",
           "action", "target", "status", "summary", "diff", "error", "detail")
INSERT_SQL = (f"INSERT INTO entries ({', '.join(COLUMNS)}, prev_hash, hash) "  # noqa: S608
              f"VALUES ({', '.join('?' * len(COLUMNS))}, ?, ?)")

TABLES = ("""
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
)""", "CREATE INDEX IF NOT EXISTS entries_run ON entries (run_id, idx)",
          "CREATE INDEX IF NOT EXISTS entries_ticket ON entries (ticket)",
          "CREATE INDEX IF NOT EXISTS entries_target ON entries (target)", """
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
                 CHECK (status IN ('pending', 'delivered', 'failed', 'published')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt TEXT NOT NULL,
    lease_until  TEXT,
    last_error   TEXT,
    remote_id    TEXT,
    created      TEXT NOT NULL,
    delivered    TEXT,
    acknowledged TEXT,
    retried      TEXT
)""", "CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_attempt)")
# An outbox from before `published` (an internal note the system made public) and
# `acknowledged` (a person has seen a failed or published note): rebuilt once.
OUTBOX_COLUMNS = ("id, key, run_id, system, ticket, profile, internal, body, status, attempts, "
                  "next_attempt, lease_until, last_error, remote_id, created, delivered")
# Where keying began, under the key: keyed_from, key_id, keyed_mac; and what
# `verify --restore` put back (restored:TIME). Append-only like the entries.
META_TABLE = "CREATE TABLE IF NOT EXISTS journal_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
_REFUSE = "BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END"
TRIGGERS = {
    "entries_append_only_u": f"CREATE TRIGGER entries_append_only_u BEFORE UPDATE ON entries "
                             f"{_REFUSE}",
    "entries_append_only_d": f"CREATE TRIGGER entries_append_only_d BEFORE DELETE ON entries "
                             f"{_REFUSE}",
    "meta_append_only_u": f"CREATE TRIGGER meta_append_only_u BEFORE UPDATE ON journal_meta "
                          f"{_REFUSE}",
    "meta_append_only_d": f"CREATE TRIGGER meta_append_only_d BEFORE DELETE ON journal_meta "
                          f"{_REFUSE}",
}


# One lock per journal file in this process, shared by every Journal open on it (see
# `_file_lock`); weak, so a file no longer open leaves nothing behind.
_FILE_LOCKS: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()
_FILE_LOCKS_GUARD = threading.Lock()


def _file_lock(path: Path) -> Any:
    """The process's lock for this journal file. Threads of one process that each open
    the file (serve's workers, a run's own Journal, the HTTP side) queue here for a
    write, and the next one is woken the moment the last commits; through SQLite alone
    they collide, and its busy handler sleeps 1, 2, 5 … 100 ms between tries (measured:
    4 workers slower than 1). Other processes still meet SQLite's locking."""
    name = os.path.realpath(path)
    with _FILE_LOCKS_GUARD:
        lock = _FILE_LOCKS.get(name)
        if lock is None:
            lock = _FILE_LOCKS[name] = threading.RLock()
        return lock


# json.dumps(..., ensure_ascii=False, separators=(",", ":")), one encoder for every row
_hash_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def row_hash(prev_hash: str, row: dict[str, Any], key: JournalKey | None = None) -> str:
    """The row's link: HMAC-SHA256 under the key, or plain SHA-256 (rows from before
    keying, or with `key` None)."""
    payload = _hash_encode([row.get(c) for c in COLUMNS])
    data = (prev_hash + payload).encode()
    if key is None:
        return hashlib.sha256(data).hexdigest()
    return hmac.new(key.secret, data, hashlib.sha256).hexdigest()


def keying_mac(key: JournalKey, keyed_from: int, prev_hash: str) -> str:
    """Binds where keying began to the row before it: moving the start is detected."""
    return key.mac(f"keyed_from:{keyed_from}:{prev_hash}")


def head_mac(key: JournalKey, seq: int, digest: str, keyed_from: int | None) -> str:
    return key.mac(f"head:{seq}:{digest}:{keyed_from}")


@dataclass(frozen=True)
class Head:
    """The head file: the newest row when it was written; `mac` None from older adminkit."""

    seq: int
    digest: str
    keyed_from: int | None = None
    mac: str | None = None


def load_head(path: Path) -> Head | None:
    """None if there is no head file; ValueError if it is there but unreadable."""
    if not os.path.lexists(path):
        return None
    try:  # bounded, and never through a link planted where the head belongs
        text = read_small(path, 4096, follow_links=False)
    except UsageError as exc:
        raise ValueError(exc.message) from None
    try:
        data = json.loads(text)
        head = Head(int(data["seq"]), str(data["hash"]),
                    None if data.get("keyed_from") is None else int(data["keyed_from"]),
                    None if data.get("mac") is None else str(data["mac"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ValueError("is not a head record (truncated or garbled)") from None
    if head.seq < 0 or len(head.digest) != 64:
        raise ValueError("is not a head record (truncated or garbled)")
    return head


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    rows: int
    first_bad: int | None = None
    reason: str = ""
    problems: list[str] = field(default_factory=list)  # every finding, the first = reason
    notices: list[str] = field(default_factory=list)  # worth knowing, not a failure
    keyed_from: int | None = None
    anchors: int = 0  # anchors checked
    # not ok only because the key at hand is missing or another one: nothing was found
    # wrong with the rows, they just could not be checked
    unchecked: bool = False
    damaged: str = ""  # SQLite could not read the database's pages: its error


@dataclass
class Filters:
    run_id: str | None = None
    ticket: str | None = None
    target: str | None = None
    operator: str | None = None  # `operator_is`: the recorded text, the claimed name or login
    status: str | None = None
    action: str | None = None
    since: datetime | None = None
    kinds: Sequence[str] = ("action",)
    limit: int | None = None
    # `started` rows announce a write before it is made; once the action's outcome is
    # journaled they say nothing more, and listings leave them out. An intent with no
    # outcome (a run killed during its writes) is always shown.
    settled_intents: bool = False


class Journal:
    """One journal file. Safe to share between threads; several processes may append.

    `key`: the journal key; by default the configured one (`journal.keys`), made on
    first use for a journal that is new or not keyed yet. Without it the journal can
    be read but not appended to, nor its keyed rows verified.
    """

    def __init__(self, path: Path, key: JournalKey | None = None) -> None:
        self.path = path
        paths.private_dir(path.parent)
        # Create it private first: SQLite gives the -wal and -shm files the database's mode.
        # Only if it is missing: closing any descriptor of a file drops every POSIX lock
        # this process holds on it, so reopening a journal another Journal of this
        # process has open would let a third process take the WAL from under it.
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
        for own in (path, self.head_path, *(path.with_name(path.name + s) for s in WAL)):
            paths.tighten(own, 0o600, "the journal file")
        self.lock = _file_lock(path)  # reentrant: shared with this file's other Journals
        self._head_due: tuple[int, str] | None = None  # the newest row, once the head lags
        self._head_written = 0.0
        self._keyed_from: int | None = None  # known once this process has seen the marker
        self.key: JournalKey | None = key
        self.key_problem = ""
        try:
            self.db = sqlite3.connect(path, timeout=BUSY_SECONDS, isolation_level=None,
                                      check_same_thread=False)
            self.db.row_factory = sqlite3.Row
            self.db.create_function("operator_is", 2, operator_is, deterministic=True)
            use_wal(self.db)
            self.db.execute("PRAGMA synchronous=NORMAL")
            if "entries" not in self.schema_names():
                self._create()
            else:  # only tables and indexes: a missing trigger is evidence, left for verify
                for sql in TABLES:
                    self.db.execute(sql)
                self._upgrade_outbox()
                if self.key is None:
                    self._load_key(create="journal_meta" not in self.schema_names())
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"cannot open the journal {path}: {exc}",
                               hint="check ADMINKIT_JOURNAL and the file's permissions") from None

    def _load_key(self, *, create: bool) -> None:
        try:
            self.key = load_key(create=create)
        except AdminkitError as exc:  # reading still works; appending says why not
            self.key_problem = exc.message
        if self.key is None and not self.key_problem:
            self.key_problem = f"the journal key is missing ({key_reference()})"

    def _create(self) -> None:
        """A new journal: tables, triggers and keying from row 1, in one transaction.
        The head (row 0) is written before the commit, so no reader ever sees this
        journal without one."""
        if self.key is None:
            self._load_key(create=True)
        if self.key is None:
            raise JournalError(f"cannot create the journal {self.path}: {self.key_problem}",
                               hint="check ADMINKIT_JOURNAL_KEY")
        self.db.execute("BEGIN IMMEDIATE")
        try:
            if "entries" not in self.schema_names():  # nobody was quicker
                for sql in (*TABLES, META_TABLE, *TRIGGERS.values()):
                    self.db.execute(sql)
                self._insert_keying(1, GENESIS)
                self._write_head(0, GENESIS, 1, fresh=True)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def _upgrade_outbox(self) -> None:
        """The outbox is no evidence (rows change as notes are delivered): an old one is
        copied into the current table, in one transaction."""
        old = self.db.execute("SELECT sql FROM sqlite_master WHERE name = 'outbox'").fetchone()
        if old is not None and "'published'" in old[0]:
            self._add_outbox_column("retried")
            return
        if old is None:
            return
        outbox_sql, index_sql = TABLES[4], TABLES[5]
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                again = self.db.execute(
                    "SELECT sql FROM sqlite_master WHERE name = 'outbox'").fetchone()
                if "'published'" not in again[0]:  # nobody was quicker
                    self.db.execute("ALTER TABLE outbox RENAME TO outbox_old")
                    self.db.execute(outbox_sql)
                    self.db.execute(f"INSERT INTO outbox ({OUTBOX_COLUMNS}) "  # noqa: S608
                                    f"SELECT {OUTBOX_COLUMNS} FROM outbox_old")
                    self.db.execute("DROP TABLE outbox_old")
                    self.db.execute(index_sql)
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def _add_outbox_column(self, name: str) -> None:
        """A nullable column newer than the outbox (`retried`: when a person last asked
        for a failed note to be tried again)."""
        if name in {r[1] for r in self.db.execute("PRAGMA table_info(outbox)")}:
            return
        with self.lock:
            try:
                self.db.execute(f"ALTER TABLE outbox ADD COLUMN {name} TEXT")
            except sqlite3.OperationalError as exc:  # another process was quicker
                if "duplicate column" not in str(exc):
                    raise

    def schema_names(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT name FROM sqlite_master")}

    def close(self) -> None:
        with self.lock:
            self._flush_head()
        self.db.close()

    # -- writing ------------------------------------------------------------------
    def append(self, note: dict[str, Any] | None = None, **fields: Any) -> int:
        """Append one row inside an IMMEDIATE transaction; return its seq.

        `note` (key, system, ticket, internal, body) goes into the ticket outbox in the
        same transaction: a journaled action always has its note queued, and vice versa.
        A note with `anchor` set ends with this row's anchor (`journal.anchor`).
        """
        return self.append_many([(note, fields)])[0]

    def append_many(self, rows: Sequence[tuple[dict[str, Any] | None, dict[str, Any]]], *,
                    scrubbed: bool = False) -> list[int]:
        """Several (note, fields) rows, in order, in one transaction; their seqs.
        `scrubbed`: their texts, diff and detail went through redact already
        (Result.public)."""
        prepared = [(note, self._row(fields, scrubbed)) for note, fields in rows]
        seqs: list[int] = []
        ends: list[tuple[int, str, str]] = []
        with self.lock:
            try:
                self.db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:  # locked by another process, read-only
                raise self._unwritable(exc) from None
            try:
                last = self.db.execute(
                    "SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
                seq = last["seq"] if last else 0
                prev = last["hash"] if last else GENESIS
                key, keyed_from = self._keyed(seq + 1, prev)
                inserts: list[list[Any]] = []
                notes: list[tuple[dict[str, Any], dict[str, Any], str]] = []
                for note, row in prepared:
                    seq += 1
                    row["seq"] = seq
                    digest = row_hash(prev, row, key)
                    inserts.append([row[c] for c in COLUMNS] + [prev, digest])
                    if note is not None:
                        notes.append((note, row, digest))
                    if row["kind"] == "end":
                        ends.append((seq, digest, row["run_id"]))
                    seqs.append(seq)
                    prev = digest
                # in one call: each call gives the GIL up and may wait to get it back
                # behind a busy thread (a bulk unit's 25 rows were 25 such waits)
                self.db.executemany(INSERT_SQL, inserts)
                for note, row, digest in notes:
                    self._enqueue(note, row, digest)
                self.db.execute("COMMIT")
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error):  # a failed COMMIT may have ended it
                    self.db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.OperationalError):  # a full disk, an I/O error
                    raise self._unwritable(exc) from None
                raise
            self._keyed_from = keyed_from  # only once committed: a rollback takes it back
            if seqs:
                self._head_due = (seq, prev)
                if time.monotonic() - self._head_written >= HEAD_EVERY:
                    self._flush_head()
        for end_seq, digest, run_id in ends:  # each run's end, anchored off the database
            anchor.to_syslog(end_seq, digest, run_id=run_id, journal=str(self.path))
        return seqs

    def _unwritable(self, exc: sqlite3.OperationalError) -> JournalError:
        """SQLite's refusal to write, as adminkit's error (exit 1), not as a bug: nothing
        of the rows asked for was written."""
        text = str(exc)
        if "locked" in text or "busy" in text:
            hint = (f"another process holds it (waited {BUSY_SECONDS:g} s); `fuser "
                    f"{self.path}` names it")
        elif "full" in text:
            hint = "its disk is full: free space there"
        else:
            hint = "check the journal file, its folder and its disk"
        return JournalError(f"cannot write to the journal {self.path}: {text}", hint=hint)

    def _keyed(self, next_seq: int, prev: str) -> tuple[JournalKey, int]:
        """The key to chain the next rows with, and the row keying began at, inside the
        write transaction. An older journal starts keying here: the record goes in with
        its first keyed row."""
        if self.key is None:
            raise JournalError(f"cannot append to the journal {self.path}: {self.key_problem}",
                               hint="ADMINKIT_JOURNAL_KEY, or the key file in the state "
                                    "folder, must hold the key this journal was keyed with")
        if self._keyed_from is not None:
            return self.key, self._keyed_from
        if "journal_meta" in self.schema_names():
            marker = self.keying()
            if "keyed_from" not in marker:  # made together: one without the other was edited
                raise JournalError(f"the journal {self.path} has lost the record of where "
                                   "its keying began; it will not be appended to",
                                   hint="`adminkit journal verify` says more")
            if marker.get("key_id") != self.key.id:
                raise JournalError(
                    f"the journal {self.path} is keyed with key {marker.get('key_id')}, "
                    f"not with this key {self.key.id} ({self.key.source})",
                    hint="point ADMINKIT_JOURNAL_KEY at the key this journal was keyed with")
            return self.key, int(marker["keyed_from"])
        for sql in (META_TABLE, TRIGGERS["meta_append_only_u"], TRIGGERS["meta_append_only_d"]):
            self.db.execute(sql)
        self._insert_keying(next_seq, prev)
        return self.key, next_seq

    def _insert_keying(self, keyed_from: int, prev: str) -> None:
        assert self.key is not None
        self.db.executemany("INSERT INTO journal_meta (name, value) VALUES (?, ?)", [
            ("keyed_from", str(keyed_from)), ("key_id", self.key.id),
            ("keyed_mac", keying_mac(self.key, keyed_from, prev))])

    def keying(self) -> dict[str, str]:
        """The journal_meta rows (keyed_from, key_id, keyed_mac, restored:…)."""
        return {r[0]: r[1] for r in self.db.execute("SELECT name, value FROM journal_meta")}

    @staticmethod
    def _row(fields: dict[str, Any], scrubbed: bool = False) -> dict[str, Any]:
        row = {c: _text(fields.get(c)) for c in COLUMNS if c != "seq"}
        row["idx"] = fields.get("idx")
        for key in ("summary", "error", "target", "diff", "detail"):
            if isinstance(row[key], str):
                if not scrubbed:  # Result.public() scrubbed it
                    row[key] = redact(row[key])
            elif row[key] is None:
                continue
            elif scrubbed:  # Result.public(): every string already scrubbed
                row[key] = encode(row[key])
            else:  # each string, then what default=str made of objects
                row[key] = redact(encode(redact_obj(row[key])))
        row["time"] = row["time"] or datetime.now(UTC).isoformat(timespec="microseconds")
        return row

    def _enqueue(self, note: dict[str, Any], row: dict[str, Any], digest: str) -> None:
        body = redact(note["body"])
        if note.get("anchor"):
            body += "\n" + anchor.line(row["seq"], digest)
        self.db.execute(
            "INSERT OR IGNORE INTO outbox (key, run_id, system, ticket, profile, internal, body,"
            " next_attempt, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (note["key"], row["run_id"], note["system"], note["ticket"], row["profile"],
             int(note.get("internal", True)), body, row["time"], row["time"]))

    # -- the ticket outbox ------------------------------------------------------------
    def outbox(self, status: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM outbox", []
        if status:
            sql, args = sql + " WHERE status = ?", [status]
        return [dict(r) for r in self.db.execute(sql + " ORDER BY id", args)]

    def claim_due(self, now: datetime, lease_seconds: float = 120,
                  run_id: str | None = None, *, backoff: bool = True, after: int = 0,
                  limit: int | None = None) -> list[dict[str, Any]]:
        """Pending notes whose time has come (of one run, if given), leased to this
        process so no other posts them. `backoff` off: every pending note, due or not
        (an operator who knows the system is back); another process's lease still holds.
        `after`, `limit`: only notes with a higher id, and at most this many (a flush
        claims one at a time, so no lease runs out while earlier notes are delivered)."""
        stamp = now.isoformat(timespec="microseconds")
        until = (now + timedelta(seconds=lease_seconds)).isoformat(timespec="microseconds")
        due = "AND next_attempt <= ? " if backoff else ""
        only_run = "AND run_id = ? " if run_id is not None else ""
        args = [*([stamp] if backoff else []), stamp, *([run_id] if run_id is not None else [])]
        select = (f"SELECT * FROM outbox WHERE status = 'pending' {due}"  # noqa: S608
                  f"AND (lease_until IS NULL OR lease_until < ?) {only_run}AND id > ? "
                  "ORDER BY id LIMIT ?")
        with self.lock:
            # Nothing due (every flush ends so): a read, not a write transaction that
            # queues behind every other writer of the journal.
            if self.db.execute(f"SELECT EXISTS ({select})",
                               [*args, after, 1]).fetchone()[0] == 0:
                return []
            self.db.execute("BEGIN IMMEDIATE")
            try:
                rows = [dict(r) for r in self.db.execute(
                    select, [*args, after, -1 if limit is None else limit])]
                self.db.executemany("UPDATE outbox SET lease_until = ? WHERE id = ?",
                                    [(until, r["id"]) for r in rows])
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        return rows

    def pending(self, run_id: str | None = None) -> list[dict[str, Any]]:
        """Notes not delivered nor failed for good (of one run, if given): id, when they
        are next tried, and whether another process holds them now (lease_until)."""
        only_run, args = ("AND run_id = ? ", [run_id]) if run_id is not None else ("", [])
        return [dict(r) for r in self.db.execute(
            "SELECT id, next_attempt, lease_until FROM outbox "  # noqa: S608
            f"WHERE status = 'pending' {only_run}ORDER BY next_attempt", args)]

    def note_delivered(self, note_id: int, remote_id: str) -> None:
        self._update_note(note_id, status="delivered", remote_id=remote_id,
                          delivered=datetime.now(UTC).isoformat(timespec="microseconds"),
                          lease_until=None)

    def note_retry(self, note_id: int, error: str, next_attempt: datetime, *,
                   attempted: bool = True) -> None:
        """Try again at `next_attempt`; `attempted` False: it was not tried this time (a
        flush's deadline came first), which does not count towards its limit."""
        self._update_note(note_id, last_error=redact(error), lease_until=None,
                          next_attempt=next_attempt.isoformat(timespec="microseconds"),
                          attempts_plus=1 if attempted else 0)

    def note_failed(self, note_id: int, error: str) -> None:
        self._update_note(note_id, status="failed", last_error=redact(error), lease_until=None,
                          attempts_plus=1)

    def note_published(self, note_id: int, remote_id: str, error: str) -> None:
        """Posted, but public although it was to be internal: delivered, and a failure."""
        self._update_note(note_id, status="published", remote_id=remote_id,
                          delivered=datetime.now(UTC).isoformat(timespec="microseconds"),
                          last_error=redact(error), lease_until=None, attempts_plus=1)

    def unsettled_notes(self) -> dict[str, int]:
        """Notes failed for good or published, that nobody has acknowledged: by status."""
        return {r[0]: r[1] for r in self.db.execute(
            "SELECT status, count(*) FROM outbox WHERE status IN ('failed', 'published') "
            "AND acknowledged IS NULL GROUP BY status")}

    def acknowledge_notes(self, ids: Sequence[int]) -> int:
        """A person has seen these failed or published notes: runs stop reporting them."""
        stamp = datetime.now(UTC).isoformat(timespec="microseconds")
        with self.lock:
            cur = self.db.executemany(
                "UPDATE outbox SET acknowledged = ? WHERE id = ? "
                "AND status IN ('failed', 'published') AND acknowledged IS NULL",
                [(stamp, int(i)) for i in ids])
            return cur.rowcount

    def requeue_failed(self) -> list[dict[str, Any]]:
        """A person asks for the failed notes to be tried again: each gets a fresh budget
        (attempts from 0, its age from now: `retried`). Returns the notes requeued."""
        stamp = datetime.now(UTC).isoformat(timespec="microseconds")
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                rows = [dict(r) for r in self.db.execute(
                    "SELECT * FROM outbox WHERE status = 'failed' ORDER BY id")]
                self.db.execute("UPDATE outbox SET status = 'pending', next_attempt = ?, "
                                "attempts = 0, acknowledged = NULL, retried = ? "
                                "WHERE status = 'failed'", (stamp, stamp))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        return rows

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
            self._write_head(*self._head_due, self._keyed_from)
            self._head_due, self._head_written = None, time.monotonic()

    def _write_head(self, seq: int, digest: str, keyed_from: int | None, *,
                    fresh: bool = False) -> None:
        """Remember the newest row outside the database, signed, so rows cut off the end show.

        Another process may have written a newer head meanwhile: never move it back. A
        head that is missing or unreadable while rows exist is evidence for `verify`:
        left as it is (`fresh`: a new journal, which has no rows yet).
        """
        try:
            head = load_head(self.head_path)
        except ValueError:
            return
        if (head is None and not fresh) or (head is not None and head.seq >= seq):
            return
        assert self.key is not None
        record = {"seq": seq, "hash": digest, "keyed_from": keyed_from,
                  "mac": head_mac(self.key, seq, digest, keyed_from)}
        fd, tmp = tempfile.mkstemp(prefix=f".{self.head_path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as out:  # mkstemp makes it 0600
                out.write(json.dumps(record))
            os.replace(tmp, self.head_path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def read_head(self) -> tuple[int, str] | None:
        """The head file's row and hash; None if it is missing or unreadable."""
        try:
            head = load_head(self.head_path)
        except ValueError:
            return None
        return (head.seq, head.digest) if head else None

    # -- reading ------------------------------------------------------------------
    def entries(self, f: Filters | None = None) -> list[dict[str, Any]]:
        f = f or Filters()
        where: list[str] = []
        args: list[Any] = []
        if f.kinds:
            where.append(f"kind IN ({', '.join('?' * len(f.kinds))})")
            args.extend(f.kinds)
        for column, value in (("run_id", f.run_id), ("ticket", f.ticket),
                              ("status", f.status), ("action", f.action)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if f.operator is not None:  # the recorded text, the name claimed or the OS login
            where.append("operator_is(operator, ?)")
            args.append(f.operator)
        if f.target is not None:
            where.append("target = ?")
            args.append(f.target)
        if not f.settled_intents:
            where.append("NOT (status = 'started' AND kind = 'action' AND EXISTS (SELECT 1 "
                         "FROM entries AS later WHERE later.run_id = entries.run_id AND "
                         "later.idx = entries.idx AND later.kind = 'action' AND "
                         "later.seq > entries.seq))")
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

    def ends(self, run_id: str) -> int:
        """How many times this run ended (an end row per attempt): a resume compares it
        with what it saw when it decided, to know whether another process ran it since."""
        row = self.db.execute("SELECT COUNT(*) AS n FROM entries WHERE run_id = ? "
                              "AND kind = 'end'", (run_id,)).fetchone()
        return int(row["n"])

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

    def verify(self, anchors: Sequence[anchor.Anchor] = (), *,
               allow_unkeyed: bool = False) -> VerifyReport:
        """Check the chain, the keying, the triggers and the head file in one consistent
        view, and the given anchors (`journal.verify`)."""
        from adminkit.journal.verify import verify

        return verify(self, anchors, allow_unkeyed=allow_unkeyed)


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
