"""Hostile review: a Redmine note or a Zammad article changed by someone else after it
was written. The author stays; the text is the editor's. Redmine (5.0 and later) says so
in a journal's `updated_by` (a user with "Edit notes" may edit anyone's), Zammad in an
article's `updated_by_id`. Such an answer proves nobody, as an e-mail does.
"""

from __future__ import annotations

from typing import Any

from tests.fakes import watchrig
from tests.fakes.watchrig import FlakyRedmine, T
from tests.fakes.zammad import FakeZammad
from tests.unit.test_approvals_by_id import (  # noqa: F401  (fixtures: rig, zammad)
    again,
    rig,
    z_said,
    z_start,
    zammad,
)
from tests.unit.test_watch_redmine_identity import said, watch  # noqa: F401  (fixture)

fake = watchrig.fake


def test_redmine_an_approvers_note_edited_by_another_into_approve_is_refused(
        fake: FlakyRedmine, watch: Any) -> None:  # noqa: F811
    w, asked, first = watch(["redmine:7"], ["*"])
    assert first.status == "waiting"
    fake.issues[asked]["journals"].append({
        "id": 905, "user": {"id": 7, "name": "Boss"}, "notes": "/approve",
        "private_notes": False, "created_on": T.format(5), "updated_on": T.format(6),
        "updated_by": {"id": 5, "name": "Eve"}, "details": []})
    fake.touch(asked, T.format(6))
    outcomes = {o.key: o.status for o in w.poll().outcomes}
    assert outcomes.get(first.key, "waiting") == "waiting", outcomes
    notes = said(fake, asked)
    assert not any("approved by" in n for n in notes), notes
    assert any("edited after it was written by Eve (redmine:5)" in n for n in notes), notes


def test_redmine_an_approver_editing_their_own_note_approves(
        fake: FlakyRedmine, watch: Any) -> None:  # noqa: F811
    w, asked, first = watch(["redmine:7"], ["*"])
    fake.issues[asked]["journals"].append({
        "id": 905, "user": {"id": 7, "name": "Boss"}, "notes": "/approve",
        "private_notes": False, "created_on": T.format(5), "updated_on": T.format(6),
        "updated_by": {"id": 7, "name": "Boss"}, "details": []})
    fake.touch(asked, T.format(6))
    outcomes = {o.key: o.status for o in w.poll().outcomes}
    assert outcomes.get(first.key) not in (None, "waiting"), outcomes


def test_zammad_an_approvers_article_changed_by_another_is_refused(
        rig: Any, zammad: FakeZammad) -> None:  # noqa: F811
    boss = zammad.person("boss@example.com", "Boss", "Person")
    eve = zammad.person("eve@example.com", "Eve", "Agent")
    dispatcher, ticket, first = z_start(rig, zammad, [f"zammad:{boss.id}"])
    art = zammad.article(ticket, "/approve", by=boss)
    art.updated_by_id = eve.id
    assert again(dispatcher, first).status == "waiting"
    bodies = z_said(zammad, ticket)
    assert not any("approved by" in b for b in bodies), bodies
    assert any(f"changed after it was written by {eve.login} (zammad:{eve.id})" in b
               for b in bodies), bodies
