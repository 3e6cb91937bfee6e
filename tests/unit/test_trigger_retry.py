"""`serve` tries a trigger that could not reach its ticket system again with backoff
(automation.retry), from the row, not from memory: the Redmine fake is stopped and
started again on its address while time is injected (the clock `serve` asks and the one
the trigger rows are stamped with), the workers' looks driven by hand every 5 s of it.

Before, each look (~5 s apart) tried again: a resume failed for good at its third try
(~10 s), a queued start was tried at every look for as long as the system was away."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adminkit.automation.dispatch import Dispatcher
from adminkit.automation.serve import Hub
from adminkit.automation.service import RunService
from adminkit.core.action import Plan
from adminkit.core.config import Profile, load_profile
from adminkit.core.context import Context
from adminkit.core.errors import ValidationError
from adminkit.journal import triggers as triggers_module
from adminkit.journal.store import Journal
from adminkit.tickets.redmine import Redmine
from tests.fakes.redmine import FakeRedmine
from tests.fakes.ticketfake import SECRET_ENV
from tests.unit import test_playbook_render as render_toys

TOKEN = "hook-token-0123456789abcdef"
BROKEN = {"on": False}  # toy.make fails while set (the run left half done)


class Make(render_toys.Make):
    def plan(self, ctx: Context) -> Plan:
        if BROKEN["on"]:
            raise ValidationError("cannot be made now")
        return super().plan(ctx)


class Clock:
    """The injected time: what `serve` asks, and what trigger rows are stamped with."""

    def __init__(self) -> None:
        self.start = self.now = datetime.now(UTC)

    def at(self, seconds: float) -> None:
        self.now = self.start + timedelta(seconds=seconds)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def rig(env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from adminkit.core import domains

    monkeypatch.setitem(domains.actions(), "toy.make", Make)
    render_toys.LOG.clear()
    BROKEN["on"] = False
    book = tmp_path / "toy.yaml"
    book.write_text(textwrap.dedent("""\
        name: toy
        steps:
          - uses: toy.make
            with: {key: a}
        """))
    clock = Clock()
    monkeypatch.setattr(triggers_module, "_now",
                        lambda: clock().isoformat(timespec="microseconds"))
    monkeypatch.setenv("HOOK_TOKEN", TOKEN)
    with FakeRedmine() as fake:
        monkeypatch.setenv(SECRET_ENV, fake.secret)
        (env.profiles / "acme.yaml").write_text(json.dumps({  # a resume loads it by name
            "tickets": {"kind": "redmine", "url": fake.url, "token": f"env:{SECRET_ENV}",
                        "queue": "helpdesk"},
            "automation": {
                "senders": [{"name": "form", "kind": "generic", "token": "env:HOOK_TOKEN"}],
                "rules": [{"name": "toy", "playbook": "toy", "match": {"subject": "^toy"},
                           "requesters": ["*"]}]}}))
        profile = load_profile("acme", env.config)
        yield Rig(env, fake, profile, book, clock)


class Rig:
    def __init__(self, env: Any, fake: FakeRedmine, profile: Profile, book: Path,
                 clock: Clock) -> None:
        self.env, self.fake, self.profile, self.book, self.clock = env, fake, profile, book, clock
        self.hub = self.serve()
        self.journal = Journal(env.journal)
        self.system = Redmine(profile)
        self.dispatcher = Dispatcher(self.hub.service, profile, self.system, self.journal,
                                     lambda n: book, source="webhook")
        self.handled: list[float] = []  # when (s) a worker took the trigger

    def serve(self) -> Hub:
        """A serve process (its workers driven by `look`), on the injected clock."""
        hub = Hub(RunService(journal_path=self.env.journal, config_dir=self.env.config),
                  self.profile, lambda: Redmine(self.profile), lambda n: self.book)
        hub.clock = self.clock
        hub.start(0)
        return hub

    def look(self, at: float) -> None:
        """At `at` s: the workers' look, and each trigger it queued handled."""
        self.clock.at(at)
        self.hub._waiting()
        self.work()

    def work(self) -> None:
        while not self.hub.work.empty():
            key = self.hub.work.get_nowait()
            assert key is not None
            self.handled.append((self.clock.now - self.clock.start).total_seconds())
            self.hub._handle(self.dispatcher, key)
            with self.hub.lock:
                self.hub.in_flight.discard(key)

    def trigger(self) -> Any:
        [trigger] = self.dispatcher.triggers.all()
        return trigger

    def close(self) -> None:
        self.hub.shutdown()
        self.system.close()
        self.journal.close()


def post(hub: Hub, ticket: int) -> str:
    status, answer = hub.receive("form", {"x-adminkit-token": TOKEN},
                                 json.dumps({"ticket": f"redmine:{ticket}"}).encode())
    assert status == 202 and not answer["duplicate"], answer
    return str(answer["trigger"])


def down_for_150_s_then_back(rig: Rig) -> None:
    """Looks every 5 s while the fake is stopped, a serve restart at 40 s, the fake
    started again on its address at 150 s, and looks until the trigger is taken."""
    rig.fake.stop()
    for at in range(0, 40, 5):
        rig.look(at)
    assert rig.handled == [0, 5, 35], rig.trigger()  # after 5 s, then 30 s; nothing between
    trigger = rig.trigger()
    assert (trigger.status in ("queued", "running"), trigger.attempts) == (True, 3)
    rig.hub.shutdown()
    rig.hub = rig.serve()  # a restart: the next try is read from the row (35 s + 120 s)
    rig.clock.at(40)
    assert rig.hub.work.empty()
    for at in range(40, 155, 5):
        rig.look(at)
    assert rig.handled == [0, 5, 35]
    assert rig.trigger().status in ("queued", "running")  # not failed for good
    rig.fake.start()  # the ticket system is back, where it was
    rig.look(155)
    assert rig.handled == [0, 5, 35, 155]


def test_a_resume_that_cannot_reach_the_ticket_system_backs_off_and_survives(
        rig: Rig) -> None:
    try:
        ticket = rig.fake.add_issue("toy please")
        BROKEN["on"] = True
        key = post(rig.hub, ticket)
        rig.work()  # the run starts and fails half done
        assert rig.trigger().status == "failed"
        rig.dispatcher.triggers.move(key, "running")  # as a process killed mid-run left it
        BROKEN["on"] = False
        rig.handled.clear()
        down_for_150_s_then_back(rig)
        trigger = rig.trigger()
        assert trigger.status == "done" and trigger.detail.get("resumed") is True
        assert render_toys.LOG == [("make", "a", "")]  # made once, by the resume
    finally:
        rig.close()


def test_a_queued_trigger_that_cannot_reach_the_ticket_system_backs_off(rig: Rig) -> None:
    try:
        ticket = rig.fake.add_issue("toy please")
        post(rig.hub, ticket)
        rig.hub.work.get_nowait()  # delivered while the system was away: taken at a look
        rig.hub.in_flight.clear()
        down_for_150_s_then_back(rig)
        assert rig.trigger().status == "done"
        assert render_toys.LOG == [("make", "a", "")]
    finally:
        rig.close()


def test_retry_settings_are_checked() -> None:
    from pydantic import ValidationError as Invalid

    from adminkit.automation.settings import RetryConfig

    assert RetryConfig().delays == [5.0, 30.0, 120.0, 600.0]
    with pytest.raises(Invalid, match="at most 86400"):
        RetryConfig(delays=[5, 0])
    with pytest.raises(Invalid):
        RetryConfig(delays=[])
