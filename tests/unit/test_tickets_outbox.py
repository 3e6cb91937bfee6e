"""The outbox itself, apart from any one vendor: a backend's bug never stops delivery,
the background pump outlives a failing note, an outbox from before `published` is
upgraded, and notes that need a person show in every run until acknowledged.

What every backend must do through the outbox is in test_ticket_contract.py.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import pytest

from adminkit.automation.request import RunRequest
from adminkit.automation.service import RunService
from adminkit.journal.store import Journal
from adminkit.tickets.local import LocalTickets
from adminkit.tickets.outbox import FlushReport, Pump, flush
from tests.fakes.outbox_rig import NOTE, make_due, queue_note
from tests.unit.toys import toy


class Buggy(LocalTickets):
    """The local store, with a backend bug on one ticket: its add_note raises what no
    backend should let out. Each call opens the store anew, so the pump's thread may
    use it (a sqlite3 connection stays on its thread)."""

    def __init__(self, bad: str) -> None:
        super().__init__()
        self.bad = bad

    def add_note(self, ticket_id: str, text: str, *, internal: bool = True) -> str:
        if ticket_id == self.bad:
            raise ValueError("no id in the answer\nsecond line")
        store = LocalTickets(self.path)
        try:
            return store.add_note(ticket_id, text, internal=internal)
        finally:
            store.close()

    def find_note(self, ticket_id: str, marker: str) -> str | None:
        store = LocalTickets(self.path)
        try:
            return store.find_note(ticket_id, marker)
        finally:
            store.close()


def queue_two(journal: Journal, store: LocalTickets) -> tuple[str, str]:
    bad, good = store.new("bad"), store.new("good")
    queue_note(journal, system="local", ticket=bad)
    journal.append(kind="action", run_id="R-20251125-100000-abc123", idx=1, operator="t",
                   profile="acme", ticket=f"local:{good}", mode="apply", action="a.b",
                   target="x", status="changed", summary="s",
                   note={"key": "R-20251125-100000-abc123:1", "system": "local",
                         "ticket": good, "internal": True, "body": NOTE})
    return bad, good


def test_a_backend_bug_on_one_note_is_retried_and_the_others_are_delivered(env: Any) -> None:
    journal = Journal(env.journal)
    system = Buggy("1")
    bad, good = queue_two(journal, system)
    report = flush(journal, lambda _p, _k: system, close=False)
    assert (report.delivered, report.retrying) == (1, 1)
    rows = {r["ticket"]: r for r in journal.outbox()}
    assert rows[good]["status"] == "delivered"
    assert rows[bad]["status"] == "pending"
    assert rows[bad]["last_error"] == "unexpected ValueError: no id in the answer"
    assert [n["body"] for n in system.notes(good)] == [NOTE]
    system.close()
    journal.close()


def test_the_background_pump_outlives_a_failing_note(env: Any) -> None:
    journal = Journal(env.journal)
    system = Buggy("1")
    bad, _ = queue_two(journal, system)
    pump = Pump(journal, system, "R-20251125-100000-abc123", limit=1.0, interval=0.01)
    deadline = time.monotonic() + 30
    while pump.report.delivered < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pump.report.delivered == 1  # by the thread: the good note
    assert pump.thread.is_alive()  # the ValueError on the other did not end it
    system.bad = ""  # the bug is fixed: a later round delivers the other note
    while pump.report.delivered < 2 and time.monotonic() < deadline:
        make_due(journal)
        time.sleep(0.01)
    assert pump.report.delivered == 2 and pump.thread.is_alive()
    pump.finish()
    assert [n["body"] for n in system.notes(bad)] == [NOTE]
    system.close()
    journal.close()


def test_finish_does_not_wait_for_the_background_flush_behind_a_slow_system(
        env: Any) -> None:
    """The run ends while the background thread waits on a slow ticket system: that
    thread stops after the note in hand, and the rest are left to finish()'s own flush,
    which keeps to its time budget (the background flush has none)."""
    import threading

    journal = Journal(env.journal)
    store = LocalTickets()
    for i in range(3):
        ticket = store.new(f"t{i}")
        journal.append(kind="action", run_id="R-20251125-100000-abc123", idx=i, operator="t",
                       profile="acme", ticket=f"local:{ticket}", mode="apply", action="a.b",
                       target="x", status="changed", summary="s",
                       note={"key": f"R-20251125-100000-abc123:{i}", "system": "local",
                             "ticket": ticket, "internal": True, "body": f"note {i}"})
    entered, release = threading.Event(), threading.Event()
    by: list[str] = []

    class Slow(Buggy):
        def add_note(self, ticket_id: str, text: str, *, internal: bool = True) -> str:
            by.append(threading.current_thread().name)
            if len(by) == 1:  # the first note: the system takes its time
                entered.set()
                release.wait(30)
            return super().add_note(ticket_id, text, internal=internal)

    system = Slow("")
    pump = Pump(journal, system, "R-20251125-100000-abc123", limit=5.0, interval=0.01)
    assert entered.wait(30)

    def answer_once_the_run_ends() -> None:
        pump.stop.wait(30)
        release.set()

    threading.Thread(target=answer_once_the_run_ends, daemon=True).start()
    report = pump.finish()
    assert report.delivered == 3
    assert by == ["adminkit-notes", "MainThread", "MainThread"]
    store.close()
    system.close()
    journal.close()


OLD_OUTBOX = """CREATE TABLE outbox (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, run_id TEXT NOT NULL,
    system TEXT NOT NULL, ticket TEXT NOT NULL, profile TEXT, internal INTEGER NOT NULL,
    body TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt TEXT NOT NULL, lease_until TEXT,
    last_error TEXT, remote_id TEXT, created TEXT NOT NULL, delivered TEXT)"""


def make_old_outbox(path: Any) -> None:
    """A journal as it is made now, then its outbox made old, with one failed note."""
    Journal(path).close()
    db = sqlite3.connect(path)
    db.executescript(f"DROP TABLE outbox; {OLD_OUTBOX}; "
                     "INSERT INTO outbox (key, run_id, system, ticket, internal, body, "
                     "status, next_attempt, created) VALUES ('R:0', 'R', 'local', '1', 1, "
                     "'old note', 'failed', '2025-01-01', '2025-01-01')")
    db.close()


def test_an_outbox_from_before_published_is_upgraded_keeping_its_notes(env: Any) -> None:
    make_old_outbox(env.journal)
    journal = Journal(env.journal)
    [row] = journal.outbox()
    assert (row["body"], row["status"], row["acknowledged"]) == ("old note", "failed", None)
    journal.note_published(row["id"], "7", "made public")  # the new status is accepted
    assert journal.outbox()[0]["status"] == "published"
    journal.close()


def test_an_outbox_from_before_retried_gains_the_column_keeping_its_notes(env: Any) -> None:
    import sqlite3

    Journal(env.journal).close()
    db = sqlite3.connect(env.journal)
    db.execute("ALTER TABLE outbox DROP COLUMN retried")  # as an adminkit before it left it
    db.execute("INSERT INTO outbox (key, run_id, system, ticket, internal, body, status, "
               "next_attempt, created) VALUES ('R:0', 'R', 'local', '1', 1, 'old note', "
               "'failed', '2025-01-01', '2025-01-01')")
    db.commit()
    db.close()
    journal = Journal(env.journal)
    [row] = journal.outbox()
    assert (row["body"], row["status"], row["retried"]) == ("old note", "failed", None)
    [requeued] = journal.requeue_failed()
    assert requeued["body"] == "old note"
    [row] = journal.outbox()
    assert row["status"] == "pending" and row["retried"] > "2025"
    journal.close()


def _queue_thirty(path: str, n: int) -> None:
    """A process that opens the journal (upgrading its outbox, or finding it done) and
    queues thirty notes."""
    from pathlib import Path

    journal = Journal(Path(path))
    for i in range(30):
        journal.append(kind="action", run_id=f"R-{n}", idx=i, operator="t", profile="acme",
                       ticket="local:1", mode="apply", action="a.b", target="x",
                       status="changed", summary="s",
                       note={"key": f"R-{n}:{i}", "system": "local", "ticket": "1",
                             "internal": True, "body": "b"})
    journal.close()


def test_an_old_outbox_upgraded_by_processes_writing_at_once_loses_no_note(env: Any) -> None:
    import multiprocessing

    make_old_outbox(env.journal)
    fork = multiprocessing.get_context("fork")
    workers = [fork.Process(target=_queue_thirty, args=(str(env.journal), n)) for n in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0] * 4
    journal = Journal(env.journal)
    rows = journal.outbox()
    assert len(rows) == 1 + 4 * 30 and rows[0]["body"] == "old note"
    assert "'published'" in journal.db.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'outbox'").fetchone()[0]
    journal.close()


def test_notes_that_need_a_person_show_in_every_run_until_acknowledged(env: Any,
                                                                        cli: Any) -> None:
    journal = Journal(env.journal)
    store = LocalTickets()
    queue_note(journal, system="local", ticket="999")  # no such ticket: fails for good
    assert flush(journal, lambda _p, _k: store, close=False) == FlushReport(failed=1)
    store.close()
    journal.close()

    def notices() -> list[str]:
        report = RunService(journal_path=env.journal).run(RunRequest(
            command="toy a", profile=None, actions=[toy("a", [])]))
        assert report.exit_code == 0
        return [n for n in report.notices if "need a person" in n]

    assert notices() == ["ticket notes need a person: 1 failed for good; `adminkit ticket "
                         "outbox` lists them, `adminkit ticket outbox --ack ID` once dealt "
                         "with"]
    assert notices()  # the next run too
    r = cli("ticket", "outbox", "--ack", "1")
    assert r.code == 0 and "acknowledged 1 of 1" in r.err
    assert notices() == []
    r = cli("ticket", "outbox", "--ack", "1")  # once is enough; an unknown id is an error
    assert r.code == 2 and "acknowledged 0 of 1" in r.err



def test_ack_takes_an_id_given_twice_once_and_refuses_ids_no_row_can_have(env: Any,
                                                                         cli: Any) -> None:
    journal = Journal(env.journal)
    queue_note(journal, system="local", ticket="999")  # no such ticket: fails for good
    store = LocalTickets()
    assert flush(journal, lambda _p, _k: store, close=False) == FlushReport(failed=1)
    store.close()
    journal.close()
    for bad in ("99999999999999999999999", "0", "-3"):
        r = cli("ticket", "outbox", "--ack", bad)
        assert r.code == 2 and "internal error" not in r.err, (bad, r.err)
    r = cli("ticket", "outbox", "--ack", "1", "--ack", "1")
    assert r.code == 0 and "acknowledged 1 of 1" in r.err, r.err


def test_a_note_a_flush_had_no_time_for_keeps_its_attempts(env: Any) -> None:
    journal = Journal(env.journal)
    store = LocalTickets()
    queue_note(journal, system="local", ticket=store.new("later"))
    for _ in range(30):  # more often than any limit of attempts
        report = flush(journal, lambda _p, _k: store, close=False, deadline=-1)
        assert (report.not_reached, report.failed) == (1, 0)
    assert [(r["status"], r["attempts"]) for r in journal.outbox()] == [("pending", 0)]
    assert flush(journal, lambda _p, _k: store, close=False) == FlushReport(delivered=1)
    store.close()
    journal.close()


def test_a_bulk_runs_notes_reach_the_ticket_after_it_ends_without_a_command(
        env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bulk run never waits for the ticket system: its notes are handed to a detached
    `adminkit ticket flush`, which puts every one on the ticket after the run is over."""
    import os

    monkeypatch.setenv("ADMINKIT_DELIVER_LATER", "on")  # the suite turns it off

    from adminkit.automation.service import BULK_NOTES

    store = LocalTickets()
    ticket = store.new("bulk")
    count = BULK_NOTES + 5
    report = RunService(journal_path=env.journal, config_dir=env.config).run(RunRequest(
        command="toy bulk", profile=None, ticket=f"local:{ticket}",
        actions=[toy(f"a{i}", []) for i in range(count)]))
    assert report.exit_code == 0
    [notice] = [n for n in report.notices if "in the background" in n]
    assert notice.startswith(f"ticket: 0 of this run's note(s) delivered, {count} being "
                             "delivered in the background (process ")
    pid = int(notice.split("(process ")[1].split(")")[0])
    os.waitpid(pid, 0)  # the delivery ends by itself, having delivered everything
    bodies = [n["body"] for n in store.notes(ticket)]
    assert len(bodies) == count and all(b.startswith(f"adminkit:{report.run.id}:")
                                        for b in bodies)
    journal = Journal(env.journal)
    assert {r["status"] for r in journal.outbox()} == {"delivered"}
    journal.close()
    store.close()



def test_deliver_later_off_keeps_the_notes_for_a_flush(env: Any) -> None:
    """ADMINKIT_DELIVER_LATER=off (a timer or a person flushes): no detached process; a
    bulk run's notes it had no time for wait in the outbox, and the run says so."""
    from adminkit.automation.service import BULK_NOTES

    store = LocalTickets()
    ticket = store.new("bulk")
    service = RunService(journal_path=env.journal, config_dir=env.config)
    assert service.deliver_later is False  # the suite's conftest sets it off
    report = service.run(RunRequest(command="toy bulk", profile=None,
                                    ticket=f"local:{ticket}",
                                    actions=[toy(f"a{i}", []) for i in range(BULK_NOTES + 5)]))
    assert report.exit_code == 0
    assert not [n for n in report.notices if "in the background" in n]
    journal = Journal(env.journal)
    statuses = [r["status"] for r in journal.outbox()]
    journal.close()
    delivered = len(store.notes(ticket))
    store.close()
    assert len(statuses) == BULK_NOTES + 5
    assert statuses.count("delivered") == delivered


@pytest.mark.parametrize("value", ["off", "OFF", "0", "false", "No", " off "])
def test_deliver_later_is_off_in_every_usual_spelling(monkeypatch: pytest.MonkeyPatch,
                                                      value: str) -> None:
    monkeypatch.setenv("ADMINKIT_DELIVER_LATER", value)
    assert RunService().deliver_later is False
    monkeypatch.setenv("ADMINKIT_DELIVER_LATER", "on")
    assert RunService().deliver_later is True
