"""Before a run acts for a ticket: does the ticket exist? One read, once per run.

A note for a ticket that does not exist can never be delivered, so a run for it would
act and then leave only a failed note: the reference is what to fix, and nothing is
done. A ticket system that cannot be reached says nothing either way; the run acts as
it always did, its notes wait in the outbox, and the report says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from adminkit.core.errors import ConnectionFailed
from adminkit.tickets.base import Ticket, TicketNotFound, TicketRef, TicketSystem


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


def check_ticket(ref: TicketRef, system: TicketSystem) -> TicketCheck:
    """Read the ticket once. Missing (or hidden from the account): `TicketNotFound`
    (exit 2) naming the ticket and the system, before anything is written."""
    try:
        return TicketCheck(system.get(ref.id))
    except TicketNotFound as exc:
        raise TicketNotFound(f"ticket {ref}: {exc.message}; nothing was done",
                             hint=exc.hint or "check the ticket number "
                                              "(`adminkit ticket show REF` reads it)") from None
    except ConnectionFailed as exc:  # unreachable, refused credentials, a bad answer
        return TicketCheck(None, exc)
