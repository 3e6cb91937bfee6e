"""What only the Redmine backend does (journals, the private-notes permission, uploads),
with the real httpx client, against a local fake of Redmine's REST API.

What every backend must do (delivery through the outbox, retries, refused credentials,
missing tickets) is in test_ticket_contract.py.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from adminkit.core.errors import ConnectionFailed, UsageError
from adminkit.tickets.base import TicketNotFound
from adminkit.tickets.redmine import Redmine
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
    assert put.json() == {"issue": {"notes": NOTE, "private_notes": True}}
    assert put.headers["content-type"] == "application/json"
    assert all(r.headers["x-redmine-api-key"] == redmine.api_key for r in redmine.requests)


def test_add_note_returns_the_newest_journal_with_that_text(redmine: FakeRedmine,
                                                            backend: Redmine) -> None:
    issue = redmine.add_issue()
    redmine.add_journal(issue, "same words")
    note_id = backend.add_note(str(issue), "same words")
    assert note_id == str(redmine.notes_of(issue)[-1]["id"])


def test_add_note_warns_when_redmine_makes_it_public(redmine: FakeRedmine, backend: Redmine,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    redmine.may_set_notes_private = False  # the role lacks "Set notes as private"
    issue = redmine.add_issue()
    with caplog.at_level(logging.WARNING, logger="adminkit.tickets.redmine"):
        note_id = backend.add_note(str(issue), NOTE)
    assert note_id == str(redmine.notes_of(issue)[0]["id"])
    assert "Set notes as private" in caplog.text


def test_add_note_still_succeeds_when_reading_the_id_back_fails(redmine: FakeRedmine,
                                                                backend: Redmine) -> None:
    issue = redmine.add_issue()
    redmine.fail(503, method="GET")  # the PUT goes through, the read-back does not
    assert backend.add_note(str(issue), NOTE) == ""
    assert [j["notes"] for j in redmine.notes_of(issue)] == [NOTE]


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
    assert redmine.notes_of(issue)[0]["notes"] == NOTE


def test_ping_names_the_account_and_its_private_notes_right(redmine: FakeRedmine,
                                                            backend: Redmine) -> None:
    text = backend.ping()
    assert text == ("Redmine API: authenticated as Adminkit Bot (adminkit), may set notes "
                    "private in 1 project(s)")
    assert redmine.seen("GET", "/users/current.json")[0].query == {"include": ["memberships"]}
    assert [r.path for r in redmine.requests] == ["/users/current.json", "/roles/4.json"]
    assert redmine.api_key not in text  # Redmine shows the key to its owner: never repeat it


def test_ping_warns_where_notes_would_go_public(redmine: FakeRedmine, backend: Redmine) -> None:
    redmine.may_set_notes_private = False
    redmine.memberships.append({"id": 2, "project": {"id": 2, "name": "Servers"},
                                "roles": [{"id": 3, "name": "Manager"}]})
    text = backend.ping()
    assert text.startswith("Redmine API: authenticated as Adminkit Bot (adminkit); warning: ")
    assert "may not set notes private in Helpdesk:" in text
    assert "Servers" not in text  # the Manager role there has the permission
    assert "Set notes as private" in text


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
