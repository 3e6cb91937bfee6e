"""The GLPI backend, with the real httpx client, against a local fake of GLPI's REST API."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adminkit.core.config import Profile
from adminkit.core.errors import AuthenticationFailed, ExitCode, UsageError
from adminkit.journal.store import Journal
from adminkit.tickets.base import RetryLater, TicketNotFound, TicketSystem
from adminkit.tickets.glpi import Glpi, api_url
from adminkit.tickets.outbox import flush
from adminkit.tickets.settings import TicketsConfig
from tests.fakes.glpi import FakeGlpi
from tests.fakes.outbox_rig import crash_while_leased, make_due, queue_note

RUN = "R-20251125-100000-abc123"
TEXT = ("adminkit:R-20251125-100000-abc123:0; account.disable jdoe by tester (profile acme)\n"
        "changed: disable jdoe\n    enabled: True -> False <b>&amp; ünïcode</b>")


def profile_for(url: str, **tickets: Any) -> Profile:
    settings: dict[str, Any] = {"kind": "glpi", "url": url, "token": "env:GLPI_TOKEN", **tickets}
    return Profile.of(name="acme", tickets=TicketsConfig(**settings))


@pytest.fixture
def glpi() -> Iterator[FakeGlpi]:
    with FakeGlpi() as fake:
        yield fake


@pytest.fixture
def backend(glpi: FakeGlpi, monkeypatch: pytest.MonkeyPatch) -> Iterator[Glpi]:
    monkeypatch.setenv("GLPI_TOKEN", glpi.user_token)
    system = Glpi(profile_for(glpi.url))
    yield system
    system.close()


def test_it_is_a_ticket_system(backend: Glpi) -> None:
    system: TicketSystem = backend
    assert system.kind == "glpi"


@pytest.mark.parametrize(("given", "expected"), [
    ("https://glpi.example", "https://glpi.example/apirest.php"),
    ("https://glpi.example/", "https://glpi.example/apirest.php"),
    ("https://h.example/glpi/apirest.php", "https://h.example/glpi/apirest.php")])
def test_the_url_may_name_the_server_or_the_api(given: str, expected: str) -> None:
    assert api_url(given) == expected


def test_add_note_posts_a_private_followup_with_exactly_the_text(glpi: FakeGlpi,
                                                                backend: Glpi) -> None:
    ticket = glpi.add_ticket()
    note_id = backend.add_note(str(ticket), TEXT)
    [followup] = glpi.followups_of(ticket)
    assert followup["content"] == TEXT
    assert followup["is_private"] == 1
    assert note_id == str(followup["id"])
    [post] = glpi.seen("POST", "/ITILFollowup")
    assert post.json() == {"input": {"itemtype": "Ticket", "items_id": ticket, "content": TEXT,
                                     "is_private": 1}}
    # the credentials go to initSession only; every other call carries the session token
    [init] = glpi.seen("GET", "/initSession")
    assert init.headers["authorization"] == f"user_token {glpi.user_token}"
    others = [r for r in glpi.requests if r.path != "/initSession"]
    assert all("authorization" not in r.headers and r.headers["session-token"] for r in others)
    assert all(r.headers.get("content-type") for r in glpi.requests)  # GLPI asks for one


def test_add_note_is_public_when_asked(glpi: FakeGlpi, backend: Glpi) -> None:
    ticket = glpi.add_ticket()
    backend.add_note(str(ticket), "Your printer works again.", internal=False)
    [followup] = glpi.followups_of(ticket)
    assert (followup["is_private"], followup["content"]) == (0, "Your printer works again.")


def test_find_note_by_marker_reads_every_page(glpi: FakeGlpi, backend: Glpi) -> None:
    ticket = glpi.add_ticket()
    for n in range(130):
        glpi.add_followup(ticket, f"<p>adminkit:R-OTHER:{n}; something else</p>")
    wanted = glpi.add_followup(ticket, f"<p>{TEXT}</p>")  # served HTML-escaped, like GLPI 9
    assert backend.find_note(str(ticket), f"adminkit:{RUN}:0;") == str(wanted)
    assert backend.find_note(str(ticket), f"adminkit:{RUN}:1;") is None
    ranges = [r.query["range"] for r in glpi.seen("GET", f"/Ticket/{ticket}/ITILFollowup")]
    assert ranges[:2] == ["0-99", "100-199"]


def test_find_note_on_a_ticket_without_followups(glpi: FakeGlpi, backend: Glpi) -> None:
    assert backend.find_note(str(glpi.add_ticket()), "adminkit:R-1:0;") is None


def test_get_maps_the_status_number_to_a_word(glpi: FakeGlpi, backend: Glpi) -> None:
    ticket = glpi.add_ticket("VPN broken", status=2)
    got = backend.get(str(ticket))
    assert (got.subject, got.status, got.queue) == ("VPN broken", "assigned", "Printing")
    assert str(got.ref) == f"glpi:{ticket}"
    assert got.fields["urgency"] == 3


@pytest.mark.parametrize(("status", "number"), [("solved", 5), ("Closed", 6), ("4", 4),
                                                ("processing", 2)])
def test_set_status(glpi: FakeGlpi, backend: Glpi, status: str, number: int) -> None:
    ticket = glpi.add_ticket()
    backend.set_status(str(ticket), status)
    assert glpi.tickets[ticket]["status"] == number
    [put] = glpi.seen("PUT", f"/Ticket/{ticket}")
    assert put.json() == {"input": {"status": number}}


def test_set_status_refuses_an_unknown_word(glpi: FakeGlpi, backend: Glpi) -> None:
    with pytest.raises(UsageError, match="no ticket status 'done'"):
        backend.set_status(str(glpi.add_ticket()), "done")


def test_attach_uploads_a_document_linked_to_the_ticket(glpi: FakeGlpi, backend: Glpi) -> None:
    ticket = glpi.add_ticket()
    backend.attach(str(ticket), "users.csv", b"login;mail\njdoe;j@example.org\n")
    [document] = glpi.documents
    assert document["filename"] == "users.csv"
    assert document["data"] == b"login;mail\njdoe;j@example.org\n"
    assert (document["itemtype"], document["items_id"]) == ("Ticket", ticket)


def test_login_with_user_and_password(glpi: FakeGlpi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLPI_PASSWORD", glpi.login[1])
    system = Glpi(profile_for(glpi.url, token=None, user=glpi.login[0],
                              password="env:GLPI_PASSWORD"))
    try:
        ticket = glpi.add_ticket()
        system.add_note(str(ticket), TEXT)
    finally:
        system.close()
    assert glpi.followups_of(ticket)[0]["content"] == TEXT


def test_app_token_is_sent_on_every_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLPI_TOKEN", "glpi-user-token")
    monkeypatch.setenv("GLPI_APP", "the-app-token")
    with FakeGlpi(app_token="the-app-token") as glpi:
        ticket = glpi.add_ticket()
        system = Glpi(profile_for(glpi.url, options={"app_token": "env:GLPI_APP"}))
        system.add_note(str(ticket), TEXT)
        system.close()
        assert {r.headers.get("app-token") for r in glpi.requests} == {"the-app-token"}
        # without it, GLPI refuses the session: a configuration problem, not a retry
        bare = Glpi(profile_for(glpi.url))
        with pytest.raises(AuthenticationFailed):
            bare.get(str(ticket))
        bare.close()


def test_wrong_token_is_an_authentication_failure(glpi: FakeGlpi,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLPI_TOKEN", "not-the-token-4711")
    system = Glpi(profile_for(glpi.url))
    with pytest.raises(AuthenticationFailed) as caught:
        system.add_note(str(glpi.add_ticket()), TEXT)
    system.close()
    assert "not-the-token-4711" not in str(caught.value)
    assert glpi.followups == []


def test_ping_opens_a_session_and_names_login_and_profile(glpi: FakeGlpi,
                                                         backend: Glpi) -> None:
    text = backend.ping()
    assert text == "GLPI API: session opened as adminkit, profile Technician, entity Root entity"
    assert len(glpi.seen("GET", "/initSession")) == 1
    assert len(glpi.seen("GET", "/getFullSession")) == 1
    assert glpi.user_token not in text


def test_ping_with_a_wrong_token_is_an_authentication_failure(
        glpi: FakeGlpi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLPI_TOKEN", "not-the-token-4711")
    system = Glpi(profile_for(glpi.url))
    with pytest.raises(AuthenticationFailed) as caught:
        system.ping()
    system.close()
    assert caught.value.exit_code == ExitCode.CONNECTION == 3
    assert caught.value.hint
    assert "not-the-token-4711" not in str(caught.value)
    assert glpi.seen("GET", "/getFullSession") == []


def test_a_profile_without_credentials_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"needs tickets\.token"):
        Glpi(profile_for("https://glpi.example", token=None))


@pytest.mark.parametrize("call", ["add_note", "find_note", "get", "set_status", "attach"])
def test_missing_ticket_is_ticket_not_found(glpi: FakeGlpi, backend: Glpi, call: str) -> None:
    args = {"add_note": ("999999", TEXT), "find_note": ("999999", "adminkit:R:0;"),
            "get": ("999999",), "set_status": ("999999", "solved"),
            "attach": ("999999", "a.txt", b"x")}[call]
    with pytest.raises(TicketNotFound):
        getattr(backend, call)(*args)
    assert glpi.documents == [] and glpi.followups == []


def test_a_ticket_without_rights_is_ticket_not_found(glpi: FakeGlpi, backend: Glpi) -> None:
    ticket = glpi.add_ticket()
    glpi.hidden.add(ticket)
    with pytest.raises(TicketNotFound, match="no right"):
        backend.find_note(str(ticket), "adminkit:R:0;")
    with pytest.raises(TicketNotFound):
        backend.add_note(str(ticket), TEXT)


def test_rate_limit_is_retry_later_with_retry_after(glpi: FakeGlpi, backend: Glpi) -> None:
    ticket = glpi.add_ticket()
    glpi.fail_next(429, retry_after=7)
    with pytest.raises(RetryLater) as caught:
        backend.add_note(str(ticket), TEXT)
    assert caught.value.retry_after == 7
    assert glpi.followups_of(ticket) == []


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retry_later(glpi: FakeGlpi, backend: Glpi, status: int) -> None:
    ticket = glpi.add_ticket()
    backend.get(str(ticket))  # a session is open
    glpi.fail_next(status, retry_after=30 if status == 503 else None)
    with pytest.raises(RetryLater) as caught:
        backend.add_note(str(ticket), TEXT)
    assert caught.value.retry_after == (30 if status == 503 else None)


def test_a_server_that_is_down_is_retry_later(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLPI_TOKEN", "t")
    with socket.socket() as sock:  # a port that nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    system = Glpi(profile_for(f"http://127.0.0.1:{port}"))
    with pytest.raises(RetryLater):
        system.add_note("1", TEXT)
    system.close()


def test_an_expired_session_is_renewed_once(glpi: FakeGlpi, backend: Glpi) -> None:
    ticket = glpi.add_ticket()
    backend.add_note(str(ticket), "first")
    glpi.expire_sessions()
    backend.add_note(str(ticket), "second")
    assert [f["content"] for f in glpi.followups_of(ticket)] == ["first", "second"]
    assert glpi.sessions_opened == 2


def test_a_session_refused_twice_is_an_authentication_failure(glpi: FakeGlpi,
                                                              backend: Glpi) -> None:
    ticket = glpi.add_ticket()
    backend.get(str(ticket))
    glpi.fail_next(401)  # the call: "session_token seems invalid"
    glpi.fail_next(401, skip=1)  # initSession goes through, the call is refused again
    with pytest.raises(AuthenticationFailed, match="fresh session"):
        backend.add_note(str(ticket), TEXT)
    assert glpi.followups == []
    assert glpi.sessions_opened == 2  # renewed once, not in a loop


def test_close_kills_the_session(glpi: FakeGlpi, backend: Glpi) -> None:
    backend.get(str(glpi.add_ticket()))
    backend.close()
    assert glpi.sessions_killed == 1 and glpi.sessions == set()


# -- through the outbox -------------------------------------------------------------------
@pytest.mark.parametrize("status", [429, 503])
def test_outbox_waits_for_retry_after_then_delivers_once(
        glpi: FakeGlpi, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, status: int) -> None:
    monkeypatch.setenv("GLPI_TOKEN", glpi.user_token)
    profile = profile_for(glpi.url)
    opened: list[tuple[str | None, str]] = []

    def opener(profile_name: str | None, kind: str) -> TicketSystem:
        opened.append((profile_name, kind))
        return Glpi(profile)

    journal = Journal(tmp_path / "journal.db")
    ticket = glpi.add_ticket()
    queue_note(journal, system="glpi", ticket=str(ticket), run_id=RUN, body=TEXT)
    glpi.fail_next(status, retry_after=120)

    before = datetime.now(UTC)
    report = flush(journal, opener, deadline=None)
    assert (report.delivered, report.retrying, report.failed) == (0, 1, 0)
    [row] = journal.outbox()
    assert row["status"] == "pending"
    assert datetime.fromisoformat(row["next_attempt"]) >= before + timedelta(seconds=120)
    assert glpi.followups_of(ticket) == []

    make_due(journal)
    report = flush(journal, opener, deadline=None)
    assert report.delivered == 1
    [followup] = glpi.followups_of(ticket)
    assert (followup["content"], followup["is_private"]) == (TEXT, 1)
    [row] = journal.outbox()
    assert (row["status"], row["remote_id"]) == ("delivered", str(followup["id"]))

    seen = len(glpi.requests)
    report = flush(journal, opener, deadline=None)
    assert report.delivered == 0 and len(glpi.requests) == seen
    assert len(glpi.followups_of(ticket)) == 1
    assert opened == [("acme", "glpi"), ("acme", "glpi")]
    journal.close()


def test_outbox_finds_an_earlier_copy_and_posts_nothing(glpi: FakeGlpi,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    """A crash between posting and recording: the marker finds the note already there."""
    monkeypatch.setenv("GLPI_TOKEN", glpi.user_token)
    journal = Journal(tmp_path / "journal.db")
    ticket = glpi.add_ticket()
    earlier = glpi.add_followup(ticket, TEXT)
    queue_note(journal, system="glpi", ticket=str(ticket), run_id=RUN, body=TEXT)
    # the earlier flush leased the note, posted it and died before recording it
    crash_while_leased(journal)
    report = flush(journal, lambda _p, _k: Glpi(profile_for(glpi.url)), deadline=None)
    assert report.delivered == 1
    assert [f["id"] for f in glpi.followups_of(ticket)] == [earlier]
    assert journal.outbox()[0]["remote_id"] == str(earlier)
    assert glpi.seen("POST", "/ITILFollowup") == []
    journal.close()


def test_outbox_marks_a_missing_ticket_failed(glpi: FakeGlpi, monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    monkeypatch.setenv("GLPI_TOKEN", glpi.user_token)
    journal = Journal(tmp_path / "journal.db")
    queue_note(journal, system="glpi", ticket="424242", run_id=RUN, body=TEXT)
    report = flush(journal, lambda _p, _k: Glpi(profile_for(glpi.url)), deadline=None)
    assert report.failed == 1
    assert journal.outbox()[0]["status"] == "failed"
    journal.close()


def test_an_app_token_value_in_the_profile_is_refused_unechoed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLPI_TOKEN", "t")
    with pytest.raises(UsageError, match="must be a secret reference") as caught:
        Glpi(profile_for("https://glpi.example", options={"app_token": "f7g3csp8mgatg5ebc5"}))
    assert "f7g3csp8mgatg5ebc5" not in str(caught.value)
