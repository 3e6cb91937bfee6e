"""Checking a journal: its chain, its keying, its triggers, its head file and anchors.

All of it is read in one consistent view while others may be writing. The head file is
read first, then the rows in one SQLite read transaction: a writer commits its rows
before it writes the head, so every row the head names is in that snapshot; a head
ahead of it is rows removed, never a writer between two reads. The head may lag the
rows (it is written at most every few tenths of a second and on close); that only
shortens what it vouches for.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from adminkit.core.errors import JournalError
from adminkit.journal.anchor import Anchor
from adminkit.journal.keys import JournalKey
from adminkit.journal.store import (
    GENESIS,
    TRIGGERS,
    Head,
    Journal,
    VerifyReport,
    head_mac,
    keying_mac,
    load_head,
    row_hash,
)

FIXABLE = ("trigger", "head")  # what `restore` may put back once everything else holds


@dataclass(frozen=True)
class Problem:
    kind: str  # chain, keying, key (the key at hand), unkeyed, trigger, head, anchor
    text: str
    seq: int | None = None


@dataclass
class _Walk:
    """What one pass over the rows found."""

    rows: int = 0
    last_hash: str = GENESIS
    hashes: dict[int, str] = field(default_factory=dict)  # of the rows asked for
    problem: Problem | None = None  # the first break in the chain


def verify(journal: Journal, anchors: Sequence[Anchor] = (), *,
           allow_unkeyed: bool = False) -> VerifyReport:
    try:
        problems, notices, rows, keyed_from = _check(journal, anchors, allow_unkeyed)
    except sqlite3.DatabaseError as exc:  # pages overwritten: SQLite cannot read the rows
        if isinstance(exc, sqlite3.OperationalError) and "malformed" not in str(exc):
            raise  # locked, unreadable: no verdict on the rows either way
        text = f"the database itself is damaged ({exc}): its rows cannot all be read"
        return VerifyReport(ok=False, rows=0, first_bad=None, reason=text, problems=[text],
                            notices=[], keyed_from=None, anchors=len(anchors),
                            damaged=str(exc))
    first = problems[0] if problems else None
    return VerifyReport(ok=not problems, rows=rows, first_bad=first.seq if first else None,
                        reason=first.text if first else "",
                        problems=[p.text for p in problems], notices=notices,
                        keyed_from=keyed_from, anchors=len(anchors),
                        unchecked=bool(problems) and all(p.kind == "key" for p in problems))


def restore(journal: Journal) -> list[str]:
    """Put back dropped triggers and a lost or stale head file, once the rows themselves
    verify; record in the journal what was put back and why. Returns what was wrong."""
    problems, _, _, keyed_from = _check(journal, (), allow_unkeyed=False)
    if not problems:
        return []
    refused = [p.text for p in problems if p.kind not in FIXABLE]
    if refused or journal.key is None or keyed_from is None:
        raise JournalError("the journal does not verify apart from its triggers and head "
                           f"file ({'; '.join(refused) or journal.key_problem}): "
                           "nothing was restored", hint="keep it as evidence")
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    with journal.lock:
        journal.db.execute("BEGIN IMMEDIATE")
        try:
            present = journal.schema_names()
            for name, sql in TRIGGERS.items():
                if name not in present:
                    journal.db.execute(sql)
            journal.db.execute("INSERT INTO journal_meta (name, value) VALUES (?, ?)",
                               (f"restored:{stamp}", "; ".join(p.text for p in problems)))
            last = journal.db.execute(
                "SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
            seq, digest = (last["seq"], last["hash"]) if last else (0, GENESIS)
            journal.head_path.unlink(missing_ok=True)  # what it said is in the record above
            journal._write_head(seq, digest, keyed_from, fresh=True)
            journal.db.execute("COMMIT")
        except BaseException:
            journal.db.execute("ROLLBACK")
            raise
    return [p.text for p in problems]


def _check(journal: Journal, anchors: Sequence[Anchor], allow_unkeyed: bool
           ) -> tuple[list[Problem], list[str], int, int | None]:
    name = journal.head_path.name
    head: Head | None = None
    head_error = ""
    try:
        head = load_head(journal.head_path)  # first: see the module's docstring
    except ValueError as exc:
        head_error = f"the head file {name} {exc}"
    wanted = {a.seq for a in anchors} | ({head.seq} if head else set())
    db = sqlite3.connect(journal.path, timeout=30, isolation_level=None)
    db.row_factory = sqlite3.Row
    try:
        db.execute("BEGIN")
        present = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        meta = ({r[0]: r[1] for r in db.execute("SELECT name, value FROM journal_meta")}
                if "journal_meta" in present else None)
        keyed_from = int(meta["keyed_from"]) if meta and "keyed_from" in meta else None
        problems = _keying(journal, meta, keyed_from)
        key_ok = keyed_from is not None and not problems
        walk = _walk(db, keyed_from, journal.key if key_ok else None, wanted)
        db.execute("COMMIT")
    finally:
        db.close()
    if walk.problem:
        problems.insert(0, walk.problem)
    if key_ok and keyed_from is not None and walk.rows >= keyed_from - 1 and meta:
        prev = walk.hashes.get(keyed_from - 1, GENESIS) if keyed_from > 1 else GENESIS
        assert journal.key is not None
        if keying_mac(journal.key, keyed_from, prev) != meta.get("keyed_mac"):
            problems.append(Problem("keying", f"the record that keying began at row "
                                              f"{keyed_from} does not match the rows "
                                              "(forged, or rows before it replaced)",
                                    keyed_from))
    elif keyed_from is not None and walk.rows < keyed_from - 1:
        problems.append(Problem("chain", f"rows {walk.rows + 1}..{keyed_from - 1} are missing "
                                         f"(keying began at row {keyed_from})", walk.rows + 1))
    notices: list[str] = []
    if keyed_from is None and walk.rows:
        text = (f"not keyed: all {walk.rows} rows carry plain SHA-256, which anyone can "
                "recompute (an older adminkit wrote them, or they were rewritten so); "
                "the next run keys the journal from its first row on")
        if allow_unkeyed:
            notices.append(text)
        else:
            problems.append(Problem("unkeyed", text, 1))
    elif keyed_from is not None and keyed_from > 1:
        notices.append(f"rows 1..{keyed_from - 1} were written before keying (plain SHA-256); "
                       f"keyed from row {keyed_from} on, which also seals those")
    problems += _head(journal, head, head_error, walk, keyed_from, key_ok)
    problems += _anchors(anchors, walk)
    expected = [n for n in TRIGGERS if n.startswith("entries") or meta is not None]
    problems += [Problem("trigger", f"the append-only trigger {n} was dropped: rows could "
                                    "be updated or deleted through SQLite")
                 for n in expected if n not in present]
    notices += [f"restored on {k.split(':', 1)[1]}: {v}" for k, v in sorted((meta or {}).items())
                if k.startswith("restored:")]
    return problems, notices, walk.rows, keyed_from


def _keying(journal: Journal, meta: dict[str, str] | None,
            keyed_from: int | None) -> list[Problem]:
    if meta is not None and keyed_from is None:
        return [Problem("keying", "journal_meta has lost the record of where keying began: "
                                  "the rows' keying cannot be checked")]
    if keyed_from is None:
        return []
    if journal.key is None:
        return [Problem("key", f"rows from {keyed_from} on are keyed, and "
                                  f"{journal.key_problem}: they cannot be checked", keyed_from)]
    if meta and meta.get("key_id") != journal.key.id:
        return [Problem("key", f"the journal is keyed with key {meta.get('key_id')}, not "
                                  f"with the key at {journal.key.source} ({journal.key.id})",
                        keyed_from)]
    return []


def _walk(db: sqlite3.Connection, keyed_from: int | None, key: JournalKey | None,
          wanted: set[int]) -> _Walk:
    """Every row, in order; `key` (if known good) checks the rows from keyed_from on."""
    walk = _Walk()
    for raw in db.execute("SELECT * FROM entries ORDER BY seq"):
        row = dict(raw)
        walk.rows += 1
        seq = row["seq"]
        if seq in wanted:
            walk.hashes[seq] = row["hash"]
        if keyed_from is not None and seq == keyed_from - 1:
            walk.hashes[seq] = row["hash"]
        if walk.problem:
            continue
        if seq != walk.rows:
            walk.problem = Problem("chain", f"row {walk.rows} is missing (next is {seq})",
                                   walk.rows)
        elif row["prev_hash"] != walk.last_hash:
            walk.problem = Problem("chain", "does not follow the previous row "
                                            "(removed or reordered)", seq)
        elif keyed_from is not None and seq >= keyed_from:
            if key is not None and row_hash(walk.last_hash, row, key) != row["hash"]:
                plain = row_hash(walk.last_hash, row) == row["hash"]
                walk.problem = Problem("chain", "its hash is plain SHA-256, not keyed: "
                                                "rewritten without the key" if plain else
                                                "its content was altered", seq)
        elif row_hash(walk.last_hash, row) != row["hash"]:
            walk.problem = Problem("chain", "its content was altered", seq)
        walk.last_hash = row["hash"]
    return walk


def _head(journal: Journal, head: Head | None, error: str, walk: _Walk,
          keyed_from: int | None, key_ok: bool) -> list[Problem]:
    name = journal.head_path.name
    if error:
        return [Problem("head", f"{error}: rows cut off the end could not be seen")]
    if head is None:
        if walk.rows or keyed_from is not None:
            return [Problem("head", f"the head file {name} is missing: rows cut off the "
                                    "end could not be seen")]
        return []
    out = []
    if head.keyed_from is not None and keyed_from is None:
        out.append(Problem("head", f"the head file {name} says keying began at row "
                                   f"{head.keyed_from}, but the journal has no record of "
                                   "keying (rewritten the old way)", head.keyed_from))
    if head.mac is None:
        if keyed_from is not None and head.seq >= keyed_from:
            out.append(Problem("head", f"the head file {name} is not signed with the key "
                                       "though it names a keyed row (forged)", head.seq))
    elif key_ok:
        assert journal.key is not None
        if head_mac(journal.key, head.seq, head.digest, head.keyed_from) != head.mac:
            out.append(Problem("head", f"the head file {name} has a wrong signature (forged, "
                                       "or written with another key)", head.seq))
        elif head.keyed_from != keyed_from:
            out.append(Problem("head", f"the head file {name} says keying began at row "
                                       f"{head.keyed_from}, the journal says {keyed_from}",
                               keyed_from))
    if head.seq > walk.rows:
        out.append(Problem("head", f"rows {walk.rows + 1}..{head.seq} were removed from the "
                                   f"end (the head file {name} records row {head.seq})",
                           walk.rows + 1))
    elif walk.hashes.get(head.seq, GENESIS) != head.digest:
        out.append(Problem("head", f"does not match the head file {name}", head.seq))
    return out


def _anchors(anchors: Sequence[Anchor], walk: _Walk) -> list[Problem]:
    out = []
    for a in anchors:
        if a.seq > walk.rows:
            out.append(Problem("anchor", f"anchor {a.seq}:{a.digest[:12]}…: row {a.seq} is "
                                         f"missing (the journal has {walk.rows} rows)", a.seq))
        elif walk.hashes.get(a.seq, GENESIS) != a.digest:
            out.append(Problem("anchor", f"does not match the anchor {a.seq}:{a.digest[:12]}… "
                                         "(rewritten since it was anchored)", a.seq))
    return out
