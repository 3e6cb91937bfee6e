"""The Jira Service Management backend against a protocol-level fake over real HTTP.

The real httpx client talks to tests/fakes/jira.py, which follows Atlassian's documented
requests and responses; nothing in httpx is mocked.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adminkit.core.config import Profile
from adminkit.core.errors import (
    ActionFailed,
    AuthenticationFailed,
    ConnectionFailed,
    ExitCode,
    UsageError,
)
from adminkit.tickets.base import RetryLater, TicketNotFound, TicketSystem
from adminkit.tickets.jira import Jira
from adminkit.tickets.outbox import flush
from tests.fakes.httpserver import Reply
from tests.fakes.jira import FakeJira
from tests.fakes.outbox_rig import (
    crash_while_leased,
    make_due,
    marker,
    next_attempt,
    open_journal,
    queue_note,
)

NOTE = "adminkit:R1:0; account.disable jdoe by tester (profile acme, run R1)"


@pytest.fixture
def fake() -> Iterator[FakeJira]:
    with FakeJira(pat="jira-pat-7") as fake:
        fake.issue("HD-12", "Please block jdoe", status="Waiting for support",
                   reporter="anna@example.com")
        yield fake


def profile(fake: FakeJira, monkeypatch: pytest.MonkeyPatch, **tickets: object) -> Profile:
    monkeypatch.setenv("JIRA_API_TOKEN", fake.api_token)
    monkeypatch.setenv("JIRA_PAT", fake.pat or "")
    settings = {"kind": "jira", "url": fake.url, "user": fake.user,
                "password": "env:JIRA_API_TOKEN", **tickets}
    return Profile.model_validate({"name": "acme", "tickets": settings})


@pytest.fixture
def jira(fake: FakeJira, monkeypatch: pytest.MonkeyPatch) -> Iterator[Jira]:
    backend = Jira(profile(fake, monkeypatch))
    yield backend
    backend.close()
    assert fake.unknown == [], "the backend called something the Jira API does not have"


def test_it_is_a_ticket_system(jira: Jira) -> None:
    system: TicketSystem = jira
    assert system.kind == "jira"


def test_add_note_is_an_internal_comment(jira: Jira, fake: FakeJira) -> None:
    note_id = jira.add_note("HD-12", NOTE + "\nchanged: disable jdoe")
    [comment] = fake.issues["HD-12"].comments
    assert comment.body == NOTE + "\nchanged: disable jdoe"
    assert comment.public is False
    assert note_id == comment.id
    [post] = [r for r in fake.server.requests if r.method == "POST"]
    assert post.path == "/rest/servicedeskapi/request/HD-12/comment"
    assert post.json() == {"body": NOTE + "\nchanged: disable jdoe", "public": False}


def test_add_note_public_when_asked(jira: Jira, fake: FakeJira) -> None:
    jira.add_note("HD-12", "Your account is unlocked.", internal=False)
    [comment] = fake.issues["HD-12"].comments
    assert (comment.body, comment.public) == ("Your account is unlocked.", True)


def test_find_note_pages_through_the_comments(jira: Jira, fake: FakeJira) -> None:
    fake.max_page = 2
    for n in range(4):
        fake.comment("HD-12", f"customer says {n}", public=True)
    wanted = fake.comment("HD-12", NOTE)
    assert jira.find_note("HD-12", marker("R1", 0)) == wanted.id
    assert jira.find_note("HD-12", marker("R1", 1)) is None
    starts = [r.arg("start") for r in fake.server.requests if r.path.endswith("/comment")]
    assert starts == ["0", "2", "4", "0", "2", "4"]


def test_get_maps_the_issue(jira: Jira) -> None:
    ticket = jira.get("HD-12")
    assert str(ticket.ref) == "jira:HD-12"
    assert ticket.subject == "Please block jdoe"
    assert ticket.status == "Waiting for support"
    assert ticket.queue == "HD"
    assert ticket.requester == "anna@example.com"
    assert ticket.fields["issuetype"] == "Service Request"


def test_set_status_takes_the_transition_to_it(jira: Jira, fake: FakeJira) -> None:
    jira.set_status("HD-12", "resolved")
    assert fake.issues["HD-12"].status == "Resolved"
    [post] = [r for r in fake.server.requests if r.method == "POST"]
    assert post.json() == {"transition": {"id": "31"}}


def test_set_status_to_the_current_status_does_nothing(jira: Jira, fake: FakeJira) -> None:
    jira.set_status("HD-12", "Waiting for support")
    assert fake.issues["HD-12"].status == "Waiting for support"
    assert not [r for r in fake.server.requests if r.method == "POST"]


def test_set_status_nowhere_reachable_says_where_it_can_go(jira: Jira) -> None:
    with pytest.raises(ActionFailed, match="no workflow transition") as err:
        jira.set_status("HD-12", "Closed")
    assert err.value.hint is not None and "Resolved" in err.value.hint


def test_attach_uploads_multipart_with_the_xsrf_opt_out(jira: Jira, fake: FakeJira) -> None:
    jira.attach("HD-12", "report.csv", b"login,status\njdoe,disabled\n")
    [att] = fake.issues["HD-12"].attachments
    assert (att.filename, att.data, att.mime_type) == (
        "report.csv", b"login,status\njdoe,disabled\n", "text/csv")


def test_bearer_token_for_data_center(fake: FakeJira, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = Jira(profile(fake, monkeypatch, user=None, password=None, token="env:JIRA_PAT"))
    try:
        backend.add_note("HD-12", NOTE)
    finally:
        backend.close()
    assert fake.server.requests[-1].header("authorization") == "Bearer jira-pat-7"


def test_refused_credentials_are_an_authentication_failure(
        fake: FakeJira, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WRONG", "Wrong-Token-Canary-1")
    wrong = Jira(profile(fake, monkeypatch, password="env:WRONG"))
    try:
        with pytest.raises(AuthenticationFailed) as err:
            wrong.add_note("HD-12", NOTE)
    finally:
        wrong.close()
    assert "401" in str(err.value)
    assert "Wrong-Token-Canary-1" not in str(err.value)
    assert fake.issues["HD-12"].comments == []


def test_no_credentials_is_a_usage_error(fake: FakeJira, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UsageError, match=r"tickets\.user and tickets\.password, or tickets\.token"):
        Jira(profile(fake, monkeypatch, password=None))


def test_a_malformed_key_never_reaches_a_url(jira: Jira) -> None:
    with pytest.raises(UsageError, match="not a Jira issue key"):
        jira.add_note("../../rest/api/2/user", NOTE)


@pytest.mark.parametrize("call", ["add_note", "find_note", "get", "set_status", "attach"])
def test_a_missing_issue_is_ticket_not_found(jira: Jira, call: str) -> None:
    args = {"add_note": ("HD-404", NOTE), "find_note": ("HD-404", "m"), "get": ("HD-404",),
            "set_status": ("HD-404", "Resolved"), "attach": ("HD-404", "a.txt", b"x")}[call]
    with pytest.raises(TicketNotFound):
        getattr(jira, call)(*args)


def test_an_issue_that_is_not_a_service_request_is_ticket_not_found(
        jira: Jira, fake: FakeJira) -> None:
    fake.issue("DEV-3", "A software bug", is_request=False)
    with pytest.raises(TicketNotFound):
        jira.add_note("DEV-3", NOTE)


def test_rate_limit_is_retry_later_with_retry_after(jira: Jira, fake: FakeJira) -> None:
    fake.fail(429, retry_after=17)
    with pytest.raises(RetryLater) as err:
        jira.add_note("HD-12", NOTE)
    assert err.value.retry_after == 17
    assert fake.issues["HD-12"].comments == []


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_trouble_is_retry_later(jira: Jira, fake: FakeJira, status: int) -> None:
    fake.fail(status, retry_after=5 if status == 503 else None)
    with pytest.raises(RetryLater) as err:
        jira.find_note("HD-12", "m")
    assert err.value.retry_after == (5 if status == 503 else None)


def test_a_page_that_is_not_json_is_a_connection_failure(jira: Jira, fake: FakeJira) -> None:
    login_page = Reply(200, b"<html><body>Log in to continue</body></html>",
                       {"Content-Type": "text/html"})
    fake.server.fail(200, reply=login_page)
    with pytest.raises(ConnectionFailed, match="not JSON"):
        jira.find_note("HD-12", "m")


def test_an_unreachable_server_is_retry_later(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before the backend connects
    monkeypatch.setenv("JIRA_API_TOKEN", "t")
    backend = Jira(Profile.model_validate({"name": "acme", "tickets": {
        "kind": "jira", "url": f"http://127.0.0.1:{port}", "user": "u",
        "password": "env:JIRA_API_TOKEN"}}))
    try:
        with pytest.raises(RetryLater, match="ConnectError"):
            backend.add_note("HD-12", NOTE)
    finally:
        backend.close()


# -- ping: who is signed in -------------------------------------------------------------

def test_ping_names_the_cloud_account(jira: Jira, fake: FakeJira) -> None:
    text = jira.ping()
    assert text == "Jira REST API: authenticated as Adminkit Bot (bot@example.com)"
    assert fake.server.requests[-1].path == "/rest/api/2/myself"
    assert fake.api_token not in text


def test_ping_with_a_data_center_token(fake: FakeJira, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = Jira(profile(fake, monkeypatch, user=None, password=None, token="env:JIRA_PAT"))
    try:
        assert backend.ping() == "Jira REST API: authenticated as Adminkit Bot (bot@example.com)"
    finally:
        backend.close()


def test_ping_with_refused_credentials_is_an_authentication_failure(
        fake: FakeJira, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WRONG", "Wrong-Token-Canary-1")
    wrong = Jira(profile(fake, monkeypatch, password="env:WRONG"))
    try:
        with pytest.raises(AuthenticationFailed) as err:
            wrong.ping()
    finally:
        wrong.close()
    assert err.value.exit_code == ExitCode.CONNECTION == 3
    assert "401" in err.value.message and err.value.hint
    assert "Wrong-Token-Canary-1" not in str(err.value)


# -- end to end through the outbox ------------------------------------------------------

@pytest.mark.parametrize(("status", "method"), [(429, None), (503, "POST")])
def test_outbox_waits_out_the_rate_limit_then_delivers_once(
        fake: FakeJira, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        status: int, method: str | None) -> None:
    journal = open_journal(tmp_path)
    body = queue_note(journal, system="jira", ticket="HD-12")
    prof = profile(fake, monkeypatch)
    opened: list[tuple[str | None, str]] = []

    def opener(name: str | None, kind: str) -> TicketSystem:
        opened.append((name, kind))
        return Jira(prof)

    fake.fail(status, retry_after=120, method=method)
    before = datetime.now(UTC)
    report = flush(journal, opener, deadline=None)
    assert (report.delivered, report.retrying, report.failed) == (0, 1, 0)
    [row] = journal.outbox()
    assert row["status"] == "pending" and str(status) in row["last_error"]
    assert next_attempt(journal) >= before + timedelta(seconds=120)
    assert fake.issues["HD-12"].comments == []
    assert flush(journal, opener).delivered == 0  # not due yet: nothing is sent
    assert opened == [("acme", "jira")]

    make_due(journal)
    assert flush(journal, opener).delivered == 1
    assert flush(journal, opener).delivered == 0
    [comment] = fake.issues["HD-12"].comments
    assert (comment.body, comment.public) == (body, False)
    [row] = journal.outbox()
    assert (row["status"], row["remote_id"]) == ("delivered", comment.id)
    assert fake.unknown == []


def test_outbox_finds_a_note_that_reached_jira_before_a_crash(
        fake: FakeJira, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    journal = open_journal(tmp_path)
    body = queue_note(journal, system="jira", ticket="HD-12")
    crash_while_leased(journal)
    earlier = fake.comment("HD-12", body)  # posted, but the process died before recording it
    prof = profile(fake, monkeypatch)
    assert flush(journal, lambda _p, _k: Jira(prof)).delivered == 1
    assert [c.id for c in fake.issues["HD-12"].comments] == [earlier.id]
    assert journal.outbox()[0]["remote_id"] == earlier.id


def test_outbox_gives_up_on_a_missing_issue(
        fake: FakeJira, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    journal = open_journal(tmp_path)
    queue_note(journal, system="jira", ticket="HD-404")
    prof = profile(fake, monkeypatch)
    assert flush(journal, lambda _p, _k: Jira(prof)).failed == 1
    assert journal.outbox()[0]["status"] == "failed"
