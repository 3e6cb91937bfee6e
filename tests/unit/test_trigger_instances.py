"""A trigger's key names the ticket-system instance, not the profile: two customers'
Redmines (each a protocol-level fake on its own port) both have an issue 100, and each
event runs; two profiles on one instance share its events (the second hears a
duplicate). Through `watch` and `serve` (the Hub's `receive`, what POST /hooks calls),
read back from the journal's triggers and each fake's notes. Keys written before they
named the instance are adopted once: what was queued then is taken, not run twice."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from adminkit.automation.serve import Hub
from adminkit.automation.service import RunService
from adminkit.core.config import Profile
from adminkit.journal.store import Journal
from adminkit.journal.triggers import Triggers, event_key
from adminkit.tickets.instance import MAX_NAME, canonical_url, instance
from adminkit.tickets.redmine import Redmine
from tests.fakes.redmine import FakeRedmine
from tests.fakes.ticketfake import SECRET_ENV
from tests.fakes.watchrig import PLAYBOOKS, T, open_watcher

TOKEN = "hook-token-0123456789abcdef"
APPROVER = {"id": 7, "name": "Boss"}


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeRedmine, FakeRedmine]]:
    monkeypatch.setenv("HOOK_TOKEN", TOKEN)
    with FakeRedmine() as a, FakeRedmine() as b:
        monkeypatch.setenv(SECRET_ENV, a.secret)  # both fakes take the same key
        yield a, b


def profile(name: str, fake: FakeRedmine) -> Profile:
    """An unlock (login from the Location field) that waits for an approver: its
    waiting note on the issue tells that the event ran there."""
    return Profile.model_validate({
        "name": name,
        "tickets": {"kind": "redmine", "url": fake.url, "token": f"env:{SECRET_ENV}",
                    "queue": "helpdesk"},
        "automation": {
            "approvers": ["redmine:7"],
            "senders": [{"name": "form", "kind": "generic", "token": "env:HOOK_TOKEN"}],
            "rules": [{"name": "unlock", "playbook": "unlock-account",
                       "requires_approval": True, "match": {"subject": "^unlock"},
                       "fields": {"login": "Location"}, "requesters": ["*"]}]}})


def asking(fake: FakeRedmine) -> tuple[int, int]:
    """A fence and the issue after it that asks for an unlock."""
    fence = fake.add_issue("fence", at=T.format(0))
    asked = fake.add_issue("unlock please", at=T.format(1))
    fake.issues[asked]["custom_fields"][0]["value"] = "jdoe"
    return fence, asked


def waiting_notes(fake: FakeRedmine, issue: int) -> list[str]:
    return [str(n["notes"]) for n in fake.notes_of(issue) if "waits for approval" in n["notes"]]


def rows(env: Any) -> dict[str, tuple[str, str]]:
    db = sqlite3.connect(env.journal)
    found = {k: (p, s) for k, p, s in db.execute("SELECT key, profile, status FROM triggers")}
    db.close()
    return found


def earlier(env: Any, issue: int, source: str, cursor: str | None = None) -> None:
    """Profile acme's queued trigger for `issue`, keyed as before keys named the instance."""
    journal = Journal(env.journal)
    try:
        Triggers(journal).add(f"redmine:{issue}:created", source=source, profile="acme",
                              ticket=f"redmine:{issue}", cursor=cursor)
    finally:
        journal.close()


# -- the instance ---------------------------------------------------------------------
def test_an_instance_is_its_canonical_url_without_credentials_or_query() -> None:
    same = ["https://rt.example.com/rt", "HTTPS://RT.Example.COM:443/rt/",
            "https://svc:s3cret@rt.example.com/rt?token=abc#x"]
    assert {canonical_url(u) for u in same} == {"https://rt.example.com/rt"}
    assert canonical_url("https://rt.example.com:8443/rt") == "https://rt.example.com:8443/rt"
    assert canonical_url("http://[::1]:8080/") == "http://[::1]:8080"
    long = Profile.model_validate({"name": "acme", "tickets": {
        "kind": "rt", "url": "https://u:pw@rt.example.com/" + "x" * 500 + "?key=k"}})
    named = instance(long, "rt")
    assert len(named) == MAX_NAME and "pw" not in named and "key" not in named
    assert named != instance(Profile.model_validate({"name": "acme", "tickets": {
        "kind": "rt", "url": "https://rt.example.com/" + "x" * 499 + "y"}}), "rt")


def test_the_local_store_is_one_per_installation_whichever_profile(env: Any) -> None:
    one, other = (Profile.model_validate({"name": n, "tickets": {"kind": "local"}})
                  for n in ("acme", "globex"))
    assert instance(one, "local") == instance(other, "local") == \
        f"file:{env.state / 'adminkit' / 'tickets.db'}"


# -- watch -----------------------------------------------------------------------------
@pytest.fixture
def watchers(env: Any) -> Iterator[Callable[..., Any]]:
    made: list[tuple[Any, Redmine]] = []

    def start(p: Profile, after: str | None) -> Any:
        made.append(open_watcher(env, p, after))
        return made[-1][0]

    yield start
    for w, system in made:
        w.close()
        system.close()


def test_watch_two_instances_same_issue_number_both_run(
        fakes: tuple[FakeRedmine, FakeRedmine], watchers: Any, env: Any) -> None:
    a, b = fakes
    (fence, asked), (fence_b, asked_b) = asking(a), asking(b)
    assert (fence, asked) == (fence_b, asked_b)  # the same numbers in both
    first = watchers(profile("acme", a), str(fence)).poll()
    second = watchers(profile("globex", b), str(fence)).poll()
    assert [o.status for o in first.outcomes] == ["waiting"]
    assert [o.status for o in second.outcomes] == ["waiting"]
    assert len(waiting_notes(a, asked)) == len(waiting_notes(b, asked)) == 1
    assert {p: s for p, s in rows(env).values()} == {"acme": "waiting", "globex": "waiting"}


def test_watch_two_profiles_on_one_instance_run_the_event_once(
        fakes: tuple[FakeRedmine, FakeRedmine], watchers: Any, env: Any) -> None:
    a, _ = fakes
    fence, asked = asking(a)
    assert [o.status for o in watchers(profile("acme", a), str(fence)).poll().outcomes] == \
        ["waiting"]
    again = watchers(profile("initech", a), None).poll()  # the instance's cursor is read
    assert again.seen == [] and again.outcomes == []
    assert len(waiting_notes(a, asked)) == 1
    assert list(rows(env).values()) == [("acme", "waiting")]


def test_watch_adopts_a_cursor_and_trigger_written_before_keys_named_the_instance(
        fakes: tuple[FakeRedmine, FakeRedmine], watchers: Any, env: Any) -> None:
    a, _ = fakes
    fence, asked = asking(a)
    # what an earlier adminkit left: its cursor past `asked`, its trigger queued
    earlier(env, asked, "watch:redmine:helpdesk", cursor=json.dumps(
        {"floor": [T.format(0), fence], "at": [T.format(1), asked], "top": asked}))
    report = watchers(profile("acme", a), None).poll()  # no --after: the cursor is kept
    assert report.seen == []  # known by its adopted key, not taken again
    assert [o.status for o in report.outcomes] == ["waiting"]
    assert len(waiting_notes(a, asked)) == 1
    assert rows(env) == {f"redmine:{asked}:created@{a.url}": ("acme", "waiting")}


# -- serve -----------------------------------------------------------------------------
@pytest.fixture
def hubs(env: Any) -> Iterator[Callable[[Profile], Hub]]:
    started: list[Hub] = []

    def start(p: Profile) -> Hub:
        hub = Hub(RunService(journal_path=env.journal, config_dir=env.config), p,
                  lambda: Redmine(p), lambda n: PLAYBOOKS / f"{n}.yaml")
        hub.start(1)
        started.append(hub)
        return hub

    yield start
    for hub in started:
        hub.shutdown()


def post(hub: Hub, ticket: int) -> dict[str, Any]:
    status, answer = hub.receive("form", {"x-adminkit-token": TOKEN},
                                 f'{{"ticket": "redmine:{ticket}"}}'.encode())
    assert status == 202, answer
    return answer


def settled(env: Any, key: str) -> str:
    for _ in range(600):  # a wait for the worker, not a timing
        status = rows(env).get(key, ("", "queued"))[1]
        if status not in ("queued", "running"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"{key} still {rows(env).get(key)}")


def noted(fake: FakeRedmine, issue: int) -> list[str]:
    for _ in range(600):  # the worker delivers the outbox after each trigger
        if found := waiting_notes(fake, issue):
            return found
        time.sleep(0.05)
    return []


def test_serve_two_instances_same_ticket_number_both_run(
        fakes: tuple[FakeRedmine, FakeRedmine], hubs: Any, env: Any) -> None:
    a, b = fakes
    (_, asked), (_, asked_b) = asking(a), asking(b)
    assert asked == asked_b
    first, second = post(hubs(profile("acme", a)), asked), post(hubs(profile("globex", b)),
                                                                 asked)
    assert not first["duplicate"] and not second["duplicate"]
    assert first["trigger"] == f"redmine:{asked}:created@{a.url}"
    assert settled(env, first["trigger"]) == settled(env, second["trigger"]) == "waiting"
    assert len(noted(a, asked)) == len(noted(b, asked)) == 1


def test_serve_two_profiles_on_one_instance_run_the_event_once(
        fakes: tuple[FakeRedmine, FakeRedmine], hubs: Any, env: Any) -> None:
    a, _ = fakes
    _, asked = asking(a)
    first = post(hubs(profile("acme", a)), asked)
    second = post(hubs(profile("initech", a)), asked)
    assert (first["duplicate"], second["duplicate"]) == (False, True)
    assert settled(env, first["trigger"]) == "waiting"
    assert len(noted(a, asked)) == 1
    assert list(rows(env).values()) == [("acme", "waiting")]


def test_serve_adopts_a_trigger_queued_before_keys_named_the_instance(
        fakes: tuple[FakeRedmine, FakeRedmine], hubs: Any, env: Any) -> None:
    a, _ = fakes
    _, asked = asking(a)
    earlier(env, asked, "serve")
    hub = hubs(profile("acme", a))
    key = event_key(f"redmine:{asked}:created", a.url)
    assert post(hub, asked) == {"trigger": key, "duplicate": True}  # redelivered
    assert settled(env, key) == "waiting"  # taken at start, once
    assert len(noted(a, asked)) == 1
    assert list(rows(env)) == [key]
