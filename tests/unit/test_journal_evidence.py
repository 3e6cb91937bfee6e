"""What the journal proves: no false alarm beside writers; every edit around it is found.

The edits are made the way someone with write access to the files would make them:
sqlite3 on the database, plain file operations on the head file.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from adminkit.journal.store import COLUMNS, GENESIS, Journal, row_hash

# A real writer in its own process: whole runs (start, actions, end), each in its own
# transactions, as the run service writes them; until told to stop, at most `limit`.
WRITER = """
import sys, pathlib
from adminkit.journal.store import Journal
path, stop, name, limit = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3], \
    int(sys.argv[4])
journal = Journal(path)
for n in range(limit):
    if stop.exists():
        break
    common = dict(run_id=f"R-{name}-{n}", operator=name, mode="apply", profile="lab")
    journal.append(kind="run", summary="bulk", status="started", **common)
    journal.append_many([(None, dict(kind="action", idx=i, action="toy", target=f"t{i}",
                                     status="changed", summary=f"row {i}", **common))
                         for i in range(3)])
    journal.append(kind="end", status="changed", detail={"counts": {"changed": 3}}, **common)
journal.close()
"""


def _append_run(journal: Journal, run_id: str, actions: int = 2, *, end: bool = True,
                note: dict[str, object] | None = None, **extra: object) -> None:
    common = {"run_id": run_id, "operator": "alice", "mode": "apply", "profile": "acme",
              "ticket": "42", **extra}
    journal.append(kind="run", summary=f"cmd {run_id}", status="started", **common)
    for i in range(actions):
        journal.append(kind="action", idx=i, action="toy", target=f"t{i}", status="changed",
                       summary=f"row {i}", **common)
    if end:
        journal.append(note=note, kind="end", status="changed", summary=f"cmd {run_id}",
                       detail={"counts": {"changed": actions}}, **common)


@pytest.fixture
def journal_path(env) -> Path:
    """Three runs, 12 rows, written and closed (the head file is up to date)."""
    journal = Journal(env.journal)
    for n in range(3):
        _append_run(journal, f"R-{n}")
    journal.close()
    return env.journal


def _verify(path: Path, **kw: object):
    journal = Journal(path)
    try:
        return journal.verify(**kw)
    finally:
        journal.close()


def _sql(path: Path, *statements: str, args: list[tuple] | None = None) -> None:
    db = sqlite3.connect(path)
    for sql in statements:
        db.execute(sql)
    db.commit()
    db.close()


def _drop_triggers(path: Path) -> None:
    _sql(path, "DROP TRIGGER IF EXISTS entries_append_only_u",
         "DROP TRIGGER IF EXISTS entries_append_only_d")


def _restore_triggers(path: Path) -> None:
    """What a careful forger does after the edit, so that the triggers look untouched."""
    refuse = "BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END"
    _sql(path, f"CREATE TRIGGER entries_append_only_u BEFORE UPDATE ON entries {refuse}",
         f"CREATE TRIGGER entries_append_only_d BEFORE DELETE ON entries {refuse}")


def _rows(path: Path) -> list[dict]:
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    rows = [dict(r) for r in db.execute("SELECT * FROM entries ORDER BY seq")]
    db.close()
    return rows


def _rewrite(path: Path, rows: list[dict], digest) -> str:
    """Replace every row by `rows`, re-chained with `digest(prev, row)`; the new tip."""
    _drop_triggers(path)
    db = sqlite3.connect(path)
    db.execute("DELETE FROM entries")
    prev = GENESIS
    for row in rows:
        row = {**row, "prev_hash": prev}
        row["hash"] = digest(prev, row)
        db.execute(f"INSERT INTO entries ({', '.join([*COLUMNS, 'prev_hash', 'hash'])}) "
                   f"VALUES ({', '.join('?' * (len(COLUMNS) + 2))})",
                   [row[c] for c in (*COLUMNS, "prev_hash", "hash")])
        prev = row["hash"]
    db.commit()
    db.close()
    _restore_triggers(path)
    return prev


def _key():
    from adminkit.journal.keys import load_key

    return load_key(create=False)


def _head_file(path: Path) -> Path:
    return path.with_name(path.name + ".head")


# -- concurrency: no false alarm ------------------------------------------------------------

@pytest.fixture
def writers(journal_path: Path, tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    stop = tmp_path / "stop"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(journal_path), str(stop),
                               f"w{i}", "3000"], env=os.environ.copy())
             for i in range(2)]
    try:
        yield procs
    finally:
        stop.touch()
        for proc in procs:
            proc.wait(timeout=120)
    assert [p.returncode for p in procs] == [0, 0]


def _rows_now(path: Path) -> int:
    db = sqlite3.connect(path)
    (n,) = db.execute("SELECT count(*) FROM entries").fetchone()
    db.close()
    return int(n)


def test_verify_beside_two_writer_processes_never_cries_wolf(
        journal_path: Path, writers: list[subprocess.Popen[bytes]]) -> None:
    while _rows_now(journal_path) < 100:  # both writers are under way
        assert all(p.poll() is None for p in writers), "a writer died"
        time.sleep(0.01)
    before = _rows_now(journal_path)
    verdicts = [_verify(journal_path) for _ in range(30)]
    after = _rows_now(journal_path)
    assert after > before, "the writers must write while verify runs, or this proves nothing"
    false_alarms = [v.reason for v in verdicts if not v.ok]
    assert false_alarms == []
    assert all(v.keyed_from == 1 for v in verdicts)


def test_cli_verify_beside_writers_exits_0(journal_path: Path, cli,
                                           writers: list[subprocess.Popen[bytes]]) -> None:
    codes = []
    for _ in range(15):
        res = cli("journal", "verify")
        codes.append((res.code, res.err.strip()))
    assert codes == [(0, "")] * 15


def test_verify_beside_writer_threads_never_cries_wolf(journal_path: Path) -> None:
    """Threads of one process, each with its own Journal (a service running several runs
    at once), append while another verifies: no false alarm."""
    import threading

    stop = threading.Event()
    errors: list[BaseException] = []

    def write(name: str) -> None:
        journal = Journal(journal_path)
        try:
            for n in range(2000):
                if stop.is_set():
                    break
                _append_run(journal, f"R-{name}-{n}", actions=3)
        except Exception as exc:  # noqa: BLE001 - reported below, not lost in the thread
            errors.append(exc)
        finally:
            journal.close()

    threads = [threading.Thread(target=write, args=(f"t{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    try:
        while _rows_now(journal_path) < 100:
            time.sleep(0.01)
        before = _rows_now(journal_path)
        verdicts = [_verify(journal_path) for _ in range(30)]
        after = _rows_now(journal_path)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []
    assert after > before, "the writers must write while verify runs, or this proves nothing"
    assert [v.reason for v in verdicts if not v.ok] == []
    assert _verify(journal_path).ok


# -- the head file ----------------------------------------------------------------------------

def _cut_tail(path: Path, keep: int) -> None:
    _drop_triggers(path)
    _sql(path, f"DELETE FROM entries WHERE seq > {keep}")
    _restore_triggers(path)


@pytest.mark.parametrize(("edit", "said"), [
    pytest.param(lambda head: head.unlink(), "is missing", id="deleted"),
    pytest.param(lambda head: head.write_text(""), "truncated or garbled", id="truncated"),
    pytest.param(lambda head: head.write_text(head.read_text()[:17]), "truncated or garbled",
                 id="cut-short"),
    pytest.param(lambda head: head.write_text("\x00\x13garbage{"), "truncated or garbled",
                 id="garbled"),
    pytest.param(lambda head: head.write_text(json.dumps({"seq": "x", "hash": 5})),
                 "truncated or garbled", id="wrong-types"),
])
def test_rows_cut_off_the_end_show_even_without_the_head_file(journal_path: Path, edit,
                                                               said: str) -> None:
    _cut_tail(journal_path, keep=8)
    edit(_head_file(journal_path))
    report = _verify(journal_path)
    assert not report.ok
    assert said in report.reason
    assert "head file" in report.reason


def test_a_missing_head_file_is_reported_on_an_intact_journal(journal_path: Path) -> None:
    _head_file(journal_path).unlink()
    report = _verify(journal_path)
    assert not report.ok
    assert "journal.db.head is missing" in report.reason


def test_writers_leave_a_lost_head_file_as_evidence(journal_path: Path) -> None:
    """A run after the head file went must not quietly write a new one."""
    _head_file(journal_path).unlink()
    journal = Journal(journal_path)
    _append_run(journal, "R-after")
    journal.close()
    assert not _head_file(journal_path).exists()
    assert not _verify(journal_path).ok


def test_a_forged_unsigned_head_for_a_shorter_journal_is_caught(journal_path: Path) -> None:
    _cut_tail(journal_path, keep=8)
    tip = _rows(journal_path)[-1]
    _head_file(journal_path).write_text(json.dumps({"seq": 8, "hash": tip["hash"]}))
    report = _verify(journal_path)
    assert not report.ok
    assert "not signed with the key" in report.reason


def test_a_head_signed_with_another_key_is_caught(journal_path: Path) -> None:
    _cut_tail(journal_path, keep=8)
    tip = _rows(journal_path)[-1]
    record = {"seq": 8, "hash": tip["hash"], "keyed_from": 1, "mac": "0" * 64}
    _head_file(journal_path).write_text(json.dumps(record))
    report = _verify(journal_path)
    assert not report.ok
    assert "wrong signature" in report.reason


# -- triggers ---------------------------------------------------------------------------------

@pytest.mark.parametrize("trigger", ["entries_append_only_u", "entries_append_only_d",
                                     "meta_append_only_u", "meta_append_only_d"])
def test_a_dropped_trigger_is_reported_and_not_recreated_on_open(journal_path: Path,
                                                                 trigger: str) -> None:
    _sql(journal_path, f"DROP TRIGGER {trigger}")
    for _ in range(2):  # opening (twice) must not put it back and hide the edit
        report = _verify(journal_path)
        assert not report.ok
        assert f"trigger {trigger} was dropped" in report.reason
    db = sqlite3.connect(journal_path)
    names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    db.close()
    assert trigger not in names


def test_cli_restore_puts_triggers_back_and_records_it(journal_path: Path, cli) -> None:
    _sql(journal_path, "DROP TRIGGER entries_append_only_d")
    res = cli("journal", "verify")
    assert res.code == 1
    assert "TAMPERED" in res.err and "entries_append_only_d was dropped" in res.err
    res = cli("journal", "verify", "--restore")
    assert res.code == 0, res.err
    assert "restored: the append-only trigger entries_append_only_d was dropped" in res.out
    db = sqlite3.connect(journal_path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM entries WHERE seq = 1")
    db.close()
    res = cli("journal", "verify")
    assert res.code == 0
    assert "restored on" in res.err and "entries_append_only_d" in res.err  # said each time


def test_restore_refuses_when_rows_were_altered(journal_path: Path, cli) -> None:
    _drop_triggers(journal_path)
    _sql(journal_path, "UPDATE entries SET summary = 'nothing' WHERE seq = 3")
    res = cli("journal", "verify", "--restore")
    assert res.code == 1
    assert "nothing was restored" in res.err
    assert "Traceback" not in res.err


# -- rewriting the whole journal ------------------------------------------------------------

def _plain(prev: str, row: dict) -> str:
    return row_hash(prev, row)


def test_a_full_rewrite_with_plain_sha256_is_detected(journal_path: Path) -> None:
    rows = _rows(journal_path)
    rows[2]["summary"] = "nothing happened"
    tip = _rewrite(journal_path, rows, _plain)
    _head_file(journal_path).write_text(json.dumps({"seq": len(rows), "hash": tip}))
    report = _verify(journal_path)
    assert not report.ok
    assert report.first_bad == 1
    assert "plain SHA-256, not keyed" in report.reason


def test_a_full_rewrite_that_also_removes_the_keying_is_detected(journal_path: Path) -> None:
    """The forger deletes journal_meta too and writes an old-style head: the journal now
    looks as if only an older adminkit wrote it, which verify does not accept silently."""
    rows = _rows(journal_path)
    rows[2]["summary"] = "nothing happened"
    tip = _rewrite(journal_path, rows, _plain)
    _sql(journal_path, "DROP TABLE journal_meta")
    _head_file(journal_path).write_text(json.dumps({"seq": len(rows), "hash": tip}))
    report = _verify(journal_path)
    assert not report.ok
    assert report.reason.startswith("not keyed")


def test_a_rewrite_with_the_key_is_caught_by_an_anchor(journal_path: Path, cli) -> None:
    """Whoever holds the key can re-chain every row and re-sign the head; an anchor
    taken before (a ticket note, syslog) still shows it."""
    before = _rows(journal_path)
    anchor = f"{before[-1]['seq']}:{before[-1]['hash']}"
    assert cli("journal", "verify", "--anchor", anchor).code == 0
    key = _key()
    rows = [dict(r) for r in before]
    rows[2]["summary"] = "nothing happened"
    tip = _rewrite(journal_path, rows, lambda prev, row: row_hash(prev, row, key))
    journal = Journal(journal_path)
    _head_file(journal_path).unlink()
    journal._write_head(len(rows), tip, 1, fresh=True)  # the head, signed with the key
    journal.close()
    assert cli("journal", "verify").code == 0  # the key holder's rewrite passes alone
    res = cli("journal", "verify", "--anchor", anchor)
    assert res.code == 1
    assert f"row {len(rows)}: does not match the anchor" in res.err


def test_cli_anchor_must_be_seq_colon_hash(journal_path: Path, cli) -> None:
    res = cli("journal", "verify", "--anchor", "12:nothex")
    assert res.code == 2
    assert "SEQ:HASH" in res.err


def test_an_anchor_past_the_end_shows_rows_removed(journal_path: Path, cli) -> None:
    rows = _rows(journal_path)
    anchor = f"{rows[-1]['seq']}:{rows[-1]['hash']}"
    _cut_tail(journal_path, keep=8)
    _head_file(journal_path).unlink()
    journal = Journal(journal_path)
    journal._write_head(8, rows[7]["hash"], 1, fresh=True)  # a key holder's new head
    journal.close()
    res = cli("--output", "json", "journal", "verify", "--anchor", anchor)
    assert res.code == 1
    data = json.loads(res.out)
    assert "row 12 is missing (the journal has 8 rows)" in " ".join(data["problems"])


# -- keying an older journal ----------------------------------------------------------------

def _legacy_journal(path: Path, runs: int) -> None:
    """A journal as adminkit wrote it before keying: plain SHA-256, no journal_meta,
    a head file without a signature."""
    from adminkit.journal.store import TABLES

    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    for sql in TABLES:
        db.execute(sql)
    refuse = "BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END"
    db.execute(f"CREATE TRIGGER entries_append_only_u BEFORE UPDATE ON entries {refuse}")
    db.execute(f"CREATE TRIGGER entries_append_only_d BEFORE DELETE ON entries {refuse}")
    db.commit()
    db.close()
    rows = []
    for n in range(runs):
        for kind, idx in (("run", None), ("action", 0), ("end", None)):
            rows.append({"seq": len(rows) + 1, "kind": kind, "time": "2024-01-01T00:00:00",
                         "run_id": f"OLD-{n}", "idx": idx, "operator": "bob", "profile": None,
                         "ticket": None, "mode": "apply", "action": None, "target": None,
                         "status": "changed", "summary": f"old {n}", "diff": None,
                         "error": None, "detail": None})
    _drop_triggers(path)
    tip = _rewrite(path, rows, _plain)
    _head_file(path).write_text(json.dumps({"seq": len(rows), "hash": tip}))


def test_an_older_journal_verifies_its_old_rows_and_keys_the_new_ones(env) -> None:
    _legacy_journal(env.journal, runs=2)
    assert not _verify(env.journal).ok  # not keyed yet: said, not passed silently
    report = _verify(env.journal, allow_unkeyed=True)
    assert report.ok and report.rows == 6 and report.keyed_from is None
    assert report.notices[0].startswith("not keyed")
    journal = Journal(env.journal)
    _append_run(journal, "R-new")
    journal.close()
    report = _verify(env.journal)
    assert report.ok, report.problems
    assert report.keyed_from == 7
    assert "rows 1..6 were written before keying" in report.notices[0]
    rows = _rows(env.journal)
    key = _key()
    assert rows[5]["hash"] == row_hash(rows[5]["prev_hash"], rows[5])  # old: plain
    assert rows[6]["hash"] == row_hash(rows[6]["prev_hash"], rows[6], key)  # new: keyed
    head = json.loads(_head_file(env.journal).read_text())
    assert head["seq"] == len(rows) and head["keyed_from"] == 7 and head["mac"]


def test_an_old_row_edited_after_keying_began_is_found(env) -> None:
    _legacy_journal(env.journal, runs=2)
    journal = Journal(env.journal)
    _append_run(journal, "R-new")
    journal.close()
    rows = _rows(env.journal)
    rows[1]["summary"] = "nothing happened"  # before keying; rechained the old way
    old_rows = rows[:6]
    _drop_triggers(env.journal)
    _sql(env.journal, "DELETE FROM entries WHERE seq <= 6")
    _restore_triggers(env.journal)
    db = sqlite3.connect(env.journal)
    prev = GENESIS
    for row in old_rows:
        row = {**row, "prev_hash": prev}
        row["hash"] = row_hash(prev, row)
        db.execute(f"INSERT INTO entries VALUES ({', '.join('?' * (len(COLUMNS) + 2))})",
                   [row[c] for c in (*COLUMNS, "prev_hash", "hash")])
        prev = row["hash"]
    db.commit()
    db.close()
    report = _verify(env.journal)
    assert not report.ok
    assert report.first_bad == 7  # the first keyed row seals the rows before it


def test_moving_where_keying_began_is_caught(journal_path: Path) -> None:
    """Claiming keying began later (so more rows may be plain) needs the key."""
    _sql(journal_path, "DROP TRIGGER meta_append_only_u",
         "UPDATE journal_meta SET value = '13' WHERE name = 'keyed_from'")
    report = _verify(journal_path)
    assert not report.ok


def test_a_journal_keyed_with_another_key_is_not_appended_to(journal_path: Path,
                                                             tmp_path: Path,
                                                             monkeypatch) -> None:
    from adminkit.core.errors import JournalError

    other = tmp_path / "other.key"
    other.write_text(hashlib.sha256(b"another key").hexdigest())
    other.chmod(0o600)
    monkeypatch.setenv("ADMINKIT_JOURNAL_KEY", f"file:{other}")
    journal = Journal(journal_path)
    with pytest.raises(JournalError, match="keyed with key"):
        _append_run(journal, "R-x")
    report = journal.verify()
    journal.close()
    assert not report.ok and "keyed with key" in report.reason


def test_the_key_file_is_private_and_made_once(env) -> None:
    Journal(env.journal).close()
    key_file = env.state / "adminkit" / "journal.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    first = key_file.read_text()
    Journal(env.journal).close()
    assert key_file.read_text() == first and len(first.strip()) == 64
    assert first.strip() not in _head_file(env.journal).read_text()
    assert first.strip().encode() not in env.journal.read_bytes()


# -- anchors off the host ---------------------------------------------------------------------

@pytest.fixture
def syslog(monkeypatch) -> Iterator[socket.socket]:
    folder = tempfile.mkdtemp(prefix="ak-")  # short: a socket path has a length limit
    path = os.path.join(folder, "log")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(5)
    monkeypatch.setenv("ADMINKIT_SYSLOG", path)
    yield sock
    sock.close()
    os.unlink(path)
    os.rmdir(folder)


def test_each_run_end_is_anchored_in_syslog_and_verifies(env, syslog, cli,
                                                         tmp_path: Path) -> None:
    journal = Journal(env.journal)
    _append_run(journal, "R-1")
    _append_run(journal, "R-2")
    journal.close()
    lines = [syslog.recv(4096).decode() for _ in range(2)]
    rows = _rows(env.journal)
    ends = [r for r in rows if r["kind"] == "end"]
    for got, end in zip(lines, ends, strict=True):
        assert got.startswith("<13>adminkit[")
        assert f"journal head {end['seq']}:{end['hash']} run {end['run_id']}" in got
    log = tmp_path / "syslog"
    log.write_text("\n".join(f"Jan 1 host {line}" for line in lines) + "\n")
    res = cli("journal", "verify", "--anchors-from", str(log))
    assert res.code == 0, res.err
    assert "2 anchor(s) match" in res.out


def test_the_runs_last_ticket_note_carries_the_head(env, cli) -> None:
    """Through the run service: a toy action on a local ticket; the note delivered to
    the ticket ends with the journal head of its row, and verify accepts it as anchor."""
    from adminkit.automation.request import RunRequest
    from adminkit.automation.service import RunService
    from adminkit.tickets.local import LocalTickets
    from tests.unit.toys import toy

    store = LocalTickets()
    ticket = store.new("anchor me")
    store.close()
    calls: list[tuple[str, str]] = []
    report = RunService(journal_path=env.journal).run(RunRequest(
        command="toy a", profile=None, actions=[toy("a", calls)], ticket=f"local:{ticket}"))
    assert report.exit_code == 0
    store = LocalTickets()
    [note] = store.notes(ticket)
    store.close()
    rows = _rows(env.journal)
    intent, outcome = [r for r in rows if r["kind"] == "action"]  # the write announced, done
    assert intent["status"] == "started" and outcome["status"] == "changed"
    assert note["body"].endswith(f"journal head {outcome['seq']}:{outcome['hash']}")
    res = cli("ticket", "show", ticket, "-o", "json")
    source = env.state / "notes.json"
    source.write_text(res.out)
    res = cli("journal", "verify", "--anchors-from", str(source))
    assert res.code == 0, res.err
    assert "1 anchor(s) match" in res.out


def test_a_run_note_carries_the_end_rows_head(env) -> None:
    journal = Journal(env.journal)
    note = {"key": "R-9:run", "system": "local", "ticket": "1", "body": "run note",
            "anchor": True}
    _append_run(journal, "R-9", note=note)
    [queued] = journal.outbox()
    journal.close()
    end = _rows(env.journal)[-1]
    assert queued["body"] == f"run note\njournal head {end['seq']}:{end['hash']}"


# -- journal list --runs ----------------------------------------------------------------------

@pytest.fixture
def runs_journal(env) -> Path:
    journal = Journal(env.journal)
    _append_run(journal, "R-done", actions=2, time="2024-01-01T10:00:00.000000+00:00")
    _append_run(journal, "R-empty", actions=0, ticket="43")
    _append_run(journal, "R-cut", actions=1, end=False)
    cut = {"run_id": "R-cut", "operator": "alice", "mode": "apply", "profile": "acme",
           "ticket": "42", "kind": "action"}
    journal.append(idx=1, status="started", summary="about to x", **cut)  # never finished
    journal.append(idx=2, status="started", summary="about to y", **cut)  # then finished
    journal.append(idx=2, status="changed", summary="y", **cut)
    _append_run(journal, "R-resumed", actions=1)  # fails, then is resumed and ends
    _append_run(journal, "R-resumed", actions=0)
    _append_run(journal, "R-again", actions=1)  # ended once, resumed, not ended again
    _append_run(journal, "R-again", actions=1, end=False)
    journal.close()
    return env.journal


def test_cli_list_runs_newest_first_with_how_each_ended(runs_journal: Path, cli) -> None:
    res = cli("--output", "json", "journal", "list", "--runs")
    assert res.code == 0, res.err
    runs = json.loads(res.out)
    assert [r["run_id"] for r in runs] == ["R-again", "R-resumed", "R-cut", "R-empty",
                                           "R-done"]
    by_id = {r["run_id"]: r for r in runs}
    assert by_id["R-done"]["status"] == "changed"
    assert by_id["R-done"]["counts"] == {"changed": 2}
    assert by_id["R-empty"]["status"] == "changed" and by_id["R-empty"]["counts"] == {}
    assert by_id["R-cut"]["status"] == "no end row"
    # each action by its newest row: one intent settled, one write in flight
    assert by_id["R-cut"]["counts"] == {"changed": 2, "started": 1}
    assert by_id["R-resumed"]["attempts"] == 2 and by_id["R-resumed"]["status"] == "changed"
    assert by_id["R-again"]["status"] == "no end row"
    first = by_id["R-done"]
    assert (first["operator"], first["profile"], first["ticket"], first["mode"],
            first["command"]) == ("alice", "acme", "42", "apply", "cmd R-done")
    assert first["time"].startswith("2024-01-01T10:00")


def test_cli_list_runs_table_and_filters(runs_journal: Path, cli) -> None:
    res = cli("journal", "list", "--runs")
    assert res.code == 0
    for text in ("R-cut", "no end row", "2 changed", "cmd R-done", "R-empty", "nothing"):
        assert text in res.out
    res = cli("--output", "json", "journal", "list", "--runs", "--ticket", "43")
    assert [r["run_id"] for r in json.loads(res.out)] == ["R-empty"]
    res = cli("--output", "json", "journal", "list", "--runs", "--since", "2025-01-01")
    assert "R-done" not in [r["run_id"] for r in json.loads(res.out)]
    res = cli("--output", "json", "journal", "list", "--runs", "--limit", "2")
    assert [r["run_id"] for r in json.loads(res.out)] == ["R-again", "R-resumed"]
    res = cli("--output", "csv", "journal", "list", "--runs")
    assert res.out.splitlines()[0] == ("run_id,time,operator,profile,ticket,mode,command,"
                                       "status,counts")
    res = cli("journal", "list", "--runs", "--target", "t0")
    assert res.code == 2 and "--runs lists whole runs" in res.err
