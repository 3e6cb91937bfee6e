"""Approvals and decisions of triggered runs, on the embedded ticket store (no lab).

The dispatcher is driven as `watch` and `serve` drive it; `approve` and `reject` go
through the real command. What it decided is read back from the ticket's notes and
the journal's rows.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from adminkit.automation.console import console_login
from adminkit.automation.dispatch import Dispatcher
from adminkit.automation.service import RunService
from adminkit.core.config import load_profile
from adminkit.core.run import os_login
from adminkit.journal.store import Journal
from adminkit.journal.triggers import Triggers
from adminkit.tickets.local import LocalTickets

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"
BOSS = "boss@example.test"


@pytest.fixture
def setup(env: Any) -> Any:
    (env.profiles / "acme.yaml").write_text(yaml.safe_dump({
        "name": "acme", "tickets": {"kind": "local"},
        "automation": {"approvers": ["dispatch", BOSS], "approval_timeout_hours": 2,
                       "console_approvers": {console_login(): "dispatch"},
                       "rules": [{"name": "unlock", "playbook": "unlock-account",
                                  "requires_approval": True,
                                  "match": {"subject": r"^unlock:\s*(?P<login>\S+)$"},
                                  "fields": {"login": "subject:login"},
                                  "requesters": ["*@example.test"]}]}}))
    profile = load_profile("acme", env.config)
    journal = Journal(env.journal)
    store = LocalTickets()
    dispatcher = Dispatcher(RunService(journal_path=env.journal, config_dir=env.config),
                            profile, store, journal,
                            lambda name: PLAYBOOKS / f"{name}.yaml", source="test")
    yield dispatcher, store
    journal.close()
    store.close()


def queue(dispatcher: Dispatcher, ticket: str) -> Any:
    triggers = Triggers(dispatcher.journal)
    triggers.add(f"local:{ticket}:created", source="test", profile="acme",
                 ticket=f"local:{ticket}")
    trigger = triggers.get(f"local:{ticket}:created")
    return dispatcher.handle(trigger) if trigger else None


def texts(store: LocalTickets, dispatcher: Dispatcher, ticket: str) -> list[str]:
    dispatcher.flush()
    return [str(n["body"]) for n in store.notes(ticket)]


def end_rows(journal: Path, ticket: str) -> list[tuple[str, str]]:
    db = sqlite3.connect(journal)
    rows = db.execute("SELECT status, summary FROM entries WHERE kind = 'end' AND ticket = ? "
                      "ORDER BY seq", (f"local:{ticket}",)).fetchall()
    db.close()
    return [(str(a), str(b)) for a, b in rows]


def test_waits_then_the_requester_cannot_approve_then_a_rejection(setup: Any,
                                                                  env: Any) -> None:
    dispatcher, store = setup
    ticket = store.new("Unlock: jdoe", requester=BOSS)
    waiting = queue(dispatcher, ticket)
    assert waiting.status == "waiting" and waiting.run_id
    assert f"waits for approval as run {waiting.run_id}" in texts(store, dispatcher, ticket)[0]

    LocalTickets(author=BOSS).add_note(ticket, "/approve")  # an approver, but the requester
    trigger = dispatcher.triggers.get(f"local:{ticket}:created")
    assert dispatcher.handle(trigger).status == "waiting"
    assert "cannot approve it too (four eyes)" in texts(store, dispatcher, ticket)[-1]
    assert dispatcher.handle(trigger).status == "waiting"  # the same comment counts once
    assert len([t for t in texts(store, dispatcher, ticket) if t.startswith("adminkit:")]) == 2

    LocalTickets(author="dispatch").add_note(ticket, "/reject  not today")
    assert dispatcher.handle(dispatcher.triggers.get(trigger.key)).status == "rejected"
    assert "rejected by dispatch" in texts(store, dispatcher, ticket)[-1]
    statuses = [s for s, _ in end_rows(env.journal, ticket)]
    assert statuses == ["waiting", "refused", "rejected"]  # journaled; no run started
    assert Journal(env.journal).run(waiting.run_id) is None


def test_status_shows_the_whole_request_in_order(setup: Any, env: Any, cli: Any) -> None:
    import json

    dispatcher, store = setup
    ticket = store.new("Unlock: jdoe", requester=BOSS)
    run_id = queue(dispatcher, ticket).run_id
    LocalTickets(author="dispatch").add_note(ticket, "/approve")
    dispatcher.handle(dispatcher.triggers.get(f"local:{ticket}:created"))
    r = cli("-p", "acme", "-o", "json", "status", ticket)
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert out["ticket"] == f"local:{ticket}"
    ends = [(e["status"], e["run_id"] == run_id) for e in out["entries"] if e["kind"] == "end"]
    assert [s for s, _ in ends][:2] == ["waiting", "approved"]
    assert ends[-1][1]  # the approved run itself comes last
    assert [t["status"] for t in out["triggers"]] in (["done"], ["failed"])
    assert cli("-p", "acme", "status", "jira:").code == 2


def test_no_answer_within_the_timeout_cancels(setup: Any, env: Any) -> None:
    dispatcher, store = setup
    ticket = store.new("Unlock: jdoe", requester=BOSS)
    waiting = queue(dispatcher, ticket)
    old = (datetime.now(UTC) - timedelta(hours=3)).isoformat(timespec="seconds")
    dispatcher.triggers.move(waiting.key, "waiting", detail={"since": old})
    assert dispatcher.handle(dispatcher.triggers.get(waiting.key)).status == "cancelled"
    assert "no approval within 2 h" in texts(store, dispatcher, ticket)[-1]


def test_an_answer_after_the_timeout_approves_nothing(setup: Any, env: Any, cli: Any) -> None:
    """The request waited past approval_timeout_hours with nobody looking (serve down, a
    long poll): a /approve written after the deadline, or an `adminkit approve` typed
    after it, cancels it instead of starting a run the requester stopped waiting for.
    An answer written in time still counts when it is read late."""
    dispatcher, store = setup
    ticket = store.new("Unlock: jdoe", requester=BOSS)
    waiting = queue(dispatcher, ticket)
    old = (datetime.now(UTC) - timedelta(hours=3)).isoformat(timespec="seconds")
    dispatcher.triggers.move(waiting.key, "waiting", detail={"since": old})
    LocalTickets(author="dispatch").add_note(ticket, "/approve")  # now: an hour late
    assert dispatcher.handle(dispatcher.triggers.get(waiting.key)).status == "cancelled"
    assert Journal(env.journal).run(waiting.run_id) is None
    assert "no approval within 2 h" in texts(store, dispatcher, ticket)[-1]

    ticket = store.new("Unlock: jdoe", requester=BOSS)
    waiting = queue(dispatcher, ticket)
    dispatcher.triggers.move(waiting.key, "waiting", detail={"since": old})
    r = cli("-p", "acme", "approve", waiting.run_id, "--as", "dispatch")
    assert r.code == 4 and "no approval within 2 h" in r.err, r.err
    assert dispatcher.triggers.get(waiting.key).status == "cancelled"
    assert Journal(env.journal).run(waiting.run_id) is None

    ticket = store.new("Unlock: jdoe", requester=BOSS)
    waiting = queue(dispatcher, ticket)
    LocalTickets(author="dispatch").add_note(ticket, "/approve")  # in time, read late
    dispatcher.triggers.move(waiting.key, "waiting", detail={"since": old})
    db = sqlite3.connect(store.path)
    db.execute("UPDATE notes SET time = ? WHERE ticket_id = ?",
               ((datetime.now(UTC) - timedelta(hours=2, minutes=30)).isoformat(
                   timespec="seconds"), ticket))
    db.commit()
    db.close()
    assert dispatcher.handle(dispatcher.triggers.get(waiting.key)).status in ("done", "failed")


def test_a_ticket_deleted_while_its_request_waits_cancels_it(setup: Any, env: Any) -> None:
    """The ticket of a request waiting for approval is deleted (spam, merged away):
    reading its comments raised TicketNotFound out of `handle`, which stops `adminkit
    watch` at every poll (it catches only a connection failure) and logs a traceback at
    each of serve's idle looks, forever. The request is cancelled; nothing runs."""
    dispatcher, store = setup
    ticket = store.new("Unlock: jdoe", requester=BOSS)
    waiting = queue(dispatcher, ticket)
    store.db.execute("DELETE FROM tickets WHERE id = ?", (int(ticket),))
    outcome = dispatcher.handle(dispatcher.triggers.get(waiting.key))
    assert outcome.status == "cancelled" and "does not exist" in outcome.why
    after = dispatcher.triggers.get(waiting.key)
    assert after.status == "cancelled" and "does not exist" in after.detail["why"]
    assert Journal(env.journal).run(waiting.run_id) is None


def test_approve_at_the_cli_checks_who_and_starts_the_run(setup: Any, env: Any,
                                                          cli: Any) -> None:
    dispatcher, store = setup
    ticket = store.new("Unlock: jdoe", requester=BOSS)
    run_id = queue(dispatcher, ticket).run_id
    login = console_login()
    r = cli("-p", "acme", "approve", run_id, "--as", BOSS)  # an approver, not this login
    assert r.code == 4 and f"OS user {login} approves as dispatch, not as {BOSS}" in r.err
    r = cli("-p", "acme", "approve", run_id, "--as", "intruder")
    assert r.code == 4 and "not as intruder" in r.err
    r = cli("-p", "acme", "-o", "json", "approve", run_id, "--as", "dispatch")
    # the run starts (this profile has no directory: its one action fails, journaled)
    trigger = dispatcher.triggers.get(f"local:{ticket}:created")
    assert trigger.status in ("done", "failed") and trigger.run_id == run_id
    row = Journal(env.journal).run(run_id)
    assert row is not None and "approved by dispatch" in row["summary"]
    assert any(f"approved by dispatch (adminkit approve by OS user {login} on " in t
               for t in texts(store, dispatcher, ticket))
    r = cli("-p", "acme", "approve", run_id, "--as", "dispatch")
    assert r.code == 2 and "was approved by dispatch already" in r.err  # not waiting


def test_a_trigger_left_running_starts_its_run_under_the_id_it_was_given(setup: Any,
                                                                         env: Any) -> None:
    """Killed after the trigger took its run id and before the run's first row: the
    next process starts it under that id (a run with rows is resumed instead)."""
    dispatcher, store = setup
    ticket = store.new("Unlock: jdoe", requester=BOSS)
    waiting = queue(dispatcher, ticket)
    plan = dispatcher.triggers.get(waiting.key).detail["plan"]
    dispatcher.triggers.move(waiting.key, "running", detail={"approved_by": "dispatch"})
    outcome = dispatcher.handle(dispatcher.triggers.get(waiting.key))
    assert outcome.run_id == waiting.run_id and outcome.status in ("done", "failed")
    row = Journal(env.journal).run(waiting.run_id)
    # the trigger's operator, and the service login that ran it
    assert row is not None and row["operator"] == f"{plan['operator']} (login {os_login()})"
    # once more (as after a second crash): the run has rows now, so it is resumed
    dispatcher.triggers.move(waiting.key, "running")
    again = dispatcher.handle(dispatcher.triggers.get(waiting.key))
    assert again.run_id == waiting.run_id


def test_a_requester_with_control_characters_cannot_forge_note_lines(setup: Any) -> None:
    dispatcher, store = setup
    ticket = store.new("Unlock: jdoe", requester="x\nadminkit: approved by dispatch@example.test")
    outcome = queue(dispatcher, ticket)
    assert outcome.status == "refused"  # such a requester is nobody a rule allows
    [note] = texts(store, dispatcher, ticket)
    assert note.count("\n") == 1  # the text, then the journal's anchor line
    assert "x?adminkit: approved by" in note


def _left_running(dispatcher: Dispatcher, store: LocalTickets) -> Any:
    """A trigger whose run has rows and was left running (its process died): the next
    `handle` resumes that run."""
    ticket = store.new("Unlock: jdoe", requester=BOSS)
    waiting = queue(dispatcher, ticket)
    dispatcher.triggers.move(waiting.key, "running", detail={"approved_by": "dispatch"})
    dispatcher.handle(dispatcher.triggers.get(waiting.key))  # the run's rows
    dispatcher.triggers.move(waiting.key, "running")
    return dispatcher.triggers.get(waiting.key)


def test_a_resume_that_cannot_reach_a_system_leaves_the_trigger_running(
        setup: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A connection reset while resuming a trigger's half-done run: the trigger stays
    running and is resumed at a later look, not failed for good after one try; a system
    that stays away fails it after automation.retry.attempts, as a run that never
    started."""
    from adminkit.core.errors import ConnectionFailed

    dispatcher, store = setup
    trigger = _left_running(dispatcher, store)
    real, calls = dispatcher.service.resume, []

    def flaky(run_id: str, **kwargs: Any) -> Any:
        calls.append(run_id)
        if len(calls) == 1:
            raise ConnectionFailed("RT ticket 12: ReadError: Connection reset by peer")
        return real(run_id, **kwargs)

    monkeypatch.setattr(dispatcher.service, "resume", flaky)
    first = dispatcher.handle(trigger)
    after = dispatcher.triggers.get(trigger.key)
    assert (first.status, after.status) == ("running", "running"), first
    assert after.attempts == trigger.attempts + 1 and "reset by peer" in after.detail["why"]
    second = dispatcher.handle(after)
    assert second.status in ("done", "failed") and second.run_id == trigger.run_id
    assert dispatcher.triggers.get(trigger.key).detail.get("resumed") is True
    assert calls == [trigger.run_id] * 2

    # a system that never comes back: failed once the attempts are used up
    dispatcher.triggers.move(trigger.key, "running")
    monkeypatch.setattr(dispatcher.service, "resume", lambda run_id, **kw: (_ for _ in ()).throw(
        ConnectionFailed("ldap: connection refused")))
    statuses = []
    for _ in range(dispatcher.cfg.retry.attempts + 1):
        current = dispatcher.triggers.get(trigger.key)
        if current.status != "running":
            break
        statuses.append(dispatcher.handle(current).status)
    assert statuses[-1] == "failed" and statuses[:-1] == ["running"] * (len(statuses) - 1)
    assert dispatcher.triggers.get(trigger.key).status == "failed"


def test_a_run_being_resumed_elsewhere_leaves_the_trigger_running(setup: Any,
                                                                  env: Any) -> None:
    """The run's lock held by another process (an operator's `run --resume`): the trigger
    is neither failed nor counted an attempt; once the lock is free it is resumed."""
    from adminkit.automation.runlock import run_lock

    dispatcher, store = setup
    trigger = _left_running(dispatcher, store)
    with run_lock(env.journal, trigger.run_id):  # another open file: flock says busy
        outcome = dispatcher.handle(trigger)
    after = dispatcher.triggers.get(trigger.key)
    assert (outcome.status, after.status, after.attempts) == ("running", "running",
                                                              trigger.attempts), outcome
    assert "in another process" in (outcome.why or "")
    again = dispatcher.handle(after)
    assert again.status in ("done", "failed")
    assert dispatcher.triggers.get(trigger.key).detail.get("resumed") is True


def _runs_of(journal: Path, run_id: str) -> list[str]:
    db = sqlite3.connect(journal)
    rows = db.execute("SELECT kind FROM entries WHERE run_id = ? AND kind IN ('run', 'end') "
                      "ORDER BY seq", (run_id,)).fetchall()
    db.close()
    return [str(r[0]) for r in rows]


def test_a_run_another_process_did_meanwhile_is_not_run_again(
        setup: Any, env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two serve processes on one profile: B's idle look finds a trigger running with no
    run rows yet (A is opening its ticket system), and starts it; while B reads the
    ticket, A runs it to its end and lets its lock go. B, taking the lock after, must
    not run it a second time under the same id (a password reset twice)."""
    dispatcher, store = setup
    ticket = store.new("Unlock: jdoe", requester=BOSS)
    waiting = queue(dispatcher, ticket)
    dispatcher.triggers.move(waiting.key, "running", detail={"approved_by": "dispatch"})
    trigger = dispatcher.triggers.get(waiting.key)
    service = dispatcher.service
    real, other = service._check_ticket, []

    def slow_ticket_read(*args: Any) -> Any:
        if not other:  # meanwhile, process A runs it to its end
            monkeypatch.setattr(service, "_check_ticket", real)
            other.append(dispatcher._run(trigger, trigger.detail["plan"], "dispatch"))
        return real(*args)

    monkeypatch.setattr(service, "_check_ticket", slow_ticket_read)
    outcome = dispatcher.handle(trigger)
    assert other and other[0].status in ("done", "failed")
    assert _runs_of(env.journal, trigger.run_id) == ["run", "end"], outcome
    assert outcome.status == "busy"
    assert dispatcher.triggers.get(trigger.key).status == other[0].status


def test_a_resume_after_another_process_ended_the_run_does_not_redo_it(
        setup: Any, env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """B's idle look resumes a trigger's half-done run; while B reads the ticket, A (the
    process that had it) ends it and lets its lock go. B must not resume the run A just
    ended (a failed run is not retried unasked; its trigger is A's to settle)."""
    dispatcher, store = setup
    trigger = _left_running(dispatcher, store)
    service = dispatcher.service
    real, other = service._check_ticket, []
    before = _runs_of(env.journal, trigger.run_id)

    def slow_ticket_read(*args: Any) -> Any:
        if not other:  # meanwhile, process A resumes it to its end
            monkeypatch.setattr(service, "_check_ticket", real)
            other.append(dispatcher.handle(trigger))
        return real(*args)

    monkeypatch.setattr(service, "_check_ticket", slow_ticket_read)
    outcome = dispatcher.handle(trigger)
    assert other and other[0].status in ("done", "failed")
    assert _runs_of(env.journal, trigger.run_id) == [*before, "run", "end"], outcome
    assert dispatcher.triggers.get(trigger.key).status == other[0].status


def test_a_cli_approve_and_an_approve_comment_at_once_start_one_run_with_one_note(
        setup: Any, env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """`adminkit approve` and a /approve comment handled by watch/serve, each in its own
    connection, both read the request waiting before either answers (a barrier, not a
    timing): each noted "approved" and one run started. Now the answer is a claim: one
    approval wins and starts the run; the other is journaled as too late, with no note."""
    import threading

    dispatcher, store = setup
    ticket = store.new("Unlock: jdoe", requester="anna@example.test")
    waiting = queue(dispatcher, ticket)
    assert waiting.status == "waiting"
    LocalTickets(author=BOSS).add_note(ticket, "/approve")

    barrier = threading.Barrier(2, timeout=30)
    read = Triggers.by_run

    def by_run_then_wait(self: Triggers, run_id: str) -> Any:
        found = read(self, run_id)
        barrier.wait()  # both answers have read it waiting
        return found

    monkeypatch.setattr(Triggers, "by_run", by_run_then_wait)
    profile = load_profile("acme", env.config)
    outcomes: dict[str, Any] = {}

    def answer(name: str) -> None:
        journal, system = Journal(env.journal), LocalTickets()
        try:
            other = Dispatcher(RunService(journal_path=env.journal, config_dir=env.config),
                               profile, system, journal,
                               lambda n: PLAYBOOKS / f"{n}.yaml", source=name)
            if name == "cli":  # what `adminkit approve RUN` calls
                outcomes[name] = other.answer(waiting.run_id, "dispatch", approve=True,
                                              who_id="dispatch", operator="dispatcher",
                                              via="adminkit approve by OS user dispatcher")
            else:  # the comment, as watch or serve handles the waiting trigger
                outcomes[name] = other.handle(other.triggers.get(waiting.key))
        finally:
            journal.close()
            system.close()

    threads = [threading.Thread(target=answer, args=(n,)) for n in ("cli", "comment")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(outcomes) == 2, outcomes
    assert sorted(o.already for o in outcomes.values()) == [False, True], outcomes
    approved = [t for t in texts(store, dispatcher, ticket) if "approved by" in t]
    assert len(approved) == 1, approved
    statuses = [s for s, _ in end_rows(env.journal, ticket)]
    assert statuses.count("approved") == 1 and statuses.count("ignored") == 1, statuses
    db = sqlite3.connect(env.journal)
    [(starts,)] = db.execute("SELECT count(*) FROM entries WHERE run_id = ? AND kind = 'run'",
                             (waiting.run_id,)).fetchall()
    db.close()
    assert starts == 1
    assert dispatcher.triggers.get(waiting.key).status in ("done", "failed")
