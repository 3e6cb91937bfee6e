"""The Redmine backend, with the real httpx client, against a local fake of Redmine's API."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adminkit.core.config import Profile
from adminkit.core.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    ExitCode,
    UsageError,
)
from adminkit.journal.store import Journal
from adminkit.tickets.base import RetryLater, TicketNotFound, TicketSystem
from adminkit.tickets.outbox import flush
from adminkit.tickets.redmine import Redmine
from adminkit.tickets.settings import TicketsConfig
from tests.fakes.outbox_rig import crash_while_leased, make_due, queue_note
from tests.fakes.redmine import FakeRedmine

RUN = "R-20251125-100000-abc123"
TEXT = ("adminkit:R-20251125-100000-abc123:0; account.disable jdoe by tester (profile acme)\n"
        "changed: disable jdoe\n    enabled: True -> False <b>&amp; ünïcode</b>")


def profile_for(url: str, **tickets: Any) -> Profile:
    settings: dict[str, Any] = {"kind": "redmine", "url": url, "token": "env:REDMINE_KEY",
                                **tickets}
    return Profile.of(name="acme", tickets=TicketsConfig(**settings))


@pytest.fixture
def redmine() -> Iterator[FakeRedmine]:
    with FakeRedmine() as fake:
        yield fake


@pytest.fixture
def backend(redmine: FakeRedmine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Redmine]:
    monkeypatch.setenv("REDMINE_KEY", redmine.api_key)
    system = Redmine(profile_for(redmine.url))
    yield system
    system.close()


def test_it_is_a_ticket_system(backend: Redmine) -> None:
    system: TicketSystem = backend
    assert system.kind == "redmine"


def test_add_note_posts_a_private_note_with_exactly_the_text(redmine: FakeRedmine,
                                                            backend: Redmine) -> None:
    issue = redmine.add_issue()
    note_id = backend.add_note(str(issue), TEXT)
    [journal] = redmine.notes_of(issue)
    assert (journal["notes"], journal["private_notes"]) == (TEXT, True)
    assert note_id == str(journal["id"])  # read back: Redmine answers the PUT with 204
    [put] = redmine.seen("PUT", f"/issues/{issue}.json")
    assert put.json() == {"issue": {"notes": TEXT, "private_notes": True}}
    assert put.headers["content-type"] == "application/json"
    assert all(r.headers["x-redmine-api-key"] == redmine.api_key for r in redmine.requests)


def test_add_note_is_public_when_asked(redmine: FakeRedmine, backend: Redmine) -> None:
    issue = redmine.add_issue()
    backend.add_note(str(issue), "Your printer works again.", internal=False)
    [journal] = redmine.notes_of(issue)
    assert (journal["notes"], journal["private_notes"]) == ("Your printer works again.", False)


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
        note_id = backend.add_note(str(issue), TEXT)
    assert note_id == str(redmine.notes_of(issue)[0]["id"])
    assert "Set notes as private" in caplog.text


def test_add_note_still_succeeds_when_reading_the_id_back_fails(redmine: FakeRedmine,
                                                                backend: Redmine) -> None:
    issue = redmine.add_issue()
    redmine.fail_next(503, skip=1)  # the PUT goes through, the read-back does not
    assert backend.add_note(str(issue), TEXT) == ""
    assert [j["notes"] for j in redmine.notes_of(issue)] == [TEXT]


def test_find_note_by_marker(redmine: FakeRedmine, backend: Redmine) -> None:
    issue = redmine.add_issue()
    redmine.add_journal(issue, "adminkit:R-OTHER:0; something else")
    wanted = redmine.add_journal(issue, TEXT)
    assert backend.find_note(str(issue), f"adminkit:{RUN}:0;") == str(wanted)
    assert backend.find_note(str(issue), f"adminkit:{RUN}:1;") is None
    [get] = redmine.seen("GET", f"/issues/{issue}.json")[:1]
    assert get.query == {"include": "journals"}


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
    assert upload.query == {"filename": "users.csv"}
    assert upload.headers["content-type"] == "application/octet-stream"
    [attachment] = redmine.issues[issue]["attachments"]
    assert attachment["filename"] == "users.csv"
    assert attachment["data"] == b"login;mail\njdoe;j@example.org\n"
    assert attachment["content_type"] == "text/csv"


def test_login_with_user_and_password(redmine: FakeRedmine,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDMINE_PASSWORD", redmine.login[1])
    system = Redmine(profile_for(redmine.url, token=None, user=redmine.login[0],
                                 password="env:REDMINE_PASSWORD"))
    issue = redmine.add_issue()
    system.add_note(str(issue), TEXT)
    system.close()
    assert redmine.notes_of(issue)[0]["notes"] == TEXT


def test_wrong_key_is_an_authentication_failure(redmine: FakeRedmine,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDMINE_KEY", "not-the-key-4711")
    system = Redmine(profile_for(redmine.url))
    issue = redmine.add_issue()
    with pytest.raises(AuthenticationFailed) as caught:
        system.add_note(str(issue), TEXT)
    system.close()
    assert "not-the-key-4711" not in str(caught.value)
    assert redmine.notes_of(issue) == []


def test_ping_names_the_account_and_its_private_notes_right(redmine: FakeRedmine,
                                                            backend: Redmine) -> None:
    text = backend.ping()
    assert text == ("Redmine API: authenticated as Adminkit Bot (adminkit), may set notes "
                    "private in 1 project(s)")
    assert redmine.seen("GET", "/users/current.json")[0].query == {"include": "memberships"}
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


def test_ping_with_a_wrong_key_is_an_authentication_failure(
        redmine: FakeRedmine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDMINE_KEY", "not-the-key-4711")
    system = Redmine(profile_for(redmine.url))
    with pytest.raises(AuthenticationFailed) as caught:
        system.ping()
    system.close()
    assert caught.value.exit_code == ExitCode.CONNECTION == 3
    assert "401" in caught.value.message and caught.value.hint
    assert "not-the-key-4711" not in str(caught.value)


def test_a_profile_without_credentials_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"needs tickets\.token"):
        Redmine(profile_for("https://redmine.example", token=None))


@pytest.mark.parametrize("call", ["add_note", "find_note", "get", "set_status", "attach"])
@pytest.mark.parametrize("why", ["missing", "hidden"])
def test_missing_or_hidden_issue_is_ticket_not_found(redmine: FakeRedmine, backend: Redmine,
                                                     call: str, why: str) -> None:
    issue = "999999"
    if why == "hidden":
        issue = str(redmine.add_issue())
        redmine.hidden.add(int(issue))
    args = {"add_note": (issue, TEXT), "find_note": (issue, "adminkit:R:0;"), "get": (issue,),
            "set_status": (issue, "Closed"), "attach": (issue, "a.txt", b"x")}[call]
    with pytest.raises(TicketNotFound):
        getattr(backend, call)(*args)


def test_rate_limit_is_retry_later_with_retry_after(redmine: FakeRedmine,
                                                    backend: Redmine) -> None:
    issue = redmine.add_issue()
    redmine.fail_next(429, retry_after=7, body=b"Too Many Requests")
    with pytest.raises(RetryLater) as caught:
        backend.add_note(str(issue), TEXT)
    assert caught.value.retry_after == 7
    assert redmine.notes_of(issue) == []


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retry_later(redmine: FakeRedmine, backend: Redmine,
                                       status: int) -> None:
    issue = redmine.add_issue()
    redmine.fail_next(status, retry_after=30 if status == 503 else None)
    with pytest.raises(RetryLater) as caught:
        backend.add_note(str(issue), TEXT)
    assert caught.value.retry_after == (30 if status == 503 else None)


def test_a_server_that_is_down_is_retry_later(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDMINE_KEY", "k")
    with socket.socket() as sock:  # a port that nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    system = Redmine(profile_for(f"http://127.0.0.1:{port}"))
    with pytest.raises(RetryLater):
        system.add_note("1", TEXT)
    system.close()


# -- through the outbox -------------------------------------------------------------------
@pytest.mark.parametrize("status", [429, 503])
def test_outbox_waits_for_retry_after_then_delivers_once(
        redmine: FakeRedmine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        status: int) -> None:
    monkeypatch.setenv("REDMINE_KEY", redmine.api_key)
    profile = profile_for(redmine.url)
    opened: list[tuple[str | None, str]] = []

    def opener(profile_name: str | None, kind: str) -> TicketSystem:
        opened.append((profile_name, kind))
        return Redmine(profile)

    journal = Journal(tmp_path / "journal.db")
    issue = redmine.add_issue()
    queue_note(journal, system="redmine", ticket=str(issue), run_id=RUN, body=TEXT)
    redmine.fail_next(status, retry_after=120)

    before = datetime.now(UTC)
    report = flush(journal, opener, deadline=None)
    assert (report.delivered, report.retrying, report.failed) == (0, 1, 0)
    [row] = journal.outbox()
    assert row["status"] == "pending"
    assert datetime.fromisoformat(row["next_attempt"]) >= before + timedelta(seconds=120)
    assert redmine.notes_of(issue) == []

    make_due(journal)
    report = flush(journal, opener, deadline=None)
    assert report.delivered == 1
    [note] = redmine.notes_of(issue)
    assert (note["notes"], note["private_notes"]) == (TEXT, True)
    [row] = journal.outbox()
    assert (row["status"], row["remote_id"]) == ("delivered", str(note["id"]))

    seen = len(redmine.requests)
    report = flush(journal, opener, deadline=None)
    assert report.delivered == 0 and len(redmine.requests) == seen
    assert len(redmine.notes_of(issue)) == 1
    assert opened == [("acme", "redmine"), ("acme", "redmine")]
    journal.close()


def test_outbox_finds_an_earlier_copy_and_posts_nothing(redmine: FakeRedmine,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    """A crash between posting and recording: the marker finds the note already there."""
    monkeypatch.setenv("REDMINE_KEY", redmine.api_key)
    journal = Journal(tmp_path / "journal.db")
    issue = redmine.add_issue()
    earlier = redmine.add_journal(issue, TEXT)
    queue_note(journal, system="redmine", ticket=str(issue), run_id=RUN, body=TEXT)
    # the earlier flush leased the note, posted it and died before recording it
    crash_while_leased(journal)
    report = flush(journal, lambda _p, _k: Redmine(profile_for(redmine.url)), deadline=None)
    assert report.delivered == 1
    assert [j["id"] for j in redmine.notes_of(issue)] == [earlier]
    assert journal.outbox()[0]["remote_id"] == str(earlier)
    assert redmine.seen("PUT", f"/issues/{issue}.json") == []
    journal.close()


def test_outbox_marks_a_missing_issue_failed(redmine: FakeRedmine,
                                             monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    monkeypatch.setenv("REDMINE_KEY", redmine.api_key)
    journal = Journal(tmp_path / "journal.db")
    queue_note(journal, system="redmine", ticket="424242", run_id=RUN, body=TEXT)
    report = flush(journal, lambda _p, _k: Redmine(profile_for(redmine.url)), deadline=None)
    assert report.failed == 1
    assert journal.outbox()[0]["status"] == "failed"
    journal.close()
