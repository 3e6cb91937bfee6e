"""ServiceNow four eyes when the record names no requester by sys_id (rev8b).

A ticket's caller (incident.caller_id) is often empty: monitoring, an integration, or an
agent who left it blank. Who asked is then unknown, and since names no longer count on
ServiceNow (`snow:SYSID` only), a four-eyes check would compare the approver with
nothing. Checked: the rule refuses an unknown requester (even `requesters: ["*"]`)
before any approval is asked, so the agent who opened it never approves it.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.servicenow import FakeServiceNow
from tests.unit.test_approvals_by_id import again
from tests.unit.test_approvals_snow import NUMBER, rig, said, snow, tickets

__all__ = ["rig", "snow"]


def test_no_caller_is_refused_before_any_approval(
        rig: Any, snow: FakeServiceNow) -> None:
    from adminkit.tickets.servicenow import ServiceNow

    anna = snow.sys_user("Anna Example", "anna.example")
    snow.record(NUMBER, "unlock: jdoe", caller_id=anna)
    snow.find(NUMBER)["caller_id"] = ""  # opened by Anna, caller left empty
    dispatcher, first = rig(ServiceNow, tickets(snow), f"snow:{NUMBER}", [f"snow:{anna}"])
    dispatcher.flush()
    assert first.status == "refused"
    snow.journal_entry(NUMBER, "/approve", by="anna.example")
    assert again(dispatcher, first).status == "refused"
    assert not any("approved by" in b for b in said(snow)), said(snow)


def test_an_approvers_note_read_after_the_approver_was_deactivated_approves_nothing(
        rig: Any, snow: FakeServiceNow) -> None:
    """`adminkit approve` refuses an inactive approver ("an approver who has left
    approves nothing"); a note of theirs the dispatcher reads after their account was
    deactivated (left, or locked after a compromise) must not approve either."""
    from tests.unit.test_approvals_snow import start

    anna = snow.sys_user("Anna Example", "anna.example")
    boss = snow.sys_user("Boss Person", "boss.person")
    dispatcher, first = start(rig, snow, [f"snow:{boss}"], caller_id=anna)
    assert first.status == "waiting"
    snow.journal_entry(NUMBER, "/approve", by="boss.person")
    snow.store.users[boss]["active"] = "false"
    assert again(dispatcher, first).status == "waiting"
    assert not any("approved by" in b for b in said(snow)), said(snow)


def test_a_journal_author_named_like_a_script_is_never_put_in_a_query(
        rig: Any, snow: FakeServiceNow) -> None:
    """A note's writer (sys_created_by) goes into a sys_user query to find their
    sys_id. An instance runs a query value starting with `javascript:` as a server-side
    script as the integration account: such a name is never sent, and proves nobody."""
    from tests.unit.test_approvals_snow import start

    anna = snow.sys_user("Anna Example", "anna.example")
    boss = snow.sys_user("Boss Person", "boss.person")
    dispatcher, first = start(rig, snow, [f"snow:{boss}"], caller_id=anna)
    assert first.status == "waiting"
    for name in ("javascript:gs.getUserID()", "JavaScript:gs.log(1)", "boss.person^ORactive=true"):
        snow.journal_entry(NUMBER, "/approve", by=name)
    assert again(dispatcher, first).status == "waiting"
    assert snow.scripts_run == []
    assert not any("approved by" in b for b in said(snow)), said(snow)
