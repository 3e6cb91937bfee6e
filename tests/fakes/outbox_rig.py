"""Queue a ticket note the way a run does, and make queued notes due again, for outbox tests.

Used by the ticket-backend tests (test_tickets_*.py): a journal row
with `note=` puts the note in the outbox in the same transaction, exactly as the journal
hook does; `make_due` stands in for waiting out the backoff.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from adminkit.journal.store import Journal


def marker(run_id: str, index: int) -> str:
    return f"adminkit:{run_id}:{index};"


def queue_note(journal: Journal, *, system: str, ticket: str, run_id: str = "R1",
               index: int = 0, internal: bool = True, profile: str = "acme",
               body: str | None = None) -> str:
    """Journal one action with its note; returns the note's text (marker first)."""
    body = body or (f"{marker(run_id, index)} account.disable jdoe by tester (profile "
                    f"{profile}, run {run_id})\nchanged: disable jdoe\n    enabled: True -> False")
    journal.append(
        kind="action", run_id=run_id, idx=index, operator="tester", profile=profile,
        ticket=f"{system}:{ticket}", mode="apply", action="account.disable", target="jdoe",
        status="changed", summary="disable jdoe",
        note={"key": f"{run_id}:{index}", "system": system, "ticket": ticket,
              "internal": internal, "body": body})
    return body


def make_due(journal: Journal) -> None:
    journal.db.execute("UPDATE outbox SET next_attempt = '2000-01-01T00:00:00+00:00' "
                       "WHERE status = 'pending'")


def crash_while_leased(journal: Journal) -> None:
    """A flusher claimed the due notes and died before recording anything; its lease ran out."""
    journal.claim_due(datetime.now(UTC))
    journal.db.execute("UPDATE outbox SET lease_until = '2000-01-01T00:00:00+00:00' "
                       "WHERE lease_until IS NOT NULL")


def next_attempt(journal: Journal) -> datetime:
    [row] = journal.outbox()
    return datetime.fromisoformat(row["next_attempt"])


def open_journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "journal" / "journal.db")
