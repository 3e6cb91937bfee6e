"""The queue policy when the queue's own name cannot be read (Redmine's project lookup,
like RT's queue lookup, is a second request after the ticket's).

The ticket is read; only its queue's name fails (500, a dropped answer). Acting then
would let a ticket of another team through the profile's queues whenever that one request
fails: it is judged by what the ticket itself says (the project's id and name), as when
the account may not see the project (403), so a foreign ticket is still refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from adminkit.automation.request import RunRequest
from adminkit.automation.service import RunService
from adminkit.core.config import load_profile
from adminkit.core.errors import ExitCode, UsageError
from adminkit.tickets.base import TicketRef
from tests.fakes.redmine import FakeRedmine
from tests.fakes.ticketfake import SECRET_ENV
from tests.unit.toys import toy


@pytest.fixture
def redmine(env: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRedmine]:
    fake = FakeRedmine()
    fake.start()
    monkeypatch.setenv(SECRET_ENV, fake.secret)
    settings = fake.tickets_config(f"env:{SECRET_ENV}").model_dump(mode="json",
                                                                   exclude_defaults=True)
    (env.profiles / "acme.yaml").write_text(yaml.safe_dump(
        {"name": "acme", "tickets": {**settings, "queues": ["payroll"]}}))
    try:
        yield fake
    finally:
        fake.stop()


def run(env: Any, ticket: str, calls: list[tuple[str, str]]) -> Any:
    return RunService(journal_path=env.journal).run(RunRequest(
        command="toy", profile=load_profile("acme"), ticket=str(TicketRef("redmine", ticket)),
        actions=[toy("a", calls)]))


@pytest.mark.parametrize("trouble", ["500", "lost"])
def test_a_failed_project_lookup_does_not_let_a_foreign_ticket_through(
        redmine: FakeRedmine, env: Any, trouble: str) -> None:
    ticket = redmine.create_ticket()  # project Helpdesk (id 1): not the profile's payroll
    if trouble == "500":
        redmine.fail(500, times=5, method="GET", path="/projects/")
    else:
        redmine.lose_answer(times=5, method="GET", path="/projects/")
    calls: list[tuple[str, str]] = []
    with pytest.raises(UsageError) as err:
        run(env, ticket, calls)
    assert err.value.exit_code == ExitCode.USAGE
    assert "this profile acts only for tickets in payroll" in err.value.message
    assert calls == []
    assert redmine.notes(ticket) == []


def test_a_run_that_could_not_check_its_ticket_acts_but_never_notes_a_foreign_one(
        redmine: FakeRedmine, env: Any) -> None:
    """The ticket system is down when the run starts: the run acts (a ticket system never
    stops the work), but the queue is checked again before its note is posted, and a
    ticket outside the profile's queues gets nothing: the note fails for good, saying why."""
    from adminkit.journal.store import Journal
    from adminkit.tickets.outbox import flush
    from adminkit.tickets.systems import limits, opener

    ticket = redmine.create_ticket()  # project Helpdesk: not the profile's payroll
    redmine.fail(503, times=2, method="GET", path=f"/issues/{ticket}.json")
    calls: list[tuple[str, str]] = []
    report = run(env, ticket, calls)
    assert [phase for _, phase in calls].count("apply") == 1
    assert any("could not check that the ticket exists" in n for n in report.notices)
    journal = Journal(env.journal)
    try:
        flush(journal, opener(), limits=limits(), backoff=False)
        [row] = journal.outbox()
    finally:
        journal.close()
    assert row["status"] == "failed", row
    assert f"ticket redmine:{ticket} is in queue Helpdesk (helpdesk, id:1); this profile " \
        "acts only for tickets in payroll: the note was not posted" in row["last_error"]
    assert redmine.notes(ticket) == []


def test_a_project_renamed_to_another_projects_identifier_does_not_pass(
        redmine: FakeRedmine, env: Any) -> None:
    """Redmine project names are editable by the project's manager and not unique: project
    helpdesk (id 1) renamed "payroll" is still not the profile's project payroll, which a
    bare value names by identifier."""
    ticket = redmine.create_ticket()
    redmine.issues[int(ticket)]["project"]["name"] = "payroll"
    calls: list[tuple[str, str]] = []
    with pytest.raises(UsageError) as err:
        run(env, ticket, calls)
    assert err.value.message == (f"ticket redmine:{ticket} is in queue payroll (helpdesk, "
                                 "id:1); this profile acts only for tickets in payroll; "
                                 "nothing was done")
    assert calls == []


def test_names_and_ids_are_matched_apart() -> None:
    from adminkit.tickets.base import Ticket

    # project 7, identifier "payroll", renamed by its manager to "helpdesk"
    renamed = Ticket(ref=TicketRef("redmine", "5"), subject="", status="", queue="helpdesk",
                     queue_id="7", queue_names=("payroll",))
    assert not renamed.in_queue(["helpdesk"])  # the profile names identifier helpdesk
    assert renamed.in_queue(["payroll"]) and renamed.in_queue(["ID:7"])
    # an RT queue named "3" (its id 5), and the profile's queue id 3
    named_3 = Ticket(ref=TicketRef("rt", "9"), subject="", status="", queue="3",
                     queue_id="5")
    assert not named_3.in_queue(["id:3"]) and named_3.in_queue(["name:3"])
    assert named_3.in_queue(["id:5"])


@pytest.mark.parametrize("value", ["3", "0123", "a" * 32])
def test_a_bare_value_that_reads_as_an_id_is_refused_at_load(env: Any, value: str) -> None:
    from adminkit.core.errors import ConfigError

    (env.profiles / "acme.yaml").write_text(yaml.safe_dump(
        {"name": "acme", "tickets": {"kind": "rt", "url": "https://rt.example.test",
                                     "token": "env:X", "queues": ["General", value]}}))
    with pytest.raises(ConfigError) as err:
        load_profile("acme")
    assert err.value.exit_code == ExitCode.USAGE
    assert f"{value!r} is ambiguous: write id:{value} for the queue whose id it is, or " \
           f"name:{value} for a queue named so" in err.value.message
