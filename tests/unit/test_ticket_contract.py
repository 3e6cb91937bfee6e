"""One contract for every ticket backend: a note queued in the outbox reaches the ticket once.

Each case runs against every backend that has a peer here: the vendor fakes in
tests/fakes (real HTTP, the real httpx client, the vendors' documented requests, answers
and errors) and the local store. The notes are read back from the peer as it stores
them. A backend that cannot meet a case is left out of it in NOT_APPLICABLE, with the
reason; a known defect is a strict xfail in DEFECTS, with the reason. What is particular
to one vendor stays in test_tickets_<vendor>.py. Request Tracker meets the same scenarios
against the lab's real RT (tests/integration/test_ticket_notes.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from adminkit.automation.schedule import new_ticket
from adminkit.automation.settings import Schedule
from adminkit.core.errors import AuthenticationFailed, ConnectionFailed, ExitCode, UsageError
from adminkit.journal.store import Filters, Journal
from adminkit.tickets.base import (
    NotePublished,
    Rejected,
    TicketNotFound,
    TicketRef,
    TicketSystem,
    parse_ref,
)
from adminkit.tickets.outbox import BACKOFF_FIRST, FlushReport, flush
from adminkit.tickets.settings import ticket_settings
from adminkit.tickets.systems import limits, opener
from tests.fakes.glpi import FakeGlpi
from tests.fakes.httpserver import Reply, ServerFake
from tests.fakes.jira import FakeJira
from tests.fakes.local_store import LocalStore
from tests.fakes.outbox_rig import (
    NOTE,
    RUN,
    crash_after_posting,
    make_due,
    marker,
    next_attempt,
    queue_note,
)
from tests.fakes.redmine import FakeRedmine
from tests.fakes.servicenow import FakeServiceNow
from tests.fakes.ticketfake import TicketServer, TicketStore, profile_for
from tests.fakes.zammad import FakeZammad

Cli = Callable[..., Any]  # the `cli` fixture (conftest.py): a CliResult with code, out, err

FAKES: dict[str, Callable[[], ServerFake]] = {
    "jira": FakeJira, "servicenow": FakeServiceNow, "zammad": FakeZammad, "glpi": FakeGlpi,
    "redmine": FakeRedmine}
KINDS = (*FAKES, "local")

LOCAL = "the local store is a file on this machine: "
NOT_APPLICABLE = {
    ("local", "rate limit"): LOCAL + "nothing in front of it rate-limits",
    ("local", "server error"): LOCAL + "no server to fail",
    ("local", "lost answer"): LOCAL + "no connection to lose an answer on",
    ("local", "server down"): LOCAL + "no server to be down",
    ("local", "refused credentials"): LOCAL + "it takes no credentials",
    ("local", "coded refusal"): LOCAL + "it answers no HTTP status to refuse with",
    ("local", "out of attempts"): LOCAL + "no transient trouble to retry",
    ("local", "too old"): LOCAL + "no transient trouble to retry",
    ("local", "not json"): LOCAL + "no answer to parse",
    ("local", "hostile retry-after"): LOCAL + "no server to send Retry-After",
    ("local", "hostile json"): LOCAL + "no answer to parse",
    ("local", "redirect"): LOCAL + "no server to redirect",
    ("local", "huge answer"): LOCAL + "no answer to read",
    ("local", "echoed credentials"): LOCAL + "it takes no credentials",
    ("local", "hostile text"): LOCAL + "its notes are what adminkit writes (test_cli_ticket)",
    ("local", "slow flush"): LOCAL + "the fake's server is what is slow (the case needs one)",
    ("local", "trickling answer"): LOCAL + "no answer to read",
    ("local", "trickling headers"): LOCAL + "no answer to read",
    ("local", "internal made public"): LOCAL + "its notes are what adminkit writes",
    ("glpi", "internal made public"):
        "GLPI documents no case where is_private is dropped: a follow-up the profile may "
        "not add is refused (ERROR_GLPI_ADD), which the coded-refusal case covers",
    ("local", "ping: internal notes"): LOCAL + "it has no rights to check",
    ("glpi", "ping: internal notes"): "GLPI does not make follow-ups public (see above)",
    ("servicenow", "ping: internal notes"):
        "work notes are never made comments (see above); its ping checks instead that "
        "the journal can be read back (test_tickets_servicenow.py)",
    ("jira", "ping: internal notes"):
        "no cheap call says whether the account is an agent of the request's service "
        "desk; the answer's `public` is checked on every comment instead",
    ("servicenow", "internal made public"):
        "work_notes and comments are separate fields: a field the account may not write "
        "saves nothing (NoteNotSaved), it never moves a work note into comments",
    ("local", "ping names the account"): LOCAL + "nobody signs in (ping names the file)",
    ("local", "missing ticket: find_note"): LOCAL + "find_note reads the notes table alone and "
                                            "finds nothing; add_note then fails for good",
    ("local", "create refused"): LOCAL + "nobody's permission to open a ticket in it",
    ("local", "create needs more"): LOCAL + "a ticket needs a subject only",
}
DEFECTS: dict[tuple[str, str], str] = {}
CASES: set[str] = set()


def backends(case: str) -> list[Any]:
    """The peers a case runs against: all but those NOT_APPLICABLE says it cannot."""
    CASES.add(case)
    return [pytest.param(kind, id=kind, marks=[pytest.mark.xfail(
                strict=True, reason=DEFECTS[kind, case])] if (kind, case) in DEFECTS else [])
            for kind in KINDS if (kind, case) not in NOT_APPLICABLE]


@pytest.fixture
def peer(request: pytest.FixtureRequest, tmp_path: Path,
         monkeypatch: pytest.MonkeyPatch) -> Iterator[TicketStore]:
    kind = str(request.param)
    if kind == "local":
        monkeypatch.setenv("ADMINKIT_TICKETS", str(tmp_path / "local-tickets.db"))
        store: TicketStore = LocalStore(tmp_path / "local-tickets.db")
    else:
        store = cast(TicketStore, FAKES[kind]())
    store.start()
    try:
        yield store
    finally:
        store.stop()


@dataclass
class Rig:
    """A peer, the journal whose outbox holds the notes for it, and profile `acme` naming
    it; flushes open the backend the way `adminkit ticket flush` does (entry points)."""

    peer: TicketStore
    journal: Journal
    profiles: Path
    opened: list[tuple[str | None, str]] = field(default_factory=list)

    @property
    def server(self) -> TicketServer:
        assert isinstance(self.peer, ServerFake), "a case for peers with a server"
        return cast(TicketServer, self.peer)

    def open(self, profile: str | None, kind: str) -> TicketSystem:
        self.opened.append((profile, kind))
        return opener()(profile, kind)

    @contextmanager
    def system(self) -> Iterator[TicketSystem]:
        system = opener()("acme", self.peer.kind)
        try:
            yield system
        finally:
            system.close()

    def queue(self, ticket: str, *, internal: bool = True) -> None:
        queue_note(self.journal, system=self.peer.kind, ticket=ticket, internal=internal)

    def flush(self) -> FlushReport:
        return flush(self.journal, self.open, limits=limits())

    def waits(self, **counts: int) -> FlushReport:
        """The report of a flush after which the one queued note still waits."""
        return FlushReport(**counts, next_try=next_attempt(self.journal))

    def row(self) -> dict[str, Any]:
        [row] = self.journal.outbox()
        return row

    def limit(self, **tickets: Any) -> None:
        """Change profile `acme`'s tickets section (retry limits, say)."""
        path = self.profiles / "acme.yaml"
        data = yaml.safe_load(path.read_text())
        data["tickets"].update(tickets)
        path.write_text(yaml.safe_dump(data))

    def journal_rows(self) -> list[dict[str, Any]]:
        """The journal's rows about notes (`ticket.note`), oldest first."""
        return [r for r in self.journal.entries(Filters()) if r["action"] == "ticket.note"]

    def sent(self) -> int:
        """How many requests the peer has received (none, for the local store)."""
        return len(self.server.requests) if isinstance(self.peer, ServerFake) else 0

    def note_writes(self) -> int:
        method, path = self.server.note_write
        return sum(1 for r in self.server.requests
                   if r.method == method and r.path.startswith(path))


@pytest.fixture
def rig(peer: TicketStore, env: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    tickets = ticket_settings(profile_for(peer, monkeypatch))
    assert tickets is not None
    (env.profiles / "acme.yaml").write_text(yaml.safe_dump(
        {"tickets": tickets.model_dump(mode="json", exclude_defaults=True)}))
    journal = Journal(env.journal)  # where `adminkit` itself finds it (ADMINKIT_JOURNAL)
    yield Rig(peer, journal, env.profiles)
    journal.close()
    if isinstance(peer, ServerFake):
        assert peer.mistakes() == [], "the backend sent what the real API would not take"


def sent_credentials(server: TicketServer) -> set[str]:
    """The secret, and every credential the backend put on the wire (Basic's base64 too)."""
    found = {server.secret}
    for req in server.requests:
        credential, login = req.authorization()[1], req.basic_login()
        found |= {credential} if credential else set()
        found |= {":".join(login)} if login else set()
    return found


def between(before: datetime, after: datetime, seconds: float) -> tuple[datetime, datetime]:
    return before + timedelta(seconds=seconds), after + timedelta(seconds=seconds)


# -- delivery ------------------------------------------------------------------------------

@pytest.mark.parametrize("peer", backends("kind"), indirect=True)
def test_the_profiles_kind_opens_the_backend_of_that_kind(rig: Rig) -> None:
    with rig.system() as system:
        assert system.kind == rig.peer.kind


@pytest.mark.parametrize("peer", backends("round trip"), indirect=True)
def test_a_note_arrives_once_internal_and_byte_identical(rig: Rig) -> None:
    ticket = rig.peer.create_ticket()
    rig.queue(ticket)
    assert rig.flush() == FlushReport(delivered=1)
    [note] = rig.peer.notes(ticket)
    assert note.text.encode() == NOTE.encode()
    assert note.internal is True
    assert rig.row()["status"] == "delivered"
    sent = rig.sent()
    assert rig.flush() == FlushReport()  # nothing is due: nothing is opened or sent
    assert (rig.sent(), rig.peer.notes(ticket)) == (sent, [note])
    assert rig.opened == [("acme", rig.peer.kind)]


@pytest.mark.parametrize("peer", backends("outbox keeps the note's id"), indirect=True)
def test_the_outbox_keeps_the_id_the_system_gave_the_note(rig: Rig) -> None:
    ticket = rig.peer.create_ticket()
    rig.queue(ticket)
    rig.flush()
    [note] = rig.peer.notes(ticket)
    assert rig.row()["remote_id"] == note.id


@pytest.mark.parametrize("peer", backends("public note"), indirect=True)
def test_a_note_asked_public_arrives_public(rig: Rig) -> None:
    ticket = rig.peer.create_ticket()
    rig.queue(ticket, internal=False)
    assert rig.flush() == FlushReport(delivered=1)
    [note] = rig.peer.notes(ticket)
    assert (note.text, note.internal) == (NOTE, False)


@pytest.mark.parametrize("peer", backends("ticket show"), indirect=True)
def test_ticket_show_lists_the_notes_with_their_visibility(rig: Rig, cli: Cli) -> None:
    ticket = rig.peer.create_ticket()
    with rig.system() as system:
        system.add_note(ticket, NOTE)
        system.add_note(ticket, "For the customer: done.", internal=False)
    r = cli("--profile", "acme", "ticket", "show", str(TicketRef(rig.peer.kind, ticket)),
            "-o", "json")
    assert r.code == 0, r.err
    shown = json.loads(r.out)["notes"]
    assert [(n["internal"], n["body"]) for n in shown][-2:] == [
        (True, NOTE), (False, "For the customer: done.")]
    assert [(n.internal, n.text) for n in rig.peer.notes(ticket)][-2:] == [
        (True, NOTE), (False, "For the customer: done.")]


# A note written to attack the operator's terminal: OSC 52 (write the clipboard), a screen
# clear, a right-to-left override, the one-byte CSI (0x9b), a bell, a carriage return, NUL.
HOSTILE_TEXT = "a\x1b]52;c;ZXZpbA==\x07b\x1b[2J\u202eexe.txt\x9b31m\r\x00z"
OBEYED = ("\x1b]", "\x1b[2J", "\u202e", "\x9b", "\x07", "\x00")  # rich's styles may stay


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
@pytest.mark.parametrize("peer", backends("hostile text"), indirect=True)
def test_ticket_show_at_a_terminal_shows_control_characters_never_obeys_them(
        rig: Rig, cli: Cli, fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    ticket = rig.server.create_ticket()
    with rig.system() as system:
        system.add_note(ticket, HOSTILE_TEXT + " " + "x" * (1 << 20))  # and 1 MB of it
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    r = cli("--profile", "acme", "ticket", "show", f"{rig.peer.kind}:{ticket}", "-o", fmt)
    assert r.code == 0, r.err
    assert not [c for c in OBEYED if c in r.out], fmt
    if fmt == "json":  # escaped the JSON way: the same text for a program that reads it
        assert json.loads(r.out)["notes"][-1]["body"].startswith(HOSTILE_TEXT)
    r = cli("--profile", "acme", "ticket", "show", f"{rig.peer.kind}:1{HOSTILE_TEXT}")
    assert r.code != 0 and not [c for c in OBEYED if c in r.out + r.err]


# -- never twice ---------------------------------------------------------------------------

@pytest.mark.parametrize("peer", backends("crash after posting"), indirect=True)
def test_a_redelivery_after_a_crash_after_posting_does_not_post_twice(rig: Rig) -> None:
    ticket = rig.peer.create_ticket()
    rig.queue(ticket)
    with rig.system() as system:  # the flusher that posted, then died before recording it
        crash_after_posting(rig.journal, system)
    [posted] = rig.peer.notes(ticket)
    assert rig.flush() == FlushReport(delivered=1)
    assert rig.peer.notes(ticket) == [posted]
    assert (rig.row()["status"], rig.row()["remote_id"]) == ("delivered", posted.id)


@pytest.mark.parametrize("peer", backends("lost answer"), indirect=True)
def test_a_redelivery_after_a_lost_answer_does_not_post_twice(rig: Rig) -> None:
    ticket = rig.server.create_ticket()
    rig.queue(ticket)
    method, path = rig.server.note_write
    rig.server.lose_answer(method=method, path=path)  # stored, but the answer never came
    assert rig.flush() == rig.waits(retrying=1)  # and says when it is next tried
    [posted] = rig.server.notes(ticket)
    assert rig.row()["status"] == "pending"

    make_due(rig.journal)
    assert rig.flush() == FlushReport(delivered=1)
    assert rig.server.notes(ticket) == [posted]
    assert rig.note_writes() == 1
    assert (rig.row()["status"], rig.row()["remote_id"]) == ("delivered", posted.id)


@pytest.mark.parametrize("peer", backends("lost answer"), indirect=True)
def test_a_failed_note_retried_by_hand_after_a_lost_answer_is_not_posted_twice(
        rig: Rig, cli: Cli) -> None:
    """The server stored the note, the answer was lost, the note ran out of attempts;
    `ticket flush --retry-failed` must look for the copy first, as any redelivery does."""
    rig.limit(note_attempts=1)
    ticket = rig.server.create_ticket()
    rig.queue(ticket)
    method, path = rig.server.note_write
    rig.server.lose_answer(method=method, path=path)
    assert rig.flush() == FlushReport(failed=1)
    [posted] = rig.server.notes(ticket)

    r = cli("ticket", "flush", "--retry-failed")
    assert r.code == 0, r.err
    assert rig.server.notes(ticket) == [posted]
    assert rig.note_writes() == 1
    assert (rig.row()["status"], rig.row()["remote_id"]) == ("delivered", posted.id)


@pytest.mark.parametrize("peer", backends("slow flush"), indirect=True)
def test_a_slow_flush_and_a_second_flush_never_post_the_same_note_twice(rig: Rig) -> None:
    """Flush A is slow on its first note: by the time it is done, the leases it took on
    the notes after it have run out and flush B has taken and delivered them. A must not
    then post them again."""
    first, second = rig.server.create_ticket(), rig.server.create_ticket()
    rig.queue(first)
    other = "R-20251125-100001-def456"
    queue_note(rig.journal, system=rig.peer.kind, ticket=second, run_id=other)
    inner: list[FlushReport] = []

    class Slow:
        """The backend, whose first note takes longer than a lease."""

        def __init__(self, system: TicketSystem) -> None:
            self.system = system

        def __getattr__(self, name: str) -> Any:
            return getattr(self.system, name)

        def add_note(self, ticket_id: str, text: str, *, internal: bool = True) -> str:
            if not inner:  # the lease on every other note runs out; B comes along
                rig.journal.db.execute(
                    "UPDATE outbox SET lease_until = '2000-01-01T00:00:00+00:00' "
                    "WHERE lease_until IS NOT NULL AND ticket != ?", (ticket_id,))
                inner.append(flush(rig.journal, rig.open, limits=limits()))
            return self.system.add_note(ticket_id, text, internal=internal)

    report = flush(rig.journal, lambda p, k: cast(TicketSystem, Slow(rig.open(p, k))),
                   limits=limits())
    assert inner[0].delivered == 1 and report.delivered + inner[0].delivered == 2
    assert len(rig.server.notes(first)) == 1
    assert len(rig.server.notes(second)) == 1, "posted by both flushes"
    assert [r["status"] for r in rig.journal.outbox()] == ["delivered", "delivered"]


@pytest.mark.parametrize("peer", backends("lost answer"), indirect=True)
def test_a_note_no_attempt_reached_is_delivered_without_a_look_for_a_copy(rig: Rig) -> None:
    """A note a flush had no time for was never sent: its delivery costs what a first
    delivery costs, no read of the ticket's notes first."""
    first, second = rig.server.create_ticket(), rig.server.create_ticket()
    rig.queue(first)
    assert flush(rig.journal, rig.open, deadline=-1, limits=limits()).not_reached == 1
    before = rig.sent()
    assert rig.flush().delivered == 1
    late = rig.sent() - before
    queue_note(rig.journal, system=rig.peer.kind, ticket=second,
               run_id="R-20251125-100001-def456")
    before = rig.sent()
    assert rig.flush().delivered == 1
    assert late == rig.sent() - before
    assert len(rig.server.notes(first)) == 1


# -- transient trouble: retried, not before the server allows ------------------------------

@pytest.mark.parametrize("form", ["seconds", "http-date"])
@pytest.mark.parametrize("peer", backends("rate limit"), indirect=True)
def test_a_rate_limit_is_waited_out_as_retry_after_says(rig: Rig, form: str) -> None:
    ticket = rig.server.create_ticket()
    rig.queue(ticket)
    before = datetime.now(UTC)
    moment = before.replace(microsecond=0) + timedelta(seconds=121)  # a date has no fractions
    rig.server.fail(429, retry_after=120 if form == "seconds" else
                    format_datetime(moment, usegmt=True))
    assert rig.flush() == rig.waits(retrying=1)  # and says when it is next tried
    after = datetime.now(UTC)
    assert rig.row()["status"] == "pending" and "429" in rig.row()["last_error"]
    earliest, latest = (between(before, after, 120) if form == "seconds"
                        else (moment, moment + (after - before)))
    assert earliest <= next_attempt(rig.journal) <= latest
    assert rig.server.notes(ticket) == []

    sent = rig.sent()
    assert rig.flush() == rig.waits(waiting=1)  # before the time: nothing is opened or sent
    assert rig.sent() == sent

    make_due(rig.journal)
    assert rig.flush() == FlushReport(delivered=1)
    [note] = rig.server.notes(ticket)
    assert (note.text, note.internal) == (NOTE, True)
    assert rig.opened == [("acme", rig.server.kind)] * 2


@pytest.mark.parametrize(("status", "retry_after"), [(500, None), (502, None), (503, 30)])
@pytest.mark.parametrize("peer", backends("server error"), indirect=True)
def test_a_server_error_is_retried_then_delivered_once(rig: Rig, status: int,
                                                      retry_after: int | None) -> None:
    ticket = rig.server.create_ticket()
    rig.queue(ticket)
    method, path = rig.server.note_write
    rig.server.fail(status, retry_after=retry_after, method=method, path=path)
    before = datetime.now(UTC)
    assert rig.flush() == rig.waits(retrying=1)  # and says when it is next tried
    after = datetime.now(UTC)
    assert rig.row()["status"] == "pending" and f"HTTP {status}" in rig.row()["last_error"]
    if retry_after is None:  # the first backoff: 5 s, jitter ±20 %
        earliest = between(before, after, BACKOFF_FIRST * 0.8)[0]
        latest = between(before, after, BACKOFF_FIRST * 1.2)[1]
    else:
        earliest, latest = between(before, after, retry_after)
    assert earliest <= next_attempt(rig.journal) <= latest
    assert rig.server.notes(ticket) == []

    make_due(rig.journal)
    assert rig.flush() == FlushReport(delivered=1)
    [note] = rig.server.notes(ticket)
    assert (note.text, note.internal) == (NOTE, True)
    assert rig.note_writes() == 2  # the refused one, and the one that stored it


@pytest.mark.parametrize("peer", backends("server down"), indirect=True)
def test_a_server_that_is_down_is_retried(rig: Rig) -> None:
    rig.queue(rig.server.create_ticket())
    rig.server.stop()  # nothing listens on its port any more
    assert rig.flush() == rig.waits(retrying=1)  # and says when it is next tried
    assert rig.row()["status"] == "pending" and "ConnectError" in rig.row()["last_error"]


@pytest.mark.parametrize("peer", backends("out of attempts"), indirect=True)
def test_transient_trouble_fails_for_good_once_out_of_attempts(rig: Rig, cli: Cli) -> None:
    rig.limit(note_attempts=2)
    ticket = rig.server.create_ticket()
    rig.queue(ticket)
    method, path = rig.server.note_write
    rig.server.fail(503, times=2, method=method, path=path)
    assert rig.flush() == rig.waits(retrying=1)  # attempt 1 of 2
    make_due(rig.journal)
    assert rig.flush() == FlushReport(failed=1)  # attempt 2: the last
    row = rig.row()
    assert row["status"] == "failed" and row["attempts"] == 2
    assert row["last_error"].startswith("gave up after 2 attempt(s) over ")
    assert "HTTP 503" in row["last_error"]
    assert rig.server.notes(ticket) == []
    [trace] = rig.journal_rows()  # a lasting trace: the journal, not only the outbox
    assert (trace["action"], trace["status"]) == ("ticket.note", "failed")
    assert "gave up after 2 attempt(s)" in trace["error"]
    r = cli("ticket", "outbox", "-o", "json")  # and the outbox lists it
    assert [(n["status"], n["attempts"]) for n in json.loads(r.out)] == [("failed", 2)]


@pytest.mark.parametrize("peer", backends("too old"), indirect=True)
def test_transient_trouble_fails_for_good_once_the_note_is_too_old(rig: Rig) -> None:
    rig.limit(note_max_hours=1)
    ticket = rig.server.create_ticket()
    rig.queue(ticket)
    rig.journal.db.execute("UPDATE outbox SET created = ?",
                           ((datetime.now(UTC) - timedelta(hours=2)).isoformat(),))
    method, path = rig.server.note_write
    rig.server.fail(502, method=method, path=path)
    assert rig.flush() == FlushReport(failed=1)
    assert rig.row()["last_error"].startswith("gave up after 1 attempt(s) over 2.0 h: ")


@pytest.mark.parametrize("peer", backends("too old"), indirect=True)
def test_a_note_too_old_retried_by_hand_gets_a_fresh_budget(rig: Rig, cli: Cli) -> None:
    """`ticket flush --retry-failed` is a person saying "try again": the note gets the
    profile's attempts and hours again, counted from then, and the journal says who
    asked. (It used to get one attempt, then fail again for its age.)"""
    rig.limit(note_max_hours=1, note_attempts=3)
    ticket = rig.server.create_ticket()
    rig.queue(ticket)
    rig.journal.db.execute("UPDATE outbox SET created = ?",
                           ((datetime.now(UTC) - timedelta(hours=2)).isoformat(),))
    method, path = rig.server.note_write
    rig.server.fail(502, times=3, method=method, path=path)
    assert rig.flush() == FlushReport(failed=1)  # too old: given up after one attempt
    r = cli("ticket", "flush", "--retry-failed", "-o", "json")
    assert r.code == 3 and json.loads(r.out)["retrying"] == 1, r.out + r.err  # not failed
    make_due(rig.journal)
    assert rig.flush() == rig.waits(retrying=1)  # attempt 2 of the fresh 3
    make_due(rig.journal)
    assert rig.flush() == FlushReport(delivered=1)  # the server is back
    assert [n.text for n in rig.server.notes(ticket)] == [NOTE]
    row = rig.row()
    assert row["status"] == "delivered" and row["created"] < row["retried"]
    statuses = [(t["status"], t["summary"]) for t in rig.journal_rows()]
    assert statuses[0][0] == "failed"
    assert statuses[1][0] == "retry" and "retried by hand by tester" in statuses[1][1]


@pytest.mark.parametrize("peer", backends("too old"), indirect=True)
def test_a_note_retried_by_hand_still_fails_once_its_fresh_budget_is_spent(rig: Rig,
                                                                         cli: Cli) -> None:
    rig.limit(note_attempts=2)
    ticket = rig.server.create_ticket()
    rig.queue(ticket)
    method, path = rig.server.note_write
    rig.server.fail(503, times=10, method=method, path=path)
    for _ in range(2):
        make_due(rig.journal)
        rig.flush()
    assert rig.row()["status"] == "failed"
    assert cli("ticket", "flush", "--retry-failed").code == 3  # attempt 1 of a fresh 2
    make_due(rig.journal)
    assert rig.flush() == FlushReport(failed=1)  # attempt 2: spent, failed for good again
    assert rig.row()["attempts"] == 2 and rig.journal.unsettled_notes() == {"failed": 1}


@pytest.mark.parametrize("peer", backends("not json"), indirect=True)
def test_an_answer_that_is_not_json_is_retried_naming_its_first_line(rig: Rig) -> None:
    ticket = rig.server.create_ticket()
    rig.queue(ticket)
    method, path = rig.server.note_write
    page = Reply(200, b"\n<html><head><title>Sign in - SSO</title></head>\n<body></body>",
                 {"Content-Type": "text/html; charset=utf-8"})  # a login proxy in front
    rig.server.fail(200, method=method, path=path, reply=page)
    assert rig.flush() == rig.waits(retrying=1)  # never `delivered`, never an exception
    assert "<html><head><title>Sign in - SSO</title></head>" in rig.row()["last_error"]
    make_due(rig.journal)
    assert rig.flush() == FlushReport(delivered=1)
    [note] = rig.server.notes(ticket)
    assert (note.text, note.internal) == (NOTE, True)


# -- a hostile ticket system -----------------------------------------------------------------

HOSTILE_RETRY_AFTER = ["inf", "1e300", "31536000", "-5", "nan",
                       "Wed, 21 Oct 2099 07:28:00 -0000", "Wed, 21 Oct 2015 07:28:00 -0000"]


@pytest.mark.parametrize("value", HOSTILE_RETRY_AFTER)
@pytest.mark.parametrize("peer", backends("hostile retry-after"), indirect=True)
def test_a_hostile_retry_after_is_retried_within_the_hour(rig: Rig, value: str) -> None:
    """A year, infinity, a negative number, a date without a zone: the note is retried,
    within an hour, and the flush ends: the next note waits as long, unsent (a 429 is the
    system's "not now" to the account, test_rev12b_outbox_backlog), then arrives."""
    first, second = rig.server.create_ticket(), rig.server.create_ticket()
    rig.queue(first)
    queue_note(rig.journal, system=rig.peer.kind, ticket=second, internal=True,
               run_id="R-20251125-100001-def456")
    method, path = rig.server.note_write
    rig.server.fail(429, retry_after=value, method=method, path=path)
    before = datetime.now(UTC)
    report = rig.flush()
    assert (report.retrying, report.not_reached, report.delivered, report.failed) == \
        (1, 1, 0, 0)
    waiting = [r for r in rig.journal.outbox() if r["status"] == "pending"]
    assert [r["ticket"] for r in waiting] == [first, second]
    assert [(r["lease_until"], r["attempts"]) for r in waiting] == [(None, 1), (None, 0)]
    for row in waiting:
        due = datetime.fromisoformat(row["next_attempt"])
        assert before <= due <= datetime.now(UTC) + timedelta(hours=1)
    assert rig.server.notes(second) == []
    make_due(rig.journal)
    assert rig.flush() == FlushReport(delivered=2)
    other = NOTE.replace(RUN, "R-20251125-100001-def456")
    assert [n.text for n in rig.server.notes(second)] == [other]


@pytest.mark.parametrize("status", [200, 400, 500])
@pytest.mark.parametrize("peer", backends("hostile json"), indirect=True)
def test_json_nested_ten_thousand_deep_is_an_answer_error_not_a_crash(rig: Rig,
                                                                      status: int) -> None:
    ticket = rig.server.create_ticket()
    rig.queue(ticket)
    method, path = rig.server.note_write
    deep = Reply(status, b"[" * 10_000 + b"]" * 10_000, {"Content-Type": "application/json"})
    rig.server.fail(status, method=method, path=path, reply=deep)
    report = rig.flush()
    assert report.delivered == 0 and report.retrying + report.failed == 1
    error = rig.row()["last_error"]
    assert "unexpected" not in error and "Recursion" not in error, error
    assert rig.server.notes(ticket) == []


@pytest.mark.parametrize("status", [301, 302, 307, 308])
@pytest.mark.parametrize("peer", backends("redirect"), indirect=True)
def test_a_redirect_elsewhere_is_refused_not_followed_nor_taken_for_success(
        rig: Rig, status: int) -> None:
    """A note write answered by a redirect to another host (a captive portal, a moved
    server): never `delivered`, never followed with the credentials, the error says where."""
    ticket = rig.server.create_ticket()
    rig.queue(ticket)
    method, path = rig.server.note_write
    away = Reply(status, b"", {"Location": "https://attacker.example/steal"})
    rig.server.fail(status, method=method, path=path, reply=away)
    report = rig.flush()
    assert report.delivered == 0 and report.failed == 1, report
    row = rig.row()
    assert row["status"] == "failed" and "attacker.example" in row["last_error"], row
    assert rig.server.notes(ticket) == []


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
@pytest.mark.parametrize("peer", backends("huge answer"), indirect=True)
def test_a_huge_answer_is_cut_off_with_memory_bounded(rig: Rig, encoding: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """100 MB (or a gzip that inflates to it) for a note write: the read stops at the
    limit (1 MiB here) and the note is retried; memory never holds the body."""
    import gzip
    import tracemalloc

    from adminkit.tickets import bounded

    monkeypatch.setattr(bounded, "MAX_BYTES", 1 << 20)
    ticket = rig.server.create_ticket()
    rig.queue(ticket)
    method, path = rig.server.note_write
    body = b" " * (100 << 20)
    if encoding == "gzip":
        body = gzip.compress(body, compresslevel=1)  # about 100 KB on the wire
    huge = Reply(200, body, {"Content-Type": "application/json", "Content-Encoding": encoding})
    rig.server.fail(200, method=method, path=path, reply=huge)
    tracemalloc.start()
    try:
        report = rig.flush()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert report.retrying == 1 and report.delivered == 0, report
    assert "larger than 1 MiB" in rig.row()["last_error"]
    assert peak < 32 << 20, f"{peak / 2**20:.0f} MiB held"
    assert rig.server.notes(ticket) == []


def flush_from_a_dribbler(rig: Rig, monkeypatch: pytest.MonkeyPatch, head: bytes,
                          byte: bytes) -> FlushReport:
    """Flush against a server that sends `head` at once, then `byte` every 0.2 s (for
    30 s at most: a client without a limit fails the case instead of hanging it), with
    a request's time limited to 1 s."""
    import socket
    import threading

    from adminkit.tickets import bounded

    monkeypatch.setattr(bounded, "MAX_SECONDS", 1.0)
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def dribble() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(head)
                for _ in range(150):
                    if stop.wait(0.2):
                        break
                    try:
                        conn.sendall(byte)
                    except OSError:
                        break

    threading.Thread(target=dribble, daemon=True).start()
    host, port = listener.getsockname()
    rig.limit(url=f"http://{host}:{port}")
    rig.queue(rig.server.create_ticket())
    try:
        return rig.flush()
    finally:
        stop.set()
        listener.close()


@pytest.mark.parametrize("peer", backends("trickling answer"), indirect=True)
def test_an_answer_that_trickles_in_is_given_up_on(rig: Rig,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Headers at once, then a body byte every 0.2 s: httpx's timeout is per read and
    never fires; the total time to read the answer does (1 s here)."""
    report = flush_from_a_dribbler(rig, monkeypatch, b"HTTP/1.1 200 OK\r\nContent-Type: "
                                   b"application/json\r\nContent-Length: 100000\r\n\r\n", b" ")
    assert report.retrying == 1 and report.delivered == 0, report
    assert "took longer than 1 s" in rig.row()["last_error"]


@pytest.mark.parametrize("peer", backends("trickling headers"), indirect=True)
def test_headers_that_trickle_in_are_given_up_on(rig: Rig,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The status line, then a header byte every 0.2 s: no read waits long enough for
    httpx's per-read timeout; the request's deadline (1 s here) covers the headers too."""
    report = flush_from_a_dribbler(rig, monkeypatch, b"HTTP/1.1 200 OK\r\n", b"X")
    assert report.retrying == 1 and report.delivered == 0, report
    assert "took longer than 1 s" in rig.row()["last_error"], rig.row()["last_error"]


# -- an internal note that went public ------------------------------------------------------

@pytest.mark.parametrize("peer", backends("internal made public"), indirect=True)
def test_an_internal_note_made_public_is_published_never_delivered(rig: Rig, cli: Cli) -> None:
    ticket = rig.server.create_ticket()
    rig.server.deny_internal()  # the vendor still accepts the note, and publishes it
    rig.queue(ticket)
    assert rig.flush() == FlushReport(published=1)
    [note] = rig.server.notes(ticket)
    assert (note.text, note.internal) == (NOTE, False)
    row = rig.row()
    assert (row["status"], row["remote_id"]) == ("published", note.id)
    assert "public" in row["last_error"]
    [trace] = rig.journal_rows()
    assert (trace["status"], trace["target"]) == ("failed", f"{rig.server.kind}:{ticket}"
                                                  .replace("servicenow:", "snow:"))
    make_due(rig.journal)
    assert rig.flush() == FlushReport() and rig.note_writes() == 1  # never posted again
    r = cli("ticket", "outbox", "-o", "json")
    assert [n["status"] for n in json.loads(r.out)] == ["published"]
    r = cli("ticket", "outbox", "--ack", str(row["id"]))
    assert r.code == 0 and rig.journal.unsettled_notes() == {}


@pytest.mark.parametrize("peer", backends("internal made public"), indirect=True)
def test_a_run_whose_note_went_public_says_so_in_its_journal_too(rig: Rig) -> None:
    """The report's exit code (3), its failed `ticket.note` result and the journal's
    end-of-run row agree: `journal` must not call the run fine."""
    from adminkit.automation.request import RunRequest
    from adminkit.automation.service import RunService
    from adminkit.core.config import load_profile
    from tests.unit.toys import toy

    ticket = rig.server.create_ticket()
    rig.server.deny_internal()
    report = RunService(journal_path=rig.journal.path).run(RunRequest(
        command="toy a", profile=load_profile("acme"), ticket=f"{rig.peer.kind}:{ticket}",
        actions=[toy("a", [])]))
    assert report.exit_code == ExitCode.CONNECTION
    assert report.results[-1].action == "ticket.note"
    status, detail = rig.journal.db.execute(  # the newest end row is how the run ended
        "SELECT status, detail FROM entries WHERE kind = 'end' ORDER BY seq DESC").fetchone()
    assert (status, json.loads(detail)["exit_code"]) == (report.status, report.exit_code)
    assert [n.internal for n in rig.server.notes(ticket)] == [False]  # one note, no more


@pytest.mark.parametrize("peer", backends("internal made public"), indirect=True)
def test_a_redelivery_that_finds_its_earlier_copy_public_records_it_published(
        rig: Rig) -> None:
    ticket = rig.server.create_ticket()
    rig.server.deny_internal()
    rig.queue(ticket)
    with rig.system() as system:  # a flusher posted it (public), then died unrecorded
        [claimed] = rig.journal.claim_due(datetime.now(UTC))
        with pytest.raises(NotePublished):
            system.add_note(ticket, claimed["body"])
    rig.journal.db.execute("UPDATE outbox SET lease_until = '2000-01-01T00:00:00+00:00'")
    [posted] = rig.server.notes(ticket)
    assert rig.flush() == FlushReport(published=1)
    assert (rig.row()["status"], rig.row()["remote_id"]) == ("published", posted.id)
    assert rig.server.notes(ticket) == [posted] and rig.note_writes() == 1


@pytest.mark.parametrize("peer", backends("internal made public"), indirect=True)
def test_a_profile_that_accepts_public_notes_has_them_delivered(rig: Rig) -> None:
    rig.limit(allow_public_notes=True)
    ticket = rig.server.create_ticket()
    rig.server.deny_internal()
    rig.queue(ticket)
    assert rig.flush() == FlushReport(delivered=1)
    assert [n.internal for n in rig.server.notes(ticket)] == [False]


@pytest.mark.parametrize("peer", backends("ping: internal notes"), indirect=True)
def test_ping_fails_when_the_account_may_not_write_internal_notes(rig: Rig) -> None:
    rig.server.deny_internal()
    with rig.system() as system, pytest.raises(ConnectionFailed) as err:
        system.ping()
    assert err.value.exit_code == ExitCode.CONNECTION and err.value.hint
    assert "public" in err.value.message and "allow_public_notes" in err.value.hint
    rig.limit(allow_public_notes=True)  # a profile may accept public notes explicitly
    with rig.system() as system:
        assert "accepted: tickets.allow_public_notes" in system.ping()


# -- permanent trouble: failed, for a person ----------------------------------------------

@pytest.mark.parametrize("peer", backends("coded refusal"), indirect=True)
def test_a_coded_refusal_fails_for_good_at_once_with_the_reason(rig: Rig) -> None:
    ticket = rig.server.create_ticket()
    rig.queue(ticket)
    method, path = rig.server.note_write
    rig.server.fail(rig.server.note_refusal, method=method, path=path)
    assert rig.flush() == FlushReport(failed=1)
    row = rig.row()
    assert (row["status"], row["attempts"]) == ("failed", 1)
    assert "gave up" not in row["last_error"] and row["last_error"]
    make_due(rig.journal)
    assert rig.flush() == FlushReport()  # not retried: it waits for a person
    assert rig.note_writes() == 1 and rig.server.notes(ticket) == []
    [trace] = rig.journal_rows()
    assert trace["error"] == row["last_error"]


@pytest.mark.parametrize("peer", backends("missing ticket"), indirect=True)
def test_a_missing_ticket_fails_for_good(rig: Rig) -> None:
    rig.queue(rig.peer.missing_ticket)
    assert rig.flush() == FlushReport(failed=1)
    assert rig.row()["status"] == "failed"
    sent = rig.sent()
    make_due(rig.journal)
    assert rig.flush() == FlushReport()  # not retried: it waits for a person
    assert (rig.row()["status"], rig.sent()) == ("failed", sent)
    assert rig.opened == [("acme", rig.peer.kind)]


CALLS: dict[str, Callable[[TicketSystem, str], object]] = {
    "add_note": lambda system, ticket: system.add_note(ticket, NOTE),
    "find_note": lambda system, ticket: system.find_note(ticket, marker(RUN, 0)),
    "get": lambda system, ticket: system.get(ticket),
    "set_status": lambda system, ticket: system.set_status(ticket, "closed"),
    "attach": lambda system, ticket: system.attach(ticket, "report.txt", b"jdoe: disabled\n"),
}


def missing_ticket_calls() -> list[Any]:
    CASES.update(f"missing ticket: {call}" for call in CALLS)
    return [pytest.param(kind, call, id=f"{kind}-{call}") for kind in KINDS for call in CALLS
            if (kind, f"missing ticket: {call}") not in NOT_APPLICABLE]


@pytest.mark.parametrize(("peer", "call"), missing_ticket_calls(), indirect=["peer"])
def test_every_call_on_a_missing_ticket_is_ticket_not_found(rig: Rig, call: str) -> None:
    with rig.system() as system, pytest.raises(TicketNotFound) as err:
        CALLS[call](system, rig.peer.missing_ticket)
    assert rig.peer.missing_ticket in err.value.message  # the error says which ticket
    assert err.value.exit_code == ExitCode.USAGE  # the system is there; the ticket is not


SYSTEM_NAMES = {"jira": "Jira", "servicenow": "ServiceNow", "zammad": "Zammad",
                "glpi": "GLPI", "redmine": "Redmine", "local": "local"}


def run_for(rig: Rig, ticket: str, calls: list[tuple[str, str]], rows: int = 3) -> Any:
    """A run of `rows` toy actions for the peer's `ticket`, as `adminkit --ticket` makes it."""
    from adminkit.automation.request import RunRequest
    from adminkit.automation.service import RunService
    from adminkit.core.config import load_profile
    from tests.unit.toys import toy

    return RunService(journal_path=rig.journal.path).run(RunRequest(
        command="toy", profile=load_profile("acme"),
        ticket=str(TicketRef(rig.peer.kind, ticket)),
        actions=[toy(str(i), calls) for i in range(rows)]))


def count_reads(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tickets the backend's `get` is asked for (the real call goes on)."""
    with rig.system() as system:
        backend = type(system)
    read, asked = backend.get, []

    def get(self: TicketSystem, ticket_id: str) -> Any:
        asked.append(ticket_id)
        return read(self, ticket_id)

    monkeypatch.setattr(backend, "get", get)
    return asked


@pytest.mark.parametrize("peer", backends("missing ticket: run"), indirect=True)
def test_a_run_for_a_missing_ticket_is_refused_before_anything(
        rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    asked = count_reads(rig, monkeypatch)
    calls: list[tuple[str, str]] = []
    with pytest.raises(TicketNotFound) as err:
        run_for(rig, rig.peer.missing_ticket, calls)
    assert err.value.exit_code == ExitCode.USAGE
    ref = str(TicketRef(rig.peer.kind, rig.peer.missing_ticket))
    assert err.value.message.startswith(f"ticket {ref}: ")  # the ticket, and the system:
    assert SYSTEM_NAMES[rig.peer.kind] in err.value.message, err.value.message
    assert "nothing was done" in err.value.message
    assert calls == []  # not even planned
    assert rig.journal.entries(Filters()) == [] and rig.journal.outbox() == []
    assert asked == [rig.peer.missing_ticket]
    if isinstance(rig.peer, ServerFake):
        assert rig.note_writes() == 0


@pytest.mark.parametrize("peer", backends("missing ticket: run"), indirect=True)
def test_a_run_for_a_ticket_that_exists_reads_it_once_however_many_rows(
        rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    ticket = rig.peer.create_ticket()
    asked = count_reads(rig, monkeypatch)
    calls: list[tuple[str, str]] = []
    report = run_for(rig, ticket, calls, rows=5)
    assert report.exit_code == ExitCode.OK, report.notices
    assert [phase for _, phase in calls].count("apply") == 5
    assert asked == [ticket]  # one read per run, not one per row
    assert not any("could not check" in n for n in report.notices)


@pytest.mark.parametrize("peer", backends("queue policy"), indirect=True)
def test_a_run_acts_only_for_a_ticket_in_one_of_the_profiles_queues(rig: Rig) -> None:
    """A ticket number one digit off most often names a ticket in another team's or
    customer's queue. A profile that names its queues (by its name, key or identifier,
    or by `id:N`; any case) refuses the rest before anything. A name never stands for an
    id, nor an id for a name: they are matched apart."""
    ticket = rig.peer.create_ticket()
    with rig.system() as system:
        found = system.get(ticket)
    names = [n for n in (found.queue_names if found.queue_names is not None
                         else (found.queue,)) if n]
    ids = [f"id:{found.queue_id}"] if found.queue_id else []
    assert names or ids or rig.peer.kind == "local"
    calls: list[tuple[str, str]] = []
    given = [*names, *ids]
    accepted = [[n.swapcase()] for n in given] + [["Elsewhere", *given[:1]]] * bool(given)
    for queues in [*accepted, ["*"]]:
        rig.limit(queues=queues)
        assert run_for(rig, ticket, calls, rows=1).exit_code == ExitCode.OK, queues
    if names:  # `queue` alone (the one new tickets go to, say) is the default
        rig.limit(queues=[], queue=names[-1])
        assert run_for(rig, ticket, calls, rows=1).exit_code == ExitCode.OK
    acted, rows = len(calls), len(rig.journal.entries(Filters()))
    writes = rig.note_writes() if isinstance(rig.peer, ServerFake) else 0
    crossed = [[f"id:{n}"] for n in names if n != found.queue_id] + \
        [[f"name:{found.queue_id}"]] * (bool(found.queue_id) and found.queue_id not in names)
    for refused in ({"queues": ["Elsewhere"]}, {"queues": [], "queue": "Elsewhere"},
                    *({"queues": q} for q in crossed)):
        rig.limit(**refused)
        with pytest.raises(UsageError) as err:
            run_for(rig, ticket, calls, rows=1)
        assert err.value.exit_code == ExitCode.USAGE
        ref = TicketRef(rig.peer.kind, ticket)
        if "id: takes the queue's id as the system gives it" in err.value.message:
            continue  # `id:HD`: no system's id looks so, refused when the profile is read
        assert err.value.message.startswith(f"ticket {ref} is in ")
        wanted = ", ".join(refused["queues"] or ["Elsewhere"])
        assert err.value.message.endswith(
            f"; this profile acts only for tickets in {wanted}; nothing was done"), refused
        assert "tickets.queues" in (err.value.hint or "")
    assert (len(calls), len(rig.journal.entries(Filters()))) == (acted, rows)
    if isinstance(rig.peer, ServerFake):
        assert rig.note_writes() == writes


@pytest.mark.parametrize("peer", backends("server down"), indirect=True)
def test_a_run_while_the_ticket_system_is_down_acts_and_says_so(rig: Rig) -> None:
    ticket = rig.server.create_ticket()
    rig.server.stop()
    calls: list[tuple[str, str]] = []
    report = run_for(rig, ticket, calls, rows=2)
    assert [phase for _, phase in calls].count("apply") == 2  # acted, as before
    [said] = [n for n in report.notices if "could not check that the ticket exists" in n]
    assert "outbox" in said and "ConnectError" in said
    assert {row["status"] for row in rig.journal.outbox()} == {"pending"}


@pytest.mark.parametrize("peer", backends("refused credentials"), indirect=True)
def test_refused_credentials_fail_for_good_with_exit_3_and_no_secret(rig: Rig,
                                                                     cli: Cli) -> None:
    ticket = rig.server.create_ticket()
    rig.queue(ticket)
    rig.server.reject_credentials()
    r = cli("ticket", "flush", "-o", "json")
    assert r.code == ExitCode.CONNECTION.value == 3
    assert json.loads(r.out) == {"delivered": 0, "retrying": 0, "failed": 1, "not_reached": 0,
                                 "waiting": 0, "busy": 0, "next_try": None}
    row = rig.row()
    assert row["status"] == "failed" and rig.server.refusal in row["last_error"]
    assert rig.server.notes(ticket) == []

    with rig.system() as system, pytest.raises(AuthenticationFailed) as err:
        system.ping()
    assert err.value.exit_code == ExitCode.CONNECTION
    assert rig.server.refusal in err.value.message and err.value.hint
    said = "\n".join([r.out, r.err, row["last_error"], str(err.value), err.value.hint or ""])
    for credential in sent_credentials(rig.server):
        assert credential not in said


@pytest.mark.parametrize("status", [400, 502])
@pytest.mark.parametrize("peer", backends("echoed credentials"), indirect=True)
def test_credentials_an_error_page_echoes_back_are_never_kept_nor_shown(rig: Rig, cli: Cli,
                                                                       status: int) -> None:
    """A proxy's error page that lists the request's headers: the Authorization (Basic's
    base64, a bearer token) and session tokens must not reach the outbox, the journal or
    the terminal."""
    ticket = rig.server.create_ticket()
    rig.queue(ticket)
    method, path = rig.server.note_write
    rig.server.fail(status, method=method, path=path, echo=True)
    r = cli("ticket", "flush")
    assert r.code != 0
    [echoed] = [q for q in rig.server.requests if q.method == method and q.path.startswith(path)]
    wire = {v.split(" ", 1)[-1] for k, v in echoed.headers.items()
            if k in ("authorization", "session-token", "app-token", "x-redmine-api-key")}
    assert wire, echoed.headers
    said = "\n".join([r.out, r.err, json.dumps(rig.journal.outbox()),
                      json.dumps(rig.journal_rows(), default=str)])
    assert status != 400 or "You sent" in said  # a refusal's words are kept
    assert [c for c in wire if c in said] == []


# -- who is signed in ----------------------------------------------------------------------

@pytest.mark.parametrize("peer", backends("ping names the account"), indirect=True)
def test_ping_names_who_is_signed_in(rig: Rig) -> None:
    with rig.system() as system:
        text = system.ping()
    assert all(name in text for name in rig.server.account), (text, rig.server.account)
    assert not any(credential in text for credential in sent_credentials(rig.server))


# -- a new ticket (a schedule's `ticket: new`) -----------------------------------------------

NIGHTLY = Schedule(name="nightly", calendar="daily", playbook="disable-inactive-accounts",
                   ticket="new")


@pytest.mark.parametrize("peer", backends("create"), indirect=True)
def test_a_schedule_opens_a_new_ticket_that_takes_its_notes(
        rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    ref = new_ticket(profile_for(rig.peer, monkeypatch), NIGHTLY, local=False, check=False)
    assert ref is not None
    parsed = parse_ref(ref, None)
    assert parsed.kind == rig.peer.kind
    subject, text = rig.peer.opened(parsed.id)
    assert subject == "schedule nightly: disable-inactive-accounts"
    assert text is None or "on schedule nightly (daily) for profile acme" in text
    rig.queue(parsed.id)  # the run's notes reach the ticket it opened
    assert rig.flush() == FlushReport(delivered=1)
    assert [n.text for n in rig.peer.notes(parsed.id)][-1] == NOTE


@pytest.mark.parametrize("peer", backends("create refused"), indirect=True)
def test_an_account_that_may_not_open_tickets_is_refused_for_good(
        rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    rig.server.deny_create()
    with pytest.raises(Rejected, match="refused") as caught:
        new_ticket(profile_for(rig.peer, monkeypatch), NIGHTLY, local=False, check=False)
    assert caught.value.exit_code == ExitCode.CONNECTION
    assert caught.value.hint
    assert not any(c in str(caught.value) for c in sent_credentials(rig.server))


@pytest.mark.parametrize("peer", backends("create needs more"), indirect=True)
def test_a_field_the_system_requires_refuses_the_ticket_and_names_it(
        rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    field_name = rig.server.require_more()
    with pytest.raises(Rejected, match=field_name):
        new_ticket(profile_for(rig.peer, monkeypatch), NIGHTLY, local=False, check=False)


# -- the contract itself -------------------------------------------------------------------

def test_every_backend_meets_every_case_or_says_why() -> None:
    """Every installed backend but RT (the lab's real one) has a peer here, and every
    case left out or expected to fail names a real backend, a real case and a reason."""
    installed = {ep.name for ep in entry_points(group="adminkit.tickets")}
    assert installed - {"rt"} | {"local"} == set(KINDS)
    for kind, case in [*NOT_APPLICABLE, *DEFECTS]:
        assert kind in KINDS and case in CASES, (kind, case)
    assert all(len(reason) > 20 for reason in [*NOT_APPLICABLE.values(), *DEFECTS.values()])
