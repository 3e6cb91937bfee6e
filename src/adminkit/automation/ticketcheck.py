"""Before a run acts for a ticket: does the ticket exist? One read, once per run.

A note for a ticket that does not exist can never be delivered, so a run for it would
act and then leave only a failed note: the reference is what to fix, and nothing is
done. A ticket system that cannot be reached says nothing either way; the run acts as
it always did, its notes wait in the outbox, and the report says so.

A ticket number one digit off most often names a ticket that exists, in another team's
or another customer's queue: a profile that names its queues refuses a ticket outside
them, so no run acts for it and no internal note lands on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from adminkit.core.errors import ConnectionFailed, UsageError
from adminkit.tickets.base import Ticket, TicketNotFound, TicketRef, TicketSystem, outside


@dataclass(frozen=True)
class TicketCheck:
    ticket: Ticket | None  # read; None when the system could not be asked
    trouble: ConnectionFailed | None = None  # why it could not be asked

    @property
    def notice(self) -> str | None:
        if self.trouble is None:
            return None
        return (f"ticket: could not check that the ticket exists ({self.trouble.message}); "
                "acting anyway, its notes wait in the outbox for `adminkit ticket flush`")


def check_ticket(ref: TicketRef, system: TicketSystem,
                 queues: Sequence[str] = ()) -> TicketCheck:
    """Read the ticket once. Missing (or hidden from the account): `TicketNotFound`
    (exit 2) naming the ticket and the system, before anything is written; outside the
    profile's `queues` (when it names any): a usage error (exit 2) too."""
    try:
        ticket = system.get(ref.id)
    except TicketNotFound as exc:
        raise TicketNotFound(f"ticket {ref}: {exc.message}; nothing was done",
                             hint=exc.hint or "check the ticket number "
                                              "(`adminkit ticket show REF` reads it)") from None
    except ConnectionFailed as exc:  # unreachable, refused credentials, a bad answer
        return TicketCheck(None, exc)
    why = outside(ref, ticket, queues)
    if why is not None:
        raise OutsideQueues(f"{why}; nothing was done",
                            hint="check the ticket number, or add the queue to the profile's "
                                 "tickets.queues")
    return TicketCheck(ticket)


class OutsideQueues(UsageError):
    """A ticket of another queue: refused, and never noted on (it is not ours to write on)."""
