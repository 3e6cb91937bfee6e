"""A backlog of notes for a ticket system that says "not now" (429 with Retry-After, 503,
or no answer): one flush asks it once, not once per note."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from adminkit.journal.store import Journal
from adminkit.tickets.outbox import FlushReport, flush
from adminkit.tickets.settings import ticket_settings
from adminkit.tickets.systems import limits, opener
from tests.fakes.jira import FakeJira
from tests.fakes.outbox_rig import make_due, queue_note
from tests.fakes.ticketfake import profile_for

NOTES = 5


@pytest.fixture
def backlog(env: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeJira, Journal]]:
    with FakeJira(pat="jira-pat-7") as fake:
        fake.issue("HD-12", "Please block jdoe")
        tickets = ticket_settings(profile_for(fake, monkeypatch))
        assert tickets is not None
        (env.profiles / "acme.yaml").write_text(yaml.safe_dump(
            {"tickets": tickets.model_dump(mode="json", exclude_defaults=True)}))
        journal = Journal(env.journal)
        for n in range(NOTES):
            queue_note(journal, system="jira", ticket="HD-12",
                       run_id=f"R-20251125-100000-{n:06x}")
        yield fake, journal
        journal.close()


def comment_posts(fake: FakeJira) -> int:
    return len(fake.seen("POST", "/rest/servicedeskapi/request/HD-12/comment"))


@pytest.mark.parametrize("status", [429, 503])
def test_a_system_that_asks_to_wait_is_asked_once_per_flush(
        backlog: tuple[FakeJira, Journal], status: int) -> None:
    fake, journal = backlog
    fake.fail(status, times=100, retry_after=120, method="POST")
    before = datetime.now(UTC)
    report = flush(journal, opener(), limits=limits())
    assert comment_posts(fake) == 1  # the other four were not sent to a system that said wait
    assert (report.retrying, report.not_reached, report.delivered) == (1, NOTES - 1, 0)
    rows = journal.outbox()
    assert [r["status"] for r in rows] == ["pending"] * NOTES
    assert sorted(r["attempts"] for r in rows) == [0] * (NOTES - 1) + [1]  # no attempt spent
    assert all(datetime.fromisoformat(r["next_attempt"]) >= before + timedelta(seconds=120)
               for r in rows)  # Retry-After holds for every one of them
    assert all(f"HTTP {status}" in r["last_error"] for r in rows)

    fake.server._failures.clear()  # the system is back
    make_due(journal)
    assert flush(journal, opener(), limits=limits()) == FlushReport(delivered=NOTES)
    assert len(fake.notes("HD-12")) == NOTES  # each once


def test_one_tickets_server_error_does_not_hold_the_others(
        backlog: tuple[FakeJira, Journal]) -> None:
    """A 500 may be one ticket's trouble: the other notes are still tried."""
    fake, journal = backlog
    fake.fail(500, times=1, method="POST")
    report = flush(journal, opener(), limits=limits())
    assert (report.retrying, report.delivered) == (1, NOTES - 1)
    assert comment_posts(fake) == NOTES
