"""Queue a ticket note the way a run does, and make queued notes due again, for outbox tests.

Used by the ticket contract suite and the backend tests: a journal row with `note=` puts
the note in the outbox in the same transaction, exactly as the journal hook does;
`make_due` stands in for waiting out the backoff; `crash_after_posting` leaves what a
flusher that died between posting a note and recording it leaves behind.
"""

from __future__ import annotations

from datetime import UTC, datetime

from adminkit.journal.store import Journal
from adminkit.tickets.base import TicketSystem


def marker(run_id: str, index: int) -> str:
    return f"adminkit:{run_id}:{index};"


RUN = "R-20251125-100000-abc123"
# A note as a run writes it, with what ticket systems like to rewrite: HTML, entities,
# LIKE and query wildcards (% _ ^), quotes, non-ASCII, indented diff lines.
NOTE = (f"{marker(RUN, 0)} account.disable jdoe by tester (profile acme, run {RUN})\n"
        "changed: disable jdoe\n"
        "    enabled: True -> False\n"
        "    description: '50% <b>off</b> & \"more\"' -> 'Jiří_Nováček ^ ünïcode'")


def queue_note(journal: Journal, *, system: str, ticket: str, internal: bool = True,
               profile: str = "acme", run_id: str = RUN) -> None:
    """Journal action 0 of run RUN (or `run_id`) with its note, NOTE (naming that run), as
    the journal hook does."""
    journal.append(
        kind="action", run_id=run_id, idx=0, operator="tester", profile=profile,
        ticket=f"{system}:{ticket}", mode="apply", action="account.disable", target="jdoe",
        status="changed", summary="disable jdoe",
        note={"key": f"{run_id}:0", "system": system, "ticket": ticket, "internal": internal,
              "body": NOTE.replace(RUN, run_id)})


def make_due(journal: Journal) -> None:
    journal.db.execute("UPDATE outbox SET next_attempt = '2000-01-01T00:00:00+00:00' "
                       "WHERE status = 'pending'")


def crash_after_posting(journal: Journal, system: TicketSystem) -> None:
    """A flusher claimed the due notes, posted each through `system`, and died before
    recording that it had; its lease ran out."""
    for note in journal.claim_due(datetime.now(UTC)):
        system.add_note(note["ticket"], note["body"], internal=bool(note["internal"]))
    journal.db.execute("UPDATE outbox SET lease_until = '2000-01-01T00:00:00+00:00' "
                       "WHERE lease_until IS NOT NULL")


def next_attempt(journal: Journal) -> datetime:
    [row] = journal.outbox()
    return datetime.fromisoformat(row["next_attempt"])
