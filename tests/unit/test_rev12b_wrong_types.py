"""Answers of the right shape with a member of the wrong JSON type (a list where an object
belongs, a number where a list does: a proxy's rewrite, a plug-in, another version) are a
bad answer or read as absent, never a TypeError or AttributeError out of the backend:
that was an internal error at the run's ticket check, `ticket show` and approvals.

Each case serves the vendor's own answer (from the fake) with one member changed."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from adminkit.core.errors import ConnectionFailed
from adminkit.tickets.jira import Jira
from adminkit.tickets.redmine import Redmine
from tests.fakes.httpserver import Reply, ServerFake, json_reply
from tests.fakes.jira import FakeJira
from tests.fakes.redmine import FakeRedmine
from tests.fakes.ticketfake import profile_for


def serve_changed(fake: ServerFake, path: str, change: Callable[[Any], None],
                  call: Callable[[], object]) -> None:
    """Record the vendor's answer to GET `path` during `call`, then have the fake answer
    the next such GET with `change` applied to it."""
    answers: list[Reply] = []
    route = fake.server.route

    def spy(req: Any) -> Reply:
        reply = route(req)
        if req.method == "GET" and req.path == path and reply is not None:
            answers.append(reply)
        return reply

    fake.server.route = spy
    try:
        call()
    finally:
        fake.server.route = route
    body = copy.deepcopy(json.loads(answers[-1].body))
    change(body)
    fake.fail(200, method="GET", path=path, reply=json_reply(200, body))


@pytest.fixture
def jira_fake() -> Any:
    with FakeJira(pat="jira-pat-7") as fake:
        fake.issue("HD-12", "Please block jdoe", reporter="anna@example.com")
        yield fake


@pytest.mark.parametrize("reporter", ["anna", 7, [1]])
def test_a_jira_reporter_that_is_no_object_is_no_requester(
        jira_fake: FakeJira, monkeypatch: pytest.MonkeyPatch, reporter: object) -> None:
    jira = Jira(profile_for(jira_fake, monkeypatch))
    try:
        serve_changed(jira_fake, "/rest/api/2/issue/HD-12",
                      lambda body: body["fields"].update(reporter=reporter),
                      lambda: jira.get("HD-12"))
        ticket = jira.get("HD-12")
        assert (ticket.subject, ticket.requester, ticket.requester_id) == \
            ("Please block jdoe", None, None)
        serve_changed(jira_fake, "/rest/api/2/issue/HD-12",
                      lambda body: body.update(fields=[reporter]), lambda: jira.get("HD-12"))
        assert jira.get("HD-12").queue is None  # nothing read: in no profile's queue
    finally:
        jira.close()


def test_jira_comments_that_are_no_list_are_a_bad_answer(
        jira_fake: FakeJira, monkeypatch: pytest.MonkeyPatch) -> None:
    jira = Jira(profile_for(jira_fake, monkeypatch))
    try:
        jira.add_note("HD-12", "adminkit:R-1:0; hello")
        path = "/rest/servicedeskapi/request/HD-12/comment"
        serve_changed(jira_fake, path, lambda body: body.update(values=7),
                      lambda: jira.find_note("HD-12", "adminkit:R-1:0;"))
        with pytest.raises(ConnectionFailed, match="values is not a list"):
            jira.find_note("HD-12", "adminkit:R-1:0;")
    finally:
        jira.close()


def test_a_jira_comment_editor_that_is_no_object_makes_the_comment_unverified(
        jira_fake: FakeJira, monkeypatch: pytest.MonkeyPatch) -> None:
    jira = Jira(profile_for(jira_fake, monkeypatch))
    try:
        jira.add_note("HD-12", "/approve")
        path = "/rest/api/2/issue/HD-12/comment"
        serve_changed(jira_fake, path,
                      lambda body: body["comments"][0].update(updateAuthor="mallory"),
                      lambda: jira.notes("HD-12"))
        [note] = jira.notes("HD-12")
        assert "edited after it was posted by someone (no user id)" in note["unverified"]
    finally:
        jira.close()


@pytest.fixture
def redmine_fake() -> Any:
    with FakeRedmine() as fake:
        yield fake


def test_redmine_journals_or_custom_fields_that_are_no_list(
        redmine_fake: FakeRedmine, monkeypatch: pytest.MonkeyPatch) -> None:
    redmine = Redmine(profile_for(redmine_fake, monkeypatch))
    try:
        issue = redmine_fake.add_issue()
        path = f"/issues/{issue}.json"
        serve_changed(redmine_fake, path, lambda body: body["issue"].update(custom_fields=7),
                      lambda: redmine.get(str(issue)))
        assert redmine.get(str(issue)).subject == "Printer jammed"
        serve_changed(redmine_fake, path, lambda body: body["issue"].update(journals=7),
                      lambda: redmine.notes(str(issue)))
        with pytest.raises(ConnectionFailed, match="journals"):
            redmine.notes(str(issue))
    finally:
        redmine.close()


@pytest.mark.parametrize("change", [
    lambda body: body["user"].update(memberships=7),
    lambda body: body["user"]["memberships"][0].update(roles=7),
    lambda body: body["user"]["memberships"][0]["roles"][0].update(id=[3]),
    lambda body: body["user"]["memberships"][0].update(project="helpdesk"),
], ids=["memberships", "roles", "role id", "project"])
def test_redmine_ping_reads_memberships_of_the_wrong_type_as_none(
        redmine_fake: FakeRedmine, monkeypatch: pytest.MonkeyPatch,
        change: Callable[[Any], None]) -> None:
    redmine = Redmine(profile_for(redmine_fake, monkeypatch))
    try:
        def ping() -> str:
            try:
                return redmine.ping()
            except ConnectionFailed as exc:  # the fake's account may not set notes private
                return exc.message

        serve_changed(redmine_fake, "/users/current.json", change, ping)
        assert "authenticated as Adminkit Bot" in ping()  # a line, not a TypeError
    finally:
        redmine.close()
