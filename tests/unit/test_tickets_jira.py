"""What only the Jira Service Management backend does, against a protocol-level fake.

The real httpx client talks to tests/fakes/jira.py, which follows Atlassian's documented
requests and responses; nothing in httpx is mocked. What every backend must do (delivery
through the outbox, retries, refused credentials, missing tickets) is in
test_ticket_contract.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adminkit.core.errors import ActionFailed, ConnectionFailed, UsageError
from adminkit.tickets.base import TicketNotFound
from adminkit.tickets.jira import Jira
from tests.fakes.httpserver import Reply
from tests.fakes.jira import FakeJira
from tests.fakes.outbox_rig import NOTE, RUN, marker
from tests.fakes.ticketfake import profile_for


@pytest.fixture
def fake() -> Iterator[FakeJira]:
    with FakeJira(pat="jira-pat-7") as fake:
        fake.issue("HD-12", "Please block jdoe", status="Waiting for support",
                   reporter="anna@example.com")
        yield fake


@pytest.fixture
def jira(fake: FakeJira, monkeypatch: pytest.MonkeyPatch) -> Iterator[Jira]:
    backend = Jira(profile_for(fake, monkeypatch))
    yield backend
    backend.close()
    assert fake.unknown == [], "the backend called something the Jira API does not have"


def test_add_note_is_an_internal_servicedesk_comment(jira: Jira, fake: FakeJira) -> None:
    note_id = jira.add_note("HD-12", NOTE)
    [comment] = fake.issues["HD-12"].comments
    assert note_id == comment.id
    [post] = [r for r in fake.requests if r.method == "POST"]
    assert post.path == "/rest/servicedeskapi/request/HD-12/comment"
    # one {noformat} block: nothing adminkit quotes is wiki markup (test_rev12b_note_markup)
    assert post.json() == {"body": "{noformat}\n" + NOTE + "\n{noformat}", "public": False}


def test_find_note_pages_through_the_comments(jira: Jira, fake: FakeJira) -> None:
    fake.max_page = 2
    for n in range(4):
        fake.comment("HD-12", f"customer says {n}", public=True)
    wanted = fake.comment("HD-12", NOTE)
    assert jira.find_note("HD-12", marker(RUN, 0)) == wanted.id
    assert jira.find_note("HD-12", marker(RUN, 1)) is None
    starts = [r.arg("start") for r in fake.requests if r.path.endswith("/comment")]
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
    [post] = [r for r in fake.requests if r.method == "POST"]
    assert post.json() == {"transition": {"id": "31"}}


def test_set_status_to_the_current_status_does_nothing(jira: Jira, fake: FakeJira) -> None:
    jira.set_status("HD-12", "Waiting for support")
    assert fake.issues["HD-12"].status == "Waiting for support"
    assert not [r for r in fake.requests if r.method == "POST"]


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
    monkeypatch.setenv("JIRA_PAT", "jira-pat-7")
    backend = Jira(profile_for(fake, monkeypatch, user=None, password=None, token="env:JIRA_PAT"))
    try:
        backend.add_note("HD-12", NOTE)
    finally:
        backend.close()
    assert fake.requests[-1].header("authorization") == "Bearer jira-pat-7"


def test_no_credentials_is_a_usage_error(fake: FakeJira, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UsageError, match=r"tickets\.user and tickets\.password, or tickets\.token"):
        Jira(profile_for(fake, monkeypatch, password=None))


def test_a_malformed_key_never_reaches_a_url(jira: Jira) -> None:
    with pytest.raises(UsageError, match="not a Jira issue key"):
        jira.add_note("../../rest/api/2/user", NOTE)


def test_an_issue_that_is_not_a_service_request_is_ticket_not_found(
        jira: Jira, fake: FakeJira) -> None:
    fake.issue("DEV-3", "A software bug", is_request=False)
    with pytest.raises(TicketNotFound):
        jira.add_note("DEV-3", NOTE)


def test_a_page_that_is_not_json_is_a_connection_failure(jira: Jira, fake: FakeJira) -> None:
    login_page = Reply(200, b"<html><body>Log in to continue</body></html>",
                       {"Content-Type": "text/html"})
    fake.fail(200, reply=login_page)
    with pytest.raises(ConnectionFailed, match="not JSON"):
        jira.find_note("HD-12", "m")


# -- ping: who is signed in -------------------------------------------------------------

def test_ping_names_the_cloud_account(jira: Jira, fake: FakeJira) -> None:
    text = jira.ping()
    assert text == "Jira REST API: authenticated as Adminkit Bot (bot@example.com)"
    assert fake.requests[-1].path == "/rest/api/2/myself"
    assert fake.api_token not in text


def test_ping_with_a_data_center_token(fake: FakeJira, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIRA_PAT", "jira-pat-7")
    backend = Jira(profile_for(fake, monkeypatch, user=None, password=None, token="env:JIRA_PAT"))
    try:
        assert backend.ping() == "Jira REST API: authenticated as Adminkit Bot (bot@example.com)"
    finally:
        backend.close()
