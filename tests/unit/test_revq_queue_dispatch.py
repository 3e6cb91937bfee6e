"""Triggered runs (`watch`, `serve`) for a ticket outside the profile's queues.

A hostile webhook, or a watch feed that sees more than the profile's queue, hands the
dispatcher a ticket of another team: nothing may run for it, and no note (a waiting, a
refusal, a "did not start") may land on it. Read back from the ticket's own notes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from adminkit.automation.dispatch import Dispatcher
from adminkit.automation.service import RunService
from adminkit.core.config import load_profile
from adminkit.journal.store import Journal
from adminkit.journal.triggers import Triggers
from adminkit.tickets.local import LocalTickets

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"


def dispatcher_for(env: Any, *, approval: bool) -> tuple[Dispatcher, LocalTickets, Journal]:
    (env.profiles / "acme.yaml").write_text(yaml.safe_dump({
        "name": "acme", "tickets": {"kind": "local", "queue": "helpdesk"},
        "automation": {"approvers": ["boss"],
                       "rules": [{"name": "unlock", "playbook": "unlock-account",
                                  "requires_approval": approval,
                                  "match": {"subject": r"^unlock:\s*(?P<login>\S+)$"},
                                  "fields": {"login": "subject:login"},
                                  "requesters": ["*"]}]}}))
    journal = Journal(env.journal)
    store = LocalTickets()
    dispatcher = Dispatcher(RunService(journal_path=env.journal, config_dir=env.config),
                            load_profile("acme", env.config), store, journal,
                            lambda name: PLAYBOOKS / f"{name}.yaml", source="test")
    return dispatcher, store, journal


@pytest.mark.parametrize("approval", [True, False])
def test_a_trigger_for_another_queue_runs_nothing_and_notes_nothing(env: Any,
                                                                   approval: bool) -> None:
    dispatcher, store, journal = dispatcher_for(env, approval=approval)
    try:
        foreign = store.new("Unlock: jdoe", requester="x@example.test", queue="payroll")
        triggers = Triggers(journal)
        triggers.add(f"local:{foreign}:created", source="test", profile="acme",
                     ticket=f"local:{foreign}")
        trigger = triggers.get(f"local:{foreign}:created")
        assert trigger is not None
        outcome = dispatcher.handle(trigger)
        dispatcher.flush()
        assert outcome.status == "ignored", outcome
        assert "payroll" in outcome.why
        assert [n["body"] for n in store.notes(foreign)] == []
        own = store.new("Unlock: jdoe", requester="x@example.test", queue="Helpdesk")
        triggers.add(f"local:{own}:created", source="test", profile="acme",
                     ticket=f"local:{own}")
        mine = triggers.get(f"local:{own}:created")
        assert mine is not None
        assert dispatcher.handle(mine).status != "ignored"  # its own queue still runs
    finally:
        journal.close()
        store.close()
