"""Who approves on Jira Service Management and Zammad: user ids, never shown names.

A Jira user is `jira:ACCOUNTID` on Cloud (the e-mail may be hidden, the display name is
the user's own) and `jira:KEY` on Data Center (the username may be renamed); a Zammad
user is `zammad:ID`, the article's `created_by_id`, never its `from`, and an article that
came in by e-mail proves nobody (Zammad took its creator from the mail's From). The real
backends against the protocol-level fakes; the dispatcher is driven as `serve` drives it,
and what it decided is read back from the fake's comments and the journal.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from adminkit.automation.dispatch import Dispatcher, Outcome
from adminkit.automation.service import RunService
from adminkit.core.config import Profile
from adminkit.core.errors import ConfigError, ExitCode
from adminkit.journal.store import Journal
from adminkit.journal.triggers import Triggers
from adminkit.tickets.base import TicketSystem
from adminkit.tickets.jira import Jira
from adminkit.tickets.zammad import Zammad
from tests.fakes.jira import FakeJira, Person, person
from tests.fakes.ticketfake import SECRET_ENV
from tests.fakes.zammad import FakeZammad

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"
BOSS = person("boss", "Boss Person", email_visible=False)  # Cloud: e-mail hidden
ANNA = person("anna", "Anna Novak", customer=True)
Start = Callable[..., tuple[Dispatcher, str, Outcome]]


def profile(tickets: dict[str, Any], approvers: list[str],
            requesters: list[str] | None = None) -> Profile:
    return Profile.model_validate({"name": "acme", "tickets": tickets, "automation": {
        "approvers": approvers, "rules": [
            {"name": "unlock", "playbook": "unlock-account", "requires_approval": True,
             "match": {"subject": r"^unlock:\s*(?P<login>\S+)$"},
             "fields": {"login": "subject:login"}, "requesters": requesters or ["*"]}]}})


@pytest.fixture
def rig(env: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    """`start(fake, system_class, tickets, ticket_ref, approvers, requesters)`: a
    dispatcher for the profile, with the ticket's trigger handled once (it waits)."""
    opened: list[tuple[Journal, TicketSystem]] = []

    def start(system_of: Callable[[Profile], TicketSystem], tickets: dict[str, Any],
              ref: str, approvers: list[str],
              requesters: list[str] | None = None) -> tuple[Dispatcher, Outcome]:
        p = profile(tickets, approvers, requesters)
        journal, system = Journal(env.journal), system_of(p)
        opened.append((journal, system))
        dispatcher = Dispatcher(RunService(journal_path=env.journal, config_dir=env.config),
                                p, system, journal, lambda n: PLAYBOOKS / f"{n}.yaml",
                                source="hooks test")
        triggers = Triggers(journal)
        triggers.add(f"{ref}:created", source="test", profile="acme", ticket=ref)
        trigger = triggers.get(f"{ref}:created")
        assert trigger is not None
        return dispatcher, dispatcher.handle(trigger)

    monkeypatch.setenv(SECRET_ENV, "unused")
    yield start
    for journal, system in opened:
        journal.close()
        system.close()


def again(dispatcher: Dispatcher, first: Outcome) -> Outcome:
    trigger = dispatcher.triggers.get(first.key)
    assert trigger is not None
    outcome = dispatcher.handle(trigger)
    dispatcher.flush()
    return outcome


def ends(journal: Path) -> list[str]:
    db = sqlite3.connect(journal)
    try:
        return [str(r[0]) for r in db.execute("SELECT summary FROM entries WHERE kind = 'end' "
                                              "ORDER BY seq")]
    finally:
        db.close()


# -- Jira Service Management ----------------------------------------------------------
@pytest.fixture
def jira(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeJira]:
    with FakeJira(pat="jira-pat-1") as fake:
        monkeypatch.setenv(SECRET_ENV, fake.secret)
        monkeypatch.setenv("JIRA_PAT", "jira-pat-1")
        yield fake


def cloud(fake: FakeJira) -> dict[str, Any]:
    return {"kind": "jira", "url": fake.url, "user": fake.user, "password": f"env:{SECRET_ENV}"}


def data_center(fake: FakeJira) -> dict[str, Any]:
    return {"kind": "jira", "url": fake.url, "token": "env:JIRA_PAT"}


def said(fake: FakeJira, key: str) -> list[str]:
    return [c.body for c in fake.issues[key].comments]


def jira_start(rig: Any, fake: FakeJira, approvers: list[str], *,
               requesters: list[str] | None = None, reporter: Person = ANNA,
               dc: bool = False, key: str = "HD-1") -> tuple[Dispatcher, str, Outcome]:
    key = fake.issue(key, "unlock: jdoe", reporter=reporter).key
    dispatcher, first = rig(Jira, data_center(fake) if dc else cloud(fake), f"jira:{key}",
                            approvers, requesters)
    dispatcher.flush()
    return dispatcher, key, first


def test_jira_backend_names_people_by_account_id_and_key(jira: FakeJira) -> None:
    key = jira.issue("HD-1", "unlock: jdoe", reporter=ANNA).key
    jira.comment(key, "/approve", author=BOSS, public=True)
    for tickets, want in ((cloud(jira), (ANNA.account_id, BOSS.account_id)),
                          (data_center(jira), (ANNA.key, BOSS.key))):
        system = Jira(profile(tickets, []))
        try:
            ticket, [note] = system.get(key), system.notes(key)
        finally:
            system.close()
        assert ticket.requester_id == f"jira:{want[0]}"
        assert (note["author"], note["author_id"]) == ("Boss Person", f"jira:{want[1]}")


def test_jira_an_approvers_comment_is_honoured_and_named_by_id_and_name(
        rig: Any, jira: FakeJira, env: Any) -> None:
    dispatcher, key, first = jira_start(rig, jira, [f"jira:{BOSS.account_id}"])
    assert first.status == "waiting"
    assert any("waits for approval" in b for b in said(jira, key))
    jira.comment(key, "/approve", author=BOSS)
    outcome = again(dispatcher, first)
    assert outcome.status != "waiting", outcome
    who = f"approved by Boss Person (jira:{BOSS.account_id})"
    assert any(who in b for b in said(jira, key)), said(jira, key)
    assert any(who in row for row in ends(env.journal))


def test_jira_a_display_name_imitating_the_approver_is_not_one(
        rig: Any, jira: FakeJira) -> None:
    dispatcher, key, first = jira_start(rig, jira, [f"jira:{BOSS.account_id}"])
    impostor = person("mallory", "Boss Person")  # Cloud lets anyone pick this name
    jira.comment(key, "/approve", author=impostor, public=True)
    assert again(dispatcher, first).status == "waiting"
    assert any(f"Boss Person (jira:{impostor.account_id}) may not approve it (not an "
               "approver)" in b for b in said(jira, key)), said(jira, key)
    assert not any("approved by" in b for b in said(jira, key))


def test_jira_four_eyes_the_requester_cannot_approve_under_any_name(
        rig: Any, jira: FakeJira) -> None:
    dispatcher, key, first = jira_start(rig, jira, [f"jira:{ANNA.account_id}",
                                                    f"jira:{BOSS.account_id}"])
    renamed = dataclasses.replace(ANNA, display_name="Boss Person", email_visible=False)
    jira.comment(key, "/approve", author=renamed, public=True)
    assert again(dispatcher, first).status == "waiting"
    assert any("cannot approve it too (four eyes)" in b for b in said(jira, key))


def test_jira_four_eyes_holds_for_a_run_planned_before_people_were_ids(
        rig: Any, jira: FakeJira) -> None:
    """A run left waiting by an older adminkit has the requester's e-mail in its plan and
    no id: the ticket is read again for who asked, never taken as nobody."""
    dispatcher, key, first = jira_start(rig, jira, [f"jira:{ANNA.account_id}"])
    trigger = dispatcher.triggers.get(first.key)
    assert trigger is not None
    old = {k: v for k, v in trigger.detail["plan"].items() if k != "requester_id"}
    dispatcher.triggers.move(first.key, "waiting", detail={"plan": old})
    jira.comment(key, "/approve", author=ANNA, public=True)
    assert again(dispatcher, first).status == "waiting"
    assert any("cannot approve it too (four eyes)" in b for b in said(jira, key))


def test_jira_data_center_goes_by_the_user_key_not_the_renamable_username(
        rig: Any, jira: FakeJira) -> None:
    dispatcher, key, first = jira_start(rig, jira, [f"jira:{BOSS.key}"], dc=True)
    assert first.status == "waiting"
    renamed = dataclasses.replace(BOSS, name="boss.person")  # an administrator's rename
    jira.comment(key, "/reject not now", author=renamed)
    assert again(dispatcher, first).status == "rejected"
    assert any(f"rejected by Boss Person (jira:{BOSS.key})" in b for b in said(jira, key))


def test_jira_rule_requesters_go_by_account_id(rig: Any, jira: FakeJira) -> None:
    _, _, first = jira_start(rig, jira, [f"jira:{BOSS.account_id}"],
                             requesters=[f"jira:{ANNA.account_id}"])
    assert first.status == "waiting"
    lookalike = person("anna2", "Anna Novak")  # her name and (hidden) nothing else
    _, key, refused = jira_start(rig, jira, [f"jira:{BOSS.account_id}"],
                                 requesters=[f"jira:{ANNA.account_id}"], reporter=lookalike,
                                 key="HD-2")
    assert refused.status == "refused"
    assert any(f"(jira:{lookalike.account_id}) may not ask for unlock" in b
               for b in said(jira, key))


@pytest.mark.parametrize(("where", "value"), [("approvers", "boss@example.com"),
                                              ("approvers", "Boss Person"),
                                              ("requesters", "*@example.com"),
                                              ("approvers", "zammad:5")])
def test_jira_a_name_or_e_mail_that_can_never_match_is_refused_at_load(
        rig: Any, jira: FakeJira, where: str, value: str) -> None:
    people = {"approvers": [f"jira:{BOSS.account_id}"], "requesters": ["*"], where: [value]}
    with pytest.raises(ConfigError) as err:
        jira_start(rig, jira, people["approvers"], requesters=people["requesters"])
    assert err.value.exit_code == ExitCode.USAGE
    assert f"{value!r} can never match: jira names people by user id (jira:ACCOUNTID)" \
        in err.value.message
    assert "accountId" in str(err.value.hint)


# -- Zammad ---------------------------------------------------------------------------
@pytest.fixture
def zammad(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeZammad]:
    with FakeZammad() as fake:
        monkeypatch.setenv(SECRET_ENV, fake.secret)
        yield fake


def z_start(rig: Any, fake: FakeZammad, approvers: list[str]) -> tuple[Dispatcher, int, Outcome]:
    ticket = fake.ticket("unlock: jdoe").id
    dispatcher, first = rig(Zammad, {"kind": "zammad", "url": fake.url,
                                     "token": f"env:{SECRET_ENV}"},
                            f"zammad:{ticket}", approvers)
    dispatcher.flush()
    return dispatcher, ticket, first


def z_said(fake: FakeZammad, ticket: int) -> list[str]:
    return [a.body for a in fake.articles_of(ticket)]


def test_zammad_an_approvers_note_is_honoured_by_created_by_id(
        rig: Any, zammad: FakeZammad, env: Any) -> None:
    boss = zammad.person("boss@example.com", "Boss", "Person")
    dispatcher, ticket, first = z_start(rig, zammad, [f"zammad:{boss.id}"])
    assert first.status == "waiting"
    zammad.article(ticket, "/approve", by=boss)
    assert again(dispatcher, first).status != "waiting"
    who = f"approved by Boss Person (zammad:{boss.id})"
    assert any(who in b for b in z_said(zammad, ticket)), z_said(zammad, ticket)
    assert any(who in row for row in ends(env.journal))


def test_zammad_a_from_imitating_the_approver_is_not_one(
        rig: Any, zammad: FakeZammad) -> None:
    """An agent (not an approver) writes a note; Zammad shows it `from` whatever: the
    creator's id decides."""
    boss = zammad.person("boss@example.com", "Boss", "Person")
    other = zammad.person("eve@example.com", "Boss", "Person")  # the same shown name
    dispatcher, ticket, first = z_start(rig, zammad, [f"zammad:{boss.id}"])
    zammad.article(ticket, "/approve", by=other, sender_from="Boss Person")
    assert again(dispatcher, first).status == "waiting"
    assert any(f"Boss Person (zammad:{other.id}) may not approve it (not an approver)" in b
               for b in z_said(zammad, ticket)), z_said(zammad, ticket)


def test_zammad_an_e_mail_in_the_approvers_name_proves_nobody(
        rig: Any, zammad: FakeZammad) -> None:
    """A mail with `From: boss@example.com`: Zammad files it as the boss's article (its
    created_by_id is the user it matched by that address), but anyone can write that
    header."""
    boss = zammad.person("boss@example.com", "Boss", "Person")
    dispatcher, ticket, first = z_start(rig, zammad, [f"zammad:{boss.id}"])
    zammad.article(ticket, "/approve", by=boss, type="email", internal=False,
                   sender_from='"Boss Person" <boss@example.com>')
    assert again(dispatcher, first).status == "waiting"
    bodies = z_said(zammad, ticket)
    assert any("proves nobody: it came in as a email article" in b for b in bodies), bodies
    assert not any("approved by" in b for b in bodies)


def test_zammad_four_eyes_the_customer_cannot_approve(rig: Any, zammad: FakeZammad) -> None:
    dispatcher, ticket, first = z_start(rig, zammad, ["zammad:999999"])  # nobody here
    customer = zammad.tickets[ticket].customer_id
    dispatcher.cfg.approvers.append(f"zammad:{customer}")  # the requester is an approver
    zammad.article(ticket, "/approve", by=zammad.users[customer], type="web",
                   internal=False)
    assert again(dispatcher, first).status == "waiting"
    assert any("cannot approve it too (four eyes)" in b for b in z_said(zammad, ticket))


def test_zammad_an_e_mail_address_as_approver_is_refused_at_load(
        rig: Any, zammad: FakeZammad) -> None:
    with pytest.raises(ConfigError) as err:
        z_start(rig, zammad, ["boss@example.com"])
    assert "'boss@example.com' can never match: zammad names people by user id " \
           "(zammad:N)" in err.value.message
