"""Hostile review of `watch` on Redmine (the real backend against the protocol-level
fake): a new ticket behind a bulk edit of known issues (fixed: known ones no longer count
against max_per_poll); a requester renamed to an approver's display name (fixed:
identities are Redmine user ids); Redmine's clock stepping back past the overlap (fixed:
the cursor keeps the highest issue id read and asks for the ones above it)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes import watchrig
from tests.fakes.watchrig import FlakyRedmine, T, open_watcher, unlock_profile

fake = watchrig.fake
make = watchrig.make


def test_redmines_clock_stepping_back_loses_no_new_issue(fake: FlakyRedmine,
                                                        make: Any) -> None:
    fence = fake.add_issue("fence", at=T.format(0))
    first = fake.add_issue("first", at=T.format(40))
    w = make(after=str(fence))  # overlap 10 s
    assert w.poll().seen == [str(first)]
    # NTP steps Redmine's clock back 30 s: the next issue is stamped 08:00:10
    stepped = fake.add_issue("created after the step", at=T.format(10))
    later = fake.add_issue("later", at=T.format(45))
    seen = w.poll().seen + w.poll().seen
    assert str(later) in seen
    assert str(stepped) in seen


def test_a_bulk_edit_of_known_issues_does_not_delay_a_new_ticket(
        fake: FlakyRedmine, make: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    fence = fake.add_issue("fence", at=T.format(0))
    old = [fake.add_issue(f"old {n}", at=T.format(1)) for n in range(30)]
    w = make(after=str(fence), max_per_poll=5)
    while w.poll().seen:
        pass
    for issue in old:  # someone closes them all at once
        fake.touch(issue, T.format(50))
    new = fake.add_issue("new ticket", at=T.format(51))
    assert str(new) in w.poll().seen + w.poll().seen


def test_the_requester_renamed_to_an_approvers_name_cannot_approve(
        fake: FlakyRedmine, env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Redmine lets a user change their own first and last name (My account) and never
    makes display names unique. The requester (user 9) files a request that needs
    approval, renames herself to the approver's display name and comments /approve."""

    p = unlock_profile(fake, monkeypatch, ["redmine:7"], ["*"])
    fence = fake.add_issue("fence", at=T.format(0))
    asked = fake.add_issue("unlock please", at=T.format(1))
    fake.issues[asked]["custom_fields"][0]["value"] = "jdoe"
    w, system = open_watcher(env, p, str(fence))
    try:
        [first] = w.poll().outcomes
        assert first.status == "waiting"
        renamed = {"id": 9, "name": "Boss"}  # the author's own account, renamed
        fake.issues[asked]["author"] = renamed  # Redmine shows every name as it is now
        fake.issues[asked]["journals"].append({
            "id": 990, "user": renamed, "notes": "/approve", "private_notes": False,
            "created_on": T.format(5), "details": []})
        fake.touch(asked, T.format(5))
        outcomes = {o.key: o.status for o in w.poll().outcomes}
    finally:
        w.close()
        system.close()
    said = [str(n["notes"]) for n in fake.notes_of(asked)]
    assert not any("approved by Boss" in n for n in said), said
    assert outcomes.get(first.key, "waiting") == "waiting", outcomes
