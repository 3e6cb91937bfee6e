"""What only the GLPI backend does (sessions, follow-ups, documents), with the real httpx
client, against a local fake of GLPI's REST API.

What every backend must do (delivery through the outbox, retries, refused credentials,
missing tickets) is in test_ticket_contract.py.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import Any

import pytest

from adminkit.core.errors import AuthenticationFailed, ConnectionFailed, UsageError
from adminkit.journal.store import Journal
from adminkit.tickets.base import TicketNotFound
from adminkit.tickets.glpi import Glpi, api_url
from adminkit.tickets.outbox import FlushReport, flush
from tests.fakes.glpi import FakeGlpi
from tests.fakes.httpserver import Reply
from tests.fakes.outbox_rig import NOTE, RUN, make_due, marker, queue_note
from tests.fakes.ticketfake import profile_for


@pytest.fixture
def glpi() -> Iterator[FakeGlpi]:
    with FakeGlpi() as fake:
        yield fake


@pytest.fixture
def backend(glpi: FakeGlpi, monkeypatch: pytest.MonkeyPatch) -> Iterator[Glpi]:
    system = Glpi(profile_for(glpi, monkeypatch))
    yield system
    system.close()


@pytest.mark.parametrize(("given", "expected"), [
    ("https://glpi.example", "https://glpi.example/apirest.php"),
    ("https://glpi.example/", "https://glpi.example/apirest.php"),
    ("https://h.example/glpi/apirest.php", "https://h.example/glpi/apirest.php")])
def test_the_url_may_name_the_server_or_the_api(given: str, expected: str) -> None:
    assert api_url(given) == expected


def test_add_note_posts_a_private_followup_with_exactly_the_text(glpi: FakeGlpi,
                                                                backend: Glpi) -> None:
    ticket = glpi.add_ticket()
    note_id = backend.add_note(str(ticket), NOTE)
    [followup] = glpi.followups_of(ticket)
    assert note_id == str(followup["id"])
    [post] = glpi.seen("POST", "/ITILFollowup")
    # one escaped <pre> block: nothing adminkit quotes is HTML (test_rev12b_note_markup)
    assert post.json() == {"input": {"itemtype": "Ticket", "items_id": ticket,
                                     "content": f"<pre>{html.escape(NOTE, quote=False)}</pre>",
                                     "is_private": 1}}
    # the credentials go to initSession only; every other call carries the session token
    [init] = glpi.seen("GET", "/initSession")
    assert init.headers["authorization"] == f"user_token {glpi.user_token}"
    others = [r for r in glpi.requests if r not in glpi.seen("GET", "/initSession")]
    assert all("authorization" not in r.headers and r.headers["session-token"] for r in others)
    assert all(r.headers.get("content-type") for r in glpi.requests)  # GLPI asks for one


def test_find_note_by_marker_reads_every_page(glpi: FakeGlpi, backend: Glpi) -> None:
    ticket = glpi.add_ticket()
    for n in range(130):
        glpi.add_followup(ticket, f"<p>adminkit:R-OTHER:{n}; something else</p>")
    wanted = glpi.add_followup(ticket, f"<p>{NOTE}</p>")  # served HTML-escaped, like GLPI 9
    assert backend.find_note(str(ticket), marker(RUN, 0)) == str(wanted)
    assert backend.find_note(str(ticket), marker(RUN, 1)) is None
    ranges = [r.arg("range") for r in glpi.seen("GET", f"/Ticket/{ticket}/ITILFollowup")]
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
    system = Glpi(profile_for(glpi, monkeypatch, token=None, user=glpi.login[0],
                              password="env:GLPI_PASSWORD"))
    try:
        ticket = glpi.add_ticket()
        system.add_note(str(ticket), NOTE)
    finally:
        system.close()
    assert glpi.notes(str(ticket))[0].text == NOTE


def test_app_token_is_sent_on_every_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLPI_APP", "the-app-token")
    with FakeGlpi(app_token="the-app-token") as glpi:
        ticket = glpi.add_ticket()
        system = Glpi(profile_for(glpi, monkeypatch, options={"app_token": "env:GLPI_APP"}))
        system.add_note(str(ticket), NOTE)
        system.close()
        assert {r.headers.get("app-token") for r in glpi.requests} == {"the-app-token"}
        # without it, GLPI refuses the session: a configuration problem, not a retry
        bare = Glpi(profile_for(glpi, monkeypatch))
        with pytest.raises(AuthenticationFailed):
            bare.get(str(ticket))
        bare.close()


def test_ping_opens_a_session_and_names_login_and_profile(glpi: FakeGlpi,
                                                         backend: Glpi) -> None:
    text = backend.ping()
    assert text == "GLPI API: session opened as adminkit, profile Technician, entity Root entity"
    assert len(glpi.seen("GET", "/initSession")) == 1
    assert len(glpi.seen("GET", "/getFullSession")) == 1
    assert glpi.user_token not in text


def test_ping_with_a_refused_token_reads_no_session(glpi: FakeGlpi, backend: Glpi) -> None:
    glpi.reject_credentials()
    with pytest.raises(AuthenticationFailed, match="ERROR_GLPI_LOGIN_USER_TOKEN"):
        backend.ping()
    assert glpi.seen("GET", "/getFullSession") == []


def test_a_profile_without_credentials_is_a_usage_error(glpi: FakeGlpi,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UsageError, match=r"needs tickets\.token"):
        Glpi(profile_for(glpi, monkeypatch, token=None))


@pytest.mark.parametrize("call", ["add_note", "attach"])
def test_a_missing_ticket_leaves_no_followup_or_document(glpi: FakeGlpi, backend: Glpi,
                                                         call: str) -> None:
    args = {"add_note": ("999999", NOTE), "attach": ("999999", "a.txt", b"x")}[call]
    with pytest.raises(TicketNotFound):
        getattr(backend, call)(*args)
    assert glpi.documents == [] and glpi.followups == []


def test_a_ticket_without_rights_is_ticket_not_found(glpi: FakeGlpi, backend: Glpi) -> None:
    ticket = glpi.add_ticket()
    glpi.hidden.add(ticket)
    with pytest.raises(TicketNotFound, match="no right"):
        backend.find_note(str(ticket), "adminkit:R:0;")
    with pytest.raises(TicketNotFound):
        backend.add_note(str(ticket), NOTE)


def test_an_expired_session_is_renewed_once(glpi: FakeGlpi, backend: Glpi) -> None:
    ticket = glpi.add_ticket()
    backend.add_note(str(ticket), "first")
    glpi.expire_sessions()
    backend.add_note(str(ticket), "second")
    assert [n.text for n in glpi.notes(str(ticket))] == ["first", "second"]
    assert glpi.sessions_opened == 2


def test_a_session_refused_twice_is_an_authentication_failure(glpi: FakeGlpi,
                                                              backend: Glpi) -> None:
    ticket = glpi.add_ticket()
    backend.get(str(ticket))
    # the call: "session_token seems invalid"; initSession goes through; refused again
    glpi.fail(401, times=2, method="POST", path="/apirest.php/ITILFollowup")
    with pytest.raises(AuthenticationFailed, match="fresh session"):
        backend.add_note(str(ticket), NOTE)
    assert glpi.followups == []
    assert glpi.sessions_opened == 2  # renewed once, not in a loop


def test_close_kills_the_session(glpi: FakeGlpi, backend: Glpi) -> None:
    backend.get(str(glpi.add_ticket()))
    backend.close()
    assert glpi.sessions_killed == 1 and glpi.sessions == set()


def test_an_app_token_value_in_the_profile_is_refused_unechoed(
        glpi: FakeGlpi, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UsageError, match="must be a secret reference") as caught:
        Glpi(profile_for(glpi, monkeypatch, options={"app_token": "f7g3csp8mgatg5ebc5"}))
    assert "f7g3csp8mgatg5ebc5" not in str(caught.value)


def test_a_followup_to_a_closed_ticket_fails_for_good_at_once(glpi: FakeGlpi, backend: Glpi,
                                                              env: Any) -> None:
    ticket = glpi.add_ticket(status=6)  # closed: GLPI answers 400 ERROR_GLPI_ADD
    journal = Journal(env.journal)
    queue_note(journal, system="glpi", ticket=str(ticket))
    assert flush(journal, lambda _p, _k: backend, close=False) == FlushReport(failed=1)
    [row] = journal.outbox()
    assert row["status"] == "failed" and row["attempts"] == 1
    assert "ERROR_GLPI_ADD" in row["last_error"] and "the ticket is closed" in row["last_error"]
    make_due(journal)
    assert flush(journal, lambda _p, _k: backend, close=False) == FlushReport()  # not retried
    assert sum(1 for r in glpi.requests if r.method == "POST"
               and r.path.startswith("/apirest.php/ITILFollowup")) == 1
    assert glpi.followups_of(ticket) == []
    journal.close()


def test_a_php_notice_before_the_json_does_not_fail_the_answer(glpi: FakeGlpi,
                                                               backend: Glpi) -> None:
    glpi.php_notices = True  # display_errors on: "<br />\n<b>Notice</b>: ..." first
    ticket = glpi.add_ticket()
    note_id = backend.add_note(str(ticket), NOTE)
    [followup] = glpi.followups_of(ticket)
    assert note_id == str(followup["id"])
    assert backend.find_note(str(ticket), marker(RUN, 0)) == note_id
    assert backend.get(str(ticket)).status == "new"
    assert "session opened as adminkit" in backend.ping()


def test_an_answer_that_is_not_json_is_an_error_naming_its_first_line(glpi: FakeGlpi,
                                                                      backend: Glpi) -> None:
    ticket = glpi.add_ticket()
    glpi.fail(200, method="GET", path=f"/apirest.php/Ticket/{ticket}",
              reply=Reply(200, b"<html>\n<title>Single sign-on</title>", {}))
    with pytest.raises(ConnectionFailed, match=r"not JSON \(HTTP 200, no type\): <html>"):
        backend.get(str(ticket))
