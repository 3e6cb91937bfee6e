"""Who is who on Redmine: user ids (`redmine:9`), never display names, which each user
edits in My account. The real Redmine backend against the protocol-level fake; the
approver, the four-eyes check and the rule's requesters all go by id."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from adminkit.automation.watch import Watcher
from adminkit.core.errors import ConfigError, ExitCode
from adminkit.tickets.redmine import Redmine
from tests.fakes import watchrig
from tests.fakes.watchrig import FlakyRedmine, T, open_watcher, unlock_profile

fake = watchrig.fake
REQUESTER = {"id": 9, "name": "Jana Nováková"}  # the fake's author of every issue


@pytest.fixture
def watch(fake: FlakyRedmine, env: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A watcher on an unlock rule that needs approval, for these approvers and
    requesters; its first poll has taken one issue (returned with the watcher)."""
    made: list[tuple[Watcher, Redmine]] = []

    def start(approvers: list[str], requesters: list[str],
              author: dict[str, Any] | None = None) -> tuple[Watcher, int, Any]:
        p = unlock_profile(fake, monkeypatch, approvers, requesters)
        fence = fake.add_issue("fence", at=T.format(0))
        asked = fake.add_issue("unlock please", at=T.format(1))
        fake.issues[asked]["custom_fields"][0]["value"] = "jdoe"
        fake.issues[asked]["author"] = author or REQUESTER
        made.append(open_watcher(env, p, str(fence)))
        w = made[-1][0]
        [first] = w.poll().outcomes
        return w, asked, first

    yield start
    for w, system in made:
        w.close()
        system.close()


def comment(fake: FlakyRedmine, issue: int, user: dict[str, Any], text: str,
            at: int = 5) -> None:
    fake.issues[issue]["journals"].append({
        "id": 900 + at, "user": user, "notes": text, "private_notes": False,
        "created_on": T.format(at), "details": []})
    fake.touch(issue, T.format(at))


def said(fake: FlakyRedmine, issue: int) -> list[str]:
    return [str(n["notes"]) for n in fake.notes_of(issue)]


def test_the_backend_gives_the_requesters_and_each_authors_user_id(
        fake: FlakyRedmine, monkeypatch: pytest.MonkeyPatch) -> None:
    issue = fake.add_issue("unlock please", at=T.format(1))
    comment(fake, issue, {"id": 7, "name": "Boss"}, "/approve")
    system = Redmine(watchrig.profile(fake, monkeypatch))
    try:
        ticket = system.get(str(issue))
        [note] = system.notes(str(issue))
    finally:
        system.close()
    assert (ticket.requester, ticket.requester_id) == ("Jana Nováková", "redmine:9")
    assert (note["author"], note["author_id"]) == ("Boss", "redmine:7")


def test_an_approver_is_known_by_id_whatever_name_they_show(
        fake: FlakyRedmine, watch: Any) -> None:
    w, asked, first = watch(["redmine:7"], ["*"])
    assert first.status == "waiting"
    comment(fake, asked, {"id": 7, "name": "Somebody Else"}, "/reject not now")
    outcomes = {o.key: o.status for o in w.poll().outcomes}
    assert outcomes[first.key] == "rejected", outcomes
    assert any("rejected by Somebody Else (redmine:7)" in n for n in said(fake, asked))


def test_an_approvers_display_name_in_the_profile_is_refused_at_load(
        fake: FlakyRedmine, watch: Any) -> None:
    """A display name in `approvers` could only ever match nobody: said at load, exit 2."""
    with pytest.raises(ConfigError) as err:
        watch(["Boss"], ["*"])
    assert err.value.exit_code == ExitCode.USAGE
    assert "automation.approvers: 'Boss' can never match: redmine names people by user " \
           "id (redmine:N)" in err.value.message
    assert "/users/9" in str(err.value.hint)


def test_four_eyes_by_id_the_requester_under_a_new_name_cannot_approve(
        fake: FlakyRedmine, watch: Any) -> None:
    w, asked, first = watch(["redmine:9"], ["*"])  # the requester is an approver too
    comment(fake, asked, {"id": 9, "name": "Another Name"}, "/approve")
    outcomes = {o.key: o.status for o in w.poll().outcomes}
    assert outcomes.get(first.key, "waiting") == "waiting", outcomes
    assert any("cannot approve it too (four eyes)" in n for n in said(fake, asked))


def test_rule_requesters_go_by_id_not_by_a_borrowed_name(
        fake: FlakyRedmine, watch: Any) -> None:
    borrowed = dict(REQUESTER, name="Redmine Admin")  # user 9 shows the admin's name
    _, asked, first = watch(["redmine:7"], ["redmine:1"], borrowed)
    assert first.status == "refused"
    assert any("Redmine Admin (redmine:9) may not ask for unlock" in n
               for n in said(fake, asked))


def test_rule_requesters_by_id_let_the_requester_ask(watch: Any) -> None:
    _, _, first = watch(["redmine:7"], ["redmine:9"])
    assert first.status == "waiting"
