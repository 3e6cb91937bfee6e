"""Hostile review of a schedule's `ticket: new`: a run that cannot start must not open
a ticket first (a timer firing every few minutes opened an empty ticket each time)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adminkit.automation import schedule as schedules
from adminkit.automation.service import RunService
from adminkit.automation.settings import Schedule
from adminkit.core.errors import AdminkitError
from tests.fakes import watchrig
from tests.fakes.redmine import FakeRedmine
from tests.unit.test_schedule_new_ticket import profile

fake = watchrig.fake  # the fixture: a fake Redmine on a port of its own
PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"


@pytest.mark.parametrize(("playbook", "inputs"), [
    ("no-such-playbook", {}),  # renamed or deleted since the schedule was written
    ("onboard-user", {}),  # its required inputs missing
    ("onboard-user", {"username": "x; $(id)", "nonsense": "1"}),  # bad and unknown inputs
    ("patch-hosts", {"hosts": "h1"}),  # requires an approval no schedule can have
])
def test_a_run_that_cannot_start_opens_no_ticket(
        fake: FakeRedmine, env: Any, monkeypatch: pytest.MonkeyPatch, playbook: str,
        inputs: dict[str, str]) -> None:
    p = profile(fake, monkeypatch, queue="helpdesk")
    nightly = Schedule.model_validate({"name": "nightly", "calendar": "daily",
                                       "playbook": playbook, "inputs": inputs,
                                       "ticket": "new"})
    service = RunService(journal_path=env.journal, config_dir=env.config)
    with pytest.raises(AdminkitError):
        schedules.run(service, p, nightly, lambda n: PLAYBOOKS / f"{n}.yaml")
    assert fake.seen("POST", "/issues.json") == [], "an empty ticket was opened"
