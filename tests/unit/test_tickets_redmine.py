"""What only the Redmine backend does (journals, the private-notes permission, uploads),
with the real httpx client, against a local fake of Redmine's REST API.

What every backend must do (delivery through the outbox, retries, refused credentials,
missing tickets) is in test_ticket_contract.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adminkit.core.errors import AuthenticationFailed, ConnectionFailed, UsageError
from adminkit.tickets.base import NotePublished, Rejected, RetryLater, TicketNotFound
from adminkit.tickets.redmine import Redmine
from tests.fakes.httpserver import Reply
from tests.fakes.outbox_rig import NOTE, RUN, marker
from tests.fakes.redmine import FakeRedmine
from tests.fakes.ticketfake import profile_for


@pytest.fixture
def redmine() -> Iterator[FakeRedmine]:
    with FakeRedmine() as fake:
        yield fake


@pytest.fixture
def backend(redmine: FakeRedmine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Redmine]:
    system = Redmine(profile_for(redmine, monkeypatch))
    yield system
    system.close()


def test_add_note_posts_a_private_note_with_exactly_the_text(redmine: FakeRedmine,
                                                            backend: Redmine) -> None:
    issue = redmine.add_issue()
    note_id = backend.add_note(str(issue), NOTE)
    [journal] = redmine.notes_of(issue)
    assert note_id == str(journal["id"])  # read back: Redmine answers the PUT with 204
    [put] = redmine.seen("PUT", f"/issues/{issue}.json")
    # one <pre> block: nothing adminkit quotes is Textile (test_rev12b_note_markup)
    assert put.json() == {"issue": {"notes": f"<pre>\n{NOTE}\n</pre>", "private_notes": True}}
    assert put.headers["content-type"] == "application/json"
    assert all(r.headers["x-redmine-api-key"] == redmine.api_key for r in redmine.requests)


def test_add_note_returns_the_newest_journal_with_that_text(redmine: FakeRedmine,
                                                            backend: Redmine) -> None:
    issue = redmine.add_issue()
    redmine.add_journal(issue, "same words")
    note_id = backend.add_note(str(issue), "same words")
    assert note_id == str(redmine.notes_of(issue)[-1]["id"])


def test_a_note_redmine_made_public_is_note_published(redmine: FakeRedmine,
                                                       backend: Redmine) -> None:
    redmine.may_set_notes_private = False  # the role lacks "Set notes as private"
    issue = redmine.add_issue()
    with pytest.raises(NotePublished) as err:
        backend.add_note(str(issue), NOTE)
    [journal] = redmine.notes_of(issue)
    assert journal["private_notes"] is False  # Redmine answered 204 and published it
    assert err.value.remote_id == str(journal["id"])
    assert err.value.exit_code == 3 and "Set notes as private" in (err.value.hint or "")


def test_a_profile_may_accept_public_notes(redmine: FakeRedmine,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    redmine.may_set_notes_private = False
    system = Redmine(profile_for(redmine, monkeypatch, allow_public_notes=True))
    issue = redmine.add_issue()
    assert system.add_note(str(issue), NOTE) == str(redmine.notes_of(issue)[0]["id"])
    assert "accepted: tickets.allow_public_notes" in system.ping()
    system.close()


def test_a_failed_read_back_is_retried_and_the_redelivery_finds_the_note(
        redmine: FakeRedmine, backend: Redmine) -> None:
    issue = redmine.add_issue()
    redmine.fail(503, method="GET")  # the PUT goes through, the read-back does not
    with pytest.raises(RetryLater, match="posted, but reading it back failed"):
        backend.add_note(str(issue), NOTE)
    [journal] = redmine.notes_of(issue)
    assert backend.find_note(str(issue), marker(RUN, 0)) == str(journal["id"])


def test_a_put_answered_with_a_page_not_json_names_its_first_line(
        redmine: FakeRedmine, backend: Redmine) -> None:
    issue = redmine.add_issue()
    redmine.fail(200, method="PUT", reply=Reply(200, b"\n<html><title>Sign in</title>\n",
                                                 {"Content-Type": "text/html"}))
    with pytest.raises(ConnectionFailed, match=r"not JSON \(HTTP 200, text/html\): "
                                               r"<html><title>Sign in</title>"):
        backend.add_note(str(issue), NOTE)
    assert redmine.notes_of(issue) == []


def test_with_the_rest_api_off_every_call_says_so(redmine: FakeRedmine,
                                                  backend: Redmine) -> None:
    issue = str(redmine.add_issue())
    redmine.rest_enabled = False  # Redmine: 403, empty body, for every request
    for call in (lambda: backend.add_note(issue, NOTE), lambda: backend.get(issue),
                 backend.ping):
        with pytest.raises(AuthenticationFailed, match="REST API is switched off") as err:
            call()
        assert "Enable REST web service" in (err.value.hint or "")


def test_a_status_without_a_workflow_transition_is_refused_not_ignored(
        redmine: FakeRedmine, backend: Redmine) -> None:
    issue = redmine.add_issue()
    redmine.transitions = {(1, 2)}  # New -> In Progress only
    with pytest.raises(Rejected, match="no workflow transition") as err:
        backend.set_status(str(issue), "Closed")
    assert "Workflow" in (err.value.hint or "")
    assert backend.get(str(issue)).status == "New"
    backend.set_status(str(issue), "In Progress")
    assert backend.get(str(issue)).status == "In Progress"


def test_notes_lists_every_note_with_its_visibility(redmine: FakeRedmine,
                                                     backend: Redmine) -> None:
    issue = redmine.add_issue()
    redmine.add_journal(issue, "seen by the customer", private_notes=False)
    backend.set_status(str(issue), "In Progress")  # a journal without notes: left out
    backend.add_note(str(issue), NOTE)
    assert [(n["internal"], n["body"], n["author"]) for n in backend.notes(str(issue))] == [
        (False, "seen by the customer", "Adminkit Bot"), (True, NOTE, "Adminkit Bot")]


def test_find_note_by_marker(redmine: FakeRedmine, backend: Redmine) -> None:
    issue = redmine.add_issue()
    redmine.add_journal(issue, "adminkit:R-OTHER:0; something else")
    wanted = redmine.add_journal(issue, NOTE)
    assert backend.find_note(str(issue), marker(RUN, 0)) == str(wanted)
    assert backend.find_note(str(issue), marker(RUN, 1)) is None
    [get] = redmine.seen("GET", f"/issues/{issue}.json")[:1]
    assert get.query == {"include": ["journals"]}


def test_get(redmine: FakeRedmine, backend: Redmine) -> None:
    issue = redmine.add_issue("VPN broken", status_id=2)
    got = backend.get(str(issue))
    assert (got.subject, got.status, got.queue, got.requester) == (
        "VPN broken", "In Progress", "Helpdesk", "Jana Nováková")
    assert str(got.ref) == f"redmine:{issue}"
    assert got.fields["Location"] == "Floor 2" and got.fields["tracker"] == "Support"


@pytest.mark.parametrize(("status", "status_id"), [("Resolved", 3), ("closed", 5),
                                                   ("in progress", 2), ("4", 4)])
def test_set_status_by_name_or_id(redmine: FakeRedmine, backend: Redmine, status: str,
                                  status_id: int) -> None:
    issue = redmine.add_issue()
    backend.set_status(str(issue), status)
    assert redmine.issues[issue]["status_id"] == status_id
    [put] = redmine.seen("PUT", f"/issues/{issue}.json")
    assert put.json() == {"issue": {"status_id": status_id}}


def test_statuses_are_read_once(redmine: FakeRedmine, backend: Redmine) -> None:
    issue = redmine.add_issue()
    backend.set_status(str(issue), "Resolved")
    backend.set_status(str(issue), "Closed")
    assert len(redmine.seen("GET", "/issue_statuses.json")) == 1


def test_set_status_refuses_an_unknown_name(redmine: FakeRedmine, backend: Redmine) -> None:
    with pytest.raises(UsageError, match="no issue status 'done'") as caught:
        backend.set_status(str(redmine.add_issue()), "done")
    assert "resolved" in str(caught.value)


def test_validation_errors_are_reported(redmine: FakeRedmine, backend: Redmine) -> None:
    with pytest.raises(ConnectionFailed, match="Status is not included in the list"):
        backend.set_status(str(redmine.add_issue()), "99")


def test_attach_uploads_then_attaches_the_token(redmine: FakeRedmine, backend: Redmine) -> None:
    issue = redmine.add_issue()
    backend.attach(str(issue), "users.csv", b"login;mail\njdoe;j@example.org\n")
    [upload] = redmine.seen("POST", "/uploads.json")
    assert upload.query == {"filename": ["users.csv"]}
    assert upload.headers["content-type"] == "application/octet-stream"
    [attachment] = redmine.issues[issue]["attachments"]
    assert attachment["filename"] == "users.csv"
    assert attachment["data"] == b"login;mail\njdoe;j@example.org\n"
    assert attachment["content_type"] == "text/csv"


def test_login_with_user_and_password(redmine: FakeRedmine,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDMINE_PASSWORD", redmine.login[1])
    system = Redmine(profile_for(redmine, monkeypatch, token=None, user=redmine.login[0],
                                 password="env:REDMINE_PASSWORD"))
    issue = redmine.add_issue()
    system.add_note(str(issue), NOTE)
    system.close()
    assert redmine.notes_of(issue)[0]["notes"] == f"<pre>\n{NOTE}\n</pre>"


def test_ping_names_the_account_and_its_private_notes_right(redmine: FakeRedmine,
                                                            backend: Redmine) -> None:
    text = backend.ping()
    assert text == ("Redmine API: authenticated as Adminkit Bot (adminkit), may set notes "
                    "private in 1 project(s)")
    assert redmine.seen("GET", "/users/current.json")[0].query == {"include": ["memberships"]}
    assert [r.path for r in redmine.requests] == ["/users/current.json", "/roles/4.json"]
    assert redmine.api_key not in text  # Redmine shows the key to its owner: never repeat it


def test_ping_fails_where_notes_would_go_public(redmine: FakeRedmine, backend: Redmine) -> None:
    redmine.may_set_notes_private = False
    redmine.memberships.append({"id": 2, "project": {"id": 2, "name": "Servers"},
                                "roles": [{"id": 3, "name": "Manager"}]})
    with pytest.raises(ConnectionFailed) as err:
        backend.ping()
    text = err.value.message
    assert text.startswith("Redmine API: authenticated as Adminkit Bot (adminkit), but it ")
    assert "may not set notes private in Helpdesk:" in text
    assert "Servers" not in text  # the Manager role there has the permission
    assert "Set notes as private" in text and err.value.exit_code == 3


@pytest.mark.parametrize(("admin", "expected"), [
    (True, "an administrator"), (False, "warning: the account is a member of no project")])
def test_ping_for_an_administrator_or_a_non_member(redmine: FakeRedmine, backend: Redmine,
                                                   admin: bool, expected: str) -> None:
    redmine.admin = admin
    redmine.memberships.clear()
    assert expected in backend.ping()
    assert not redmine.seen("GET", "/roles/4.json")


def test_a_profile_without_credentials_is_a_usage_error(redmine: FakeRedmine,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UsageError, match=r"needs tickets\.token"):
        Redmine(profile_for(redmine, monkeypatch, token=None))


@pytest.mark.parametrize("call", ["add_note", "find_note", "get", "set_status", "attach"])
def test_an_issue_the_account_may_not_see_is_ticket_not_found(redmine: FakeRedmine,
                                                              backend: Redmine,
                                                              call: str) -> None:
    issue = str(redmine.add_issue())
    redmine.hidden.add(int(issue))  # Redmine: 403
    args = {"add_note": (issue, NOTE), "find_note": (issue, "adminkit:R:0;"), "get": (issue,),
            "set_status": (issue, "Closed"), "attach": (issue, "a.txt", b"x")}[call]
    with pytest.raises(TicketNotFound):
        getattr(backend, call)(*args)
