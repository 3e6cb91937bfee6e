"""Hostile review of Jira approvals: a comment edited after it was posted.

Jira keeps a comment's `author` when someone else edits it (an agent with "Edit All
Comments"); only the platform API's `updateAuthor` says who wrote the text now. The
servicedeskapi's comments, which approvals read, say nothing of an edit: an agent could
turn an approver's "I will look at it" into "/approve" and the run was approved in the
approver's name. Against the protocol-level fake; what was decided is read back from it.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.jira import FakeJira, person
from tests.unit.test_approvals_by_id import (  # noqa: F401  (rig, jira: fixtures)
    BOSS,
    again,
    jira,
    jira_start,
    rig,
    said,
)

EVE = person("eve", "Eve Agent")  # an agent with "Edit All Comments", not an approver


def test_jira_an_approvers_comment_edited_by_another_into_approve_is_refused(
        rig: Any, jira: FakeJira) -> None:  # noqa: F811
    dispatcher, key, first = jira_start(rig, jira, [f"jira:{BOSS.account_id}"])
    assert first.status == "waiting"
    comment = jira.comment(key, "I will look at it tomorrow", author=BOSS)
    assert again(dispatcher, first).status == "waiting"
    jira.edit(key, comment.id, "/approve", by=EVE)
    assert again(dispatcher, first).status == "waiting"
    bodies = said(jira, key)
    assert not any("approved by" in b for b in bodies), bodies
    assert any(f"edited after it was posted by Eve Agent (jira:{EVE.account_id})" in b
               for b in bodies), bodies


def test_jira_an_approver_editing_their_own_comment_into_approve_approves(
        rig: Any, jira: FakeJira) -> None:  # noqa: F811
    dispatcher, key, first = jira_start(rig, jira, [f"jira:{BOSS.account_id}"])
    comment = jira.comment(key, "I will look at it tomorrow", author=BOSS)
    jira.edit(key, comment.id, "/approve looked at it", by=BOSS)
    assert again(dispatcher, first).status != "waiting"
    assert any(f"approved by Boss Person (jira:{BOSS.account_id})" in b
               for b in said(jira, key)), said(jira, key)


def test_jira_data_center_an_edit_by_another_user_key_is_refused(
        rig: Any, jira: FakeJira) -> None:  # noqa: F811
    dispatcher, key, first = jira_start(rig, jira, [f"jira:{BOSS.key}"], dc=True)
    comment = jira.comment(key, "hm", author=BOSS)
    jira.edit(key, comment.id, "/approve", by=EVE)
    assert again(dispatcher, first).status == "waiting"
    assert not any("approved by" in b for b in said(jira, key))
