"""A schedule's `ticket: new`: a ticket per run in the profile's ticket system, through the
real Redmine backend against the protocol-level fake; `new:local`, a check run, a
backend that cannot open tickets, a Redmine that refuses."""

from __future__ import annotations

import re
from typing import Any

import pytest

from adminkit.automation.schedule import new_ticket
from adminkit.automation.settings import Schedule
from adminkit.core.config import Profile
from adminkit.core.errors import UsageError
from adminkit.tickets.base import Rejected
from adminkit.tickets.local import LocalTickets
from tests.fakes import watchrig
from tests.fakes.redmine import FakeRedmine
from tests.fakes.ticketfake import SECRET_ENV

fake = watchrig.fake  # the fixture: a fake Redmine on a port of its own
NIGHTLY = Schedule.model_validate({"name": "nightly", "calendar": "daily",
                                   "playbook": "disable-inactive-accounts", "ticket": "new"})


def profile(fake: FakeRedmine, monkeypatch: pytest.MonkeyPatch, **tickets: Any) -> Profile:
    monkeypatch.setenv(SECRET_ENV, fake.secret)
    return Profile.model_validate({"name": "acme", "tickets": {
        "kind": "redmine", "url": fake.url, "token": f"env:{SECRET_ENV}", **tickets}})


def test_new_opens_an_issue_in_the_profiles_project(fake: FakeRedmine, env: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    ref = new_ticket(profile(fake, monkeypatch, queue="helpdesk"), NIGHTLY, local=False,
                     check=False)
    assert ref is not None and ref.startswith("redmine:")
    issue = fake.issues[int(ref.partition(":")[2])]
    assert issue["subject"] == "schedule nightly: disable-inactive-accounts"
    assert "schedule nightly (daily) for profile acme" in issue["description"]
    [post] = fake.seen("POST", "/issues.json")
    assert post.json()["issue"]["project_id"] == "helpdesk"
    assert LocalTickets().all() == []


def test_a_check_run_opens_none_and_new_local_stays_local(
        fake: FakeRedmine, env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    p = profile(fake, monkeypatch, queue="helpdesk")
    assert new_ticket(p, NIGHTLY, local=False, check=True) is None
    ref = new_ticket(p, NIGHTLY, local=True, check=False)
    assert ref is not None and ref.startswith("local:")
    assert fake.seen("POST", "/issues.json") == []


def test_without_a_project_or_refused_it_says_so(fake: FakeRedmine, env: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UsageError, match=r"tickets\.queue"):
        new_ticket(profile(fake, monkeypatch), NIGHTLY, local=False, check=False)
    with pytest.raises(Rejected, match="Project cannot be blank"):
        new_ticket(profile(fake, monkeypatch, queue="elsewhere"), NIGHTLY, local=False,
                   check=False)


def test_a_system_that_needs_more_to_open_a_ticket_says_what_before_any_call(
        env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, "x")
    p = Profile.model_validate({"name": "acme", "tickets": {
        "kind": "zammad", "url": "http://127.0.0.1:9", "token": f"env:{SECRET_ENV}"}})
    with pytest.raises(UsageError, match=r"tickets\.new\.group and tickets\.new\.customer"):
        new_ticket(p, NIGHTLY, local=False, check=False)  # port 9: nothing answers there


@pytest.mark.parametrize(("kind", "new", "says"), [
    ("jira", {"service_desk": 1}, "missing: request_type"),
    ("zammad", {"group": "Users"}, "missing: customer"),
    ("zammad", {"group": "Users", "customer": "not an address"}, "user id or an e-mail"),
    ("servicenow", {"group": "Users"}, "group is not servicenow's"),
    ("glpi", {"category": "Printing"}, "ITIL category is an id"),
    ("rt", {"type": "incident"}, "type is not rt's (it takes none)"),
    ("servicenow", {"caller": "jdoe; drop"}, "caller"),
])
def test_tickets_new_is_checked_when_the_profile_loads(kind: str, new: dict[str, Any],
                                                       says: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=re.escape(says)):
        Profile.model_validate({"name": "acme", "tickets": {
            "kind": kind, "url": "https://tickets.example", "new": new}})


def test_tickets_new_that_fits_its_system_loads() -> None:
    p = Profile.model_validate({"name": "acme", "tickets": {
        "kind": "jira", "url": "https://jira.example", "new": {"service_desk": 1,
                                                                 "request_type": 10}}})
    from adminkit.tickets.settings import ticket_settings

    cfg = ticket_settings(p)
    assert cfg is not None and cfg.new is not None
    assert cfg.new.service_desk == 1 and cfg.needs_new() is None
