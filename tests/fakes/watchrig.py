"""`adminkit watch` over the Redmine fake, for the tests that share it: a fake Redmine
that can fail mid-poll, the profile watching it, and watchers closed after the test
(import the fixtures `fake` and `make` into a test module; `make` needs `env`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adminkit.automation.service import RunService
from adminkit.automation.watch import Watcher
from adminkit.core.config import Profile
from adminkit.tickets.redmine import Redmine
from tests.fakes.httpserver import Reply, Request, proxy_reply
from tests.fakes.redmine import FakeRedmine
from tests.fakes.ticketfake import SECRET_ENV

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"
# The fake's issue and note times, by the second: a minute a day ahead of the test run,
# so that every one is after any run a test starts (a fixed date turned into the past).
T = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:") + "{:02d}Z"


class FlakyRedmine(FakeRedmine):
    """Answers the Nth search from now with a proxy's 502 (Redmine down mid-poll)."""

    fail_search_at: int | None = None
    searches = 0

    def _search(self, req: Request) -> Reply:
        self.searches += 1
        if self.fail_search_at is not None and self.searches == self.fail_search_at:
            return proxy_reply(502)
        return super()._search(req)


@pytest.fixture
def fake() -> Iterator[FlakyRedmine]:
    with FlakyRedmine() as redmine:
        yield redmine


def profile(fake: FakeRedmine, monkeypatch: pytest.MonkeyPatch, **watch: Any) -> Profile:
    monkeypatch.setenv(SECRET_ENV, fake.secret)
    return Profile.model_validate({
        "name": "acme",
        "tickets": {"kind": "redmine", "url": fake.url, "token": f"env:{SECRET_ENV}",
                    "queue": "helpdesk"},
        "automation": {"watch": {"overlap": 10, **watch}, "rules": [
            {"name": "never", "playbook": "onboard-user", "match": {"subject": "^never$"},
             "requesters": ["*"]}]}})


def unlock_profile(fake: FakeRedmine, monkeypatch: pytest.MonkeyPatch,
                   approvers: list[str], requesters: list[str]) -> Profile:
    """The fake watched with one rule: an unlock (login from the Location field) that
    needs one of these approvers, asked by one of these requesters."""
    monkeypatch.setenv(SECRET_ENV, fake.secret)
    return Profile.model_validate({
        "name": "acme",
        "tickets": {"kind": "redmine", "url": fake.url, "token": f"env:{SECRET_ENV}",
                    "queue": "helpdesk"},
        "automation": {"approvers": approvers, "rules": [
            {"name": "unlock", "playbook": "unlock-account", "requires_approval": True,
             "match": {"type": "Support", "subject": "^unlock"},
             "fields": {"login": "Location"}, "requesters": requesters}]}})


def open_watcher(env: Any, p: Profile, after: str | None) -> tuple[Watcher, Redmine]:
    """A watcher for profile `p` on the shipped playbooks, and its Redmine backend (both
    for the caller to close)."""
    system = Redmine(p)
    try:
        return Watcher(RunService(journal_path=env.journal, config_dir=env.config), p, system,
                       lambda n: PLAYBOOKS / f"{n}.yaml", after=after), system
    except BaseException:  # a profile refused at load: nothing to watch
        system.close()
        raise


@pytest.fixture
def make(env: Any, fake: FakeRedmine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    made: list[tuple[Watcher, Redmine]] = []

    def watcher(after: str | None = None, **watch: Any) -> Watcher:
        made.append(open_watcher(env, profile(fake, monkeypatch, **watch), after))
        return made[-1][0]

    yield watcher
    for w, system in made:
        w.close()
        system.close()
