"""What only the Zammad backend does, against a protocol-level fake of its REST API v1.

The real httpx client talks to tests/fakes/zammad.py over HTTP; nothing is mocked. What
every backend must do (delivery through the outbox, retries, refused credentials,
missing tickets) is in test_ticket_contract.py.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from adminkit.core.errors import ActionFailed, ConnectionFailed, UsageError
from adminkit.tickets.base import RetryLater, TicketNotFound
from adminkit.tickets.zammad import Zammad
from tests.fakes.outbox_rig import NOTE, RUN, marker
from tests.fakes.ticketfake import profile_for
from tests.fakes.zammad import FakeZammad


@pytest.fixture
def fake() -> Iterator[FakeZammad]:
    with FakeZammad(bearer="zammad-oauth-3") as fake:
        fake.customer("samuel@example.com", "Samuel", "Lee")
        fake.ticket("Please block jdoe", state="open", group="2nd Level",
                    customer="samuel@example.com")
        yield fake


@pytest.fixture
def tid(fake: FakeZammad) -> str:
    return str(next(iter(fake.tickets)))


@pytest.fixture
def zammad(fake: FakeZammad, monkeypatch: pytest.MonkeyPatch) -> Iterator[Zammad]:
    backend = Zammad(profile_for(fake, monkeypatch))
    yield backend
    backend.close()
    assert fake.unknown == [], "the backend called something the Zammad API does not have"


def test_add_note_is_an_internal_note_article(zammad: Zammad, fake: FakeZammad,
                                              tid: str) -> None:
    note_id = zammad.add_note(tid, NOTE)
    [article] = fake.articles_of(int(tid))
    assert (article.type, article.content_type) == ("note", "text/plain")
    assert note_id == str(article.id)
    [post] = [r for r in fake.requests if r.method == "POST"]
    assert post.json() == {"ticket_id": int(tid), "body": NOTE,
                           "content_type": "text/plain", "type": "note", "internal": True}
    assert post.header("authorization") == f"Token token={fake.token}"


def test_add_note_public_is_an_email_to_the_customer(zammad: Zammad, fake: FakeZammad,
                                                     tid: str) -> None:
    zammad.add_note(tid, "Your colleague's account is blocked.", internal=False)
    [article] = fake.articles_of(int(tid))
    assert (article.type, article.internal, article.to) == ("email", False,
                                                            "samuel@example.com")


def test_add_note_public_as_a_portal_note(fake: FakeZammad, monkeypatch: pytest.MonkeyPatch,
                                          tid: str) -> None:
    backend = Zammad(profile_for(fake, monkeypatch, options={"public_type": "note"}))
    try:
        backend.add_note(tid, "Done.", internal=False)
    finally:
        backend.close()
    [article] = fake.articles_of(int(tid))
    assert (article.type, article.internal, article.to) == ("note", False, "")


def test_find_note_by_marker(zammad: Zammad, fake: FakeZammad, tid: str) -> None:
    fake.article(int(tid), "Hello, please block jdoe", internal=False, type="email")
    wanted = fake.article(int(tid), NOTE)
    other = fake.ticket("Another one")
    fake.article(other.id, f"{marker(RUN, 1)} elsewhere")
    assert zammad.find_note(tid, marker(RUN, 0)) == str(wanted.id)
    assert zammad.find_note(tid, marker(RUN, 1)) is None


def test_get_maps_the_ticket(zammad: Zammad, fake: FakeZammad, tid: str) -> None:
    ticket = zammad.get(tid)
    assert str(ticket.ref) == f"zammad:{tid}"
    assert ticket.subject == "Please block jdoe"
    assert ticket.status == "open"
    assert ticket.queue == "2nd Level"
    assert ticket.requester == "samuel@example.com"
    assert ticket.fields["number"] == fake.tickets[int(tid)].number


def test_set_status(zammad: Zammad, fake: FakeZammad, tid: str) -> None:
    zammad.set_status(tid, "closed")
    assert fake.tickets[int(tid)].state == "closed"
    [put] = [r for r in fake.requests if r.method == "PUT"]
    assert put.json() == {"state": "closed"}


def test_set_status_to_an_unknown_state_says_so(zammad: Zammad, fake: FakeZammad,
                                                tid: str) -> None:
    with pytest.raises(ActionFailed, match="No lookup value found for 'state'"):
        zammad.set_status(tid, "Resolved")
    assert fake.tickets[int(tid)].state == "open"


def test_attach_sends_the_file_in_an_internal_note(zammad: Zammad, fake: FakeZammad,
                                                   tid: str) -> None:
    zammad.attach(tid, "report.csv", b"login;status\njdoe;disabled\n")
    [article] = fake.articles_of(int(tid))
    assert (article.type, article.internal) == ("note", True)
    assert article.attachments == [{"filename": "report.csv", "mime-type": "text/csv",
                                    "data": b"login;status\njdoe;disabled\n"}]
    [post] = [r for r in fake.requests if r.method == "POST"]
    sent = post.json()["attachments"][0]["data"]
    assert base64.b64decode(sent) == b"login;status\njdoe;disabled\n"


@pytest.mark.parametrize("how", ["bearer", "basic"])
def test_other_credentials(fake: FakeZammad, monkeypatch: pytest.MonkeyPatch, tid: str,
                           how: str) -> None:
    if how == "bearer":
        monkeypatch.setenv("ZAMMAD_OAUTH", "zammad-oauth-3")
        prof = profile_for(fake, monkeypatch, token="env:ZAMMAD_OAUTH",
                           options={"token_type": "bearer"})
    else:
        monkeypatch.setenv("ZAMMAD_PASSWORD", fake.password)
        prof = profile_for(fake, monkeypatch, token=None, user=fake.user,
                           password="env:ZAMMAD_PASSWORD")
    backend = Zammad(prof)
    try:
        backend.add_note(tid, NOTE)
    finally:
        backend.close()
    sent = fake.requests[-1].header("authorization") or ""
    assert sent.startswith("Bearer " if how == "bearer" else "Basic ")
    assert len(fake.articles_of(int(tid))) == 1


def test_ping_names_the_agent(zammad: Zammad, fake: FakeZammad) -> None:
    text = zammad.ping()
    assert text == "Zammad API: authenticated as Agent Smith (agent@example.com)"
    assert fake.requests[-1].path == "/api/v1/users/me"
    assert fake.token not in text


def test_ping_fails_for_a_customer_whose_notes_would_go_public(
        zammad: Zammad, fake: FakeZammad, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.ticket_agent = False  # only the Customer role: articles stored internal: false
    with pytest.raises(ConnectionFailed, match="only role is Customer") as err:
        zammad.ping()
    assert err.value.exit_code == 3 and "agent role" in (err.value.hint or "")
    accepting = Zammad(profile_for(fake, monkeypatch, allow_public_notes=True))
    try:
        assert "accepted: tickets.allow_public_notes" in accepting.ping()
    finally:
        accepting.close()


def test_bad_settings_are_usage_errors(fake: FakeZammad,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UsageError, match="Zammad needs"):
        Zammad(profile_for(fake, monkeypatch, token=None))
    with pytest.raises(UsageError, match="public_type"):
        Zammad(profile_for(fake, monkeypatch, options={"public_type": "sms!"}))


def test_a_malformed_id_never_reaches_a_url(zammad: Zammad) -> None:
    with pytest.raises(UsageError, match="not a Zammad ticket id"):
        zammad.add_note("31001/../../users", NOTE)


@pytest.mark.parametrize("forbidden", [False, True])
@pytest.mark.parametrize("call", ["add_note", "find_note", "get", "set_status", "attach"])
def test_a_missing_or_hidden_ticket_says_zammads_status(
        zammad: Zammad, fake: FakeZammad, tid: str, call: str, forbidden: bool) -> None:
    ticket = tid if forbidden else "999"
    if forbidden:
        fake.forbidden.add(int(tid))  # outside the agent's groups: 403 "Not authorized"
    args = {"add_note": (ticket, NOTE), "find_note": (ticket, "m"), "get": (ticket,),
            "set_status": (ticket, "closed"), "attach": (ticket, "a.txt", b"x")}[call]
    with pytest.raises(TicketNotFound, match=r"40[34]"):
        getattr(zammad, call)(*args)


def test_a_throttle_without_retry_after_is_retry_later(zammad: Zammad, fake: FakeZammad,
                                                        tid: str) -> None:
    fake.fail(429)  # Rack::Attack sends no Retry-After unless configured to
    with pytest.raises(RetryLater) as err:
        zammad.add_note(tid, NOTE)
    assert err.value.retry_after is None
    assert fake.articles_of(int(tid)) == []
