"""Who asks and who approves on ServiceNow: the sys_user sys_id (`snow:SYSID`), never the
display value, which two people may share and an administrator may change.

A record's caller is a reference: its `value` is the sys_user sys_id, its `display_value`
the name. A journal entry names its writer by user_name only (sys_created_by), which
sys_user keeps unique: the backend looks the sys_id up. The real backend against the
protocol-level fake; the dispatcher is driven as `serve` drives it, and what it decided is
read back from the fake's journal entries and adminkit's journal.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from adminkit.automation.dispatch import Dispatcher, Outcome
from adminkit.core.errors import ConfigError, ExitCode
from adminkit.tickets.servicenow import ServiceNow
from tests.fakes.servicenow import FakeServiceNow
from tests.fakes.ticketfake import SECRET_ENV
from tests.unit import test_approvals_by_id as shared
from tests.unit.test_approvals_by_id import again, ends, profile

rig = shared.rig  # the dispatcher rig, a fixture

NUMBER = "INC0012345"


@pytest.fixture
def snow(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServiceNow]:
    with FakeServiceNow() as fake:
        monkeypatch.setenv(SECRET_ENV, fake.secret)
        yield fake


def tickets(fake: FakeServiceNow) -> dict[str, Any]:
    return {"kind": "servicenow", "url": fake.url, "user": fake.user,
            "password": f"env:{SECRET_ENV}"}


def start(rig: Any, fake: FakeServiceNow, approvers: list[str], *, caller_id: str,
          requesters: list[str] | None = None) -> tuple[Dispatcher, Outcome]:
    fake.record(NUMBER, "unlock: jdoe", caller_id=caller_id)
    dispatcher, first = rig(ServiceNow, tickets(fake), f"snow:{NUMBER}", approvers,
                            requesters)
    dispatcher.flush()
    return dispatcher, first


def said(fake: FakeServiceNow) -> list[str]:
    return [value for _, value in fake.journal_of(NUMBER)]


def test_the_backend_names_people_by_sys_id(snow: FakeServiceNow) -> None:
    anna = snow.sys_user("Anna Example", "anna.example")
    boss = snow.sys_user("Boss Person", "boss.person")
    snow.record(NUMBER, "unlock: jdoe", caller_id=anna)
    snow.journal_entry(NUMBER, "/approve", by="boss.person")
    snow.journal_entry(NUMBER, "/approve", by="gone.user")  # no sys_user record any more
    system = ServiceNow(profile(tickets(snow), []))
    try:
        ticket, notes = system.get(NUMBER), system.notes(NUMBER)
    finally:
        system.close()
    assert (ticket.requester, ticket.requester_id) == ("Anna Example", f"snow:{anna}")
    assert [(n["author"], n["author_id"]) for n in notes] == [
        ("boss.person", f"snow:{boss}"), ("gone.user", None)]


def test_the_fake_answers_references_as_the_table_api_does(snow: FakeServiceNow) -> None:
    """value + link; the display value only when sysparm_display_value asks for it."""
    anna = snow.sys_user("Anna Example", "anna.example")
    sys_id = snow.record(NUMBER, caller_id=anna)["sys_id"]
    link = f"{snow.url}/api/now/table/sys_user/{anna}"
    answers = {}
    for mode in ("false", "true", "all"):
        r = httpx.get(f"{snow.url}/api/now/table/incident/{sys_id}", auth=(
            snow.user, snow.password), params={"sysparm_fields": "caller_id",
                                                "sysparm_display_value": mode})
        answers[mode] = r.json()["result"]["caller_id"]
    assert answers == {"false": {"link": link, "value": anna},
                       "true": {"link": link, "display_value": "Anna Example"},
                       "all": {"link": link, "value": anna, "display_value": "Anna Example"}}


def test_an_approvers_note_is_honoured_by_sys_id(rig: Any, snow: FakeServiceNow,
                                                 env: Any) -> None:
    anna = snow.sys_user("Anna Example", "anna.example")
    boss = snow.sys_user("Boss Person", "boss.person")
    dispatcher, first = start(rig, snow, [f"snow:{boss}"], caller_id=anna)
    assert first.status == "waiting"
    snow.journal_entry(NUMBER, "/approve", by="boss.person")
    assert again(dispatcher, first).status != "waiting"
    who = f"approved by boss.person (snow:{boss})"
    assert any(who in b for b in said(snow)), said(snow)
    assert any(who in row for row in ends(env.journal))


def test_a_namesake_of_the_approver_is_not_one(rig: Any, snow: FakeServiceNow) -> None:
    """Two people called Boss Person: the one not on the list may not approve."""
    anna = snow.sys_user("Anna Example", "anna.example")
    boss = snow.sys_user("Boss Person", "boss.person")
    other = snow.sys_user("Boss Person", "boss.person2")
    dispatcher, first = start(rig, snow, [f"snow:{boss}"], caller_id=anna)
    snow.journal_entry(NUMBER, "/approve", by="boss.person2")
    assert again(dispatcher, first).status == "waiting"
    assert any(f"boss.person2 (snow:{other}) may not approve it (not an approver)" in b
               for b in said(snow)), said(snow)
    assert not any("approved by" in b for b in said(snow))


def test_four_eyes_the_caller_cannot_approve(rig: Any, snow: FakeServiceNow) -> None:
    anna = snow.sys_user("Anna Example", "anna.example")
    dispatcher, first = start(rig, snow, [f"snow:{anna}"], caller_id=anna)
    snow.journal_entry(NUMBER, "/approve", by="anna.example")
    assert again(dispatcher, first).status == "waiting"
    assert any("cannot approve it too (four eyes)" in b for b in said(snow)), said(snow)


def test_rule_requesters_go_by_sys_id_not_a_shared_name(rig: Any,
                                                        snow: FakeServiceNow) -> None:
    anna = snow.sys_user("Anna Example", "anna.example")
    namesake = snow.sys_user("Anna Example", "anna.example2")
    boss = snow.sys_user("Boss Person", "boss.person")
    _, first = start(rig, snow, [f"snow:{boss}"], caller_id=namesake,
                     requesters=[f"snow:{anna}"])
    assert first.status != "waiting"
    assert any(f"Anna Example (snow:{namesake}) may not ask for unlock" in b
               for b in said(snow)), said(snow)


@pytest.mark.parametrize(("value", "problem"), [
    ("Boss Person", "'Boss Person' can never match: servicenow names people by user id "
                    "(snow:SYSID)"),
    ("snow:boss.person", "'snow:boss.person' is not a servicenow user id (snow:SYSID)"),
])
def test_a_name_as_approver_is_refused_at_load(rig: Any, snow: FakeServiceNow, value: str,
                                               problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        start(rig, snow, [value], caller_id=snow.sys_user("Anna Example", "anna.example"))
    assert err.value.exit_code == ExitCode.USAGE
    assert problem in err.value.message
