"""The `TicketSystem` protocol, ticket references, and the errors deliveries act on."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from adminkit.core.errors import ConnectionFailed, UsageError

# A reference's id part, per system; a bad one is a usage error before anything runs.
ID_PATTERNS = {
    "rt": r"[1-9][0-9]{0,9}",
    "jira": r"[A-Z][A-Z0-9_]{0,19}-[1-9][0-9]{0,9}",
    "snow": r"[A-Z]{2,6}[0-9]{7,10}",
    "zammad": r"[1-9][0-9]{0,9}",
    "glpi": r"[1-9][0-9]{0,9}",
    "redmine": r"[1-9][0-9]{0,9}",
    "local": r"[1-9][0-9]{0,9}",
}
KIND_OF_PREFIX = {"rt": "rt", "jira": "jira", "snow": "servicenow", "servicenow": "servicenow",
                  "zammad": "zammad", "glpi": "glpi", "redmine": "redmine", "local": "local"}
PREFIX_OF_KIND = {"rt": "rt", "jira": "jira", "servicenow": "snow", "zammad": "zammad",
                  "glpi": "glpi", "redmine": "redmine", "local": "local"}


@dataclass(frozen=True)
class TicketRef:
    kind: str  # the profile's tickets.kind: rt, jira, servicenow, …, local
    id: str

    def __str__(self) -> str:
        return f"{PREFIX_OF_KIND[self.kind]}:{self.id}"


def parse_ref(text: str, default_kind: str | None, what: str = "--ticket") -> TicketRef:
    """`1234` (the profile's system), or `rt:1234`, `jira:HD-12`, `snow:INC0012345`, …
    `what` names where the reference was given, for the error."""
    prefix, sep, rest = text.partition(":")
    if sep:
        kind = KIND_OF_PREFIX.get(prefix.lower())
        if kind is None:
            raise UsageError(f"{what} {text!r}: unknown ticket system {prefix!r}",
                             hint="use rt:, jira:, snow:, zammad:, glpi:, redmine: or local:")
        ident = rest
    else:
        kind, ident = default_kind or "local", text
    pattern = ID_PATTERNS[PREFIX_OF_KIND[kind]]
    if not re.fullmatch(pattern, ident):
        raise UsageError(f"{what} {text!r}: not a {kind} ticket id",
                         hint={"jira": "like HD-12", "servicenow": "like INC0012345"}.get(
                             kind, "a ticket number like 1234"))
    return TicketRef(kind, ident)


@dataclass(frozen=True)
class Ticket:
    ref: TicketRef
    subject: str
    status: str
    queue: str | None = None
    requester: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    # the requester's stable user id where the system's names are the user's to edit
    # (Redmine: `redmine:9`); who asked is checked by it, the name is only shown
    requester_id: str | None = None
    # Other names of the same queue (an id, a key, an identifier): a profile or a rule may
    # name a queue by any of them.
    queue_aliases: tuple[str, ...] = ()

    def in_queue(self, names: Iterable[str]) -> bool:
        """Whether the ticket's queue is one of `names` (by any of its names, any case)."""
        own = {str(n).strip().casefold() for n in (self.queue, *self.queue_aliases)
               if n not in (None, "")}
        return any(str(n).strip().casefold() in own for n in names)


def aliases(*values: object) -> tuple[str, ...]:
    """A ticket's `queue_aliases` from whatever the system answered: the present ones."""
    return tuple(str(v) for v in values if v not in (None, "") and not isinstance(v, dict))


class FoundNote(str):
    """A note's id as `find_note` returns it, from a system that says whether the note is
    internal: a redelivery that finds an earlier copy published records it so."""

    internal: bool | None = None

    def __new__(cls, value: str, *, internal: bool | None = None) -> FoundNote:
        found = super().__new__(cls, value)
        found.internal = internal
        return found


class TicketNotFound(UsageError):
    """The ticket does not exist, or the account may not see it: retrying will not help,
    and the reference is what to fix, so it is a usage error (exit 2) in every command."""


class Rejected(ConnectionFailed):
    """The system understood the request and refused it (rights, validation): retrying the
    same note will not help, so it waits as `failed` for a person."""


class NotePublished(ConnectionFailed):
    """The note was posted, but the system made it public although it was asked internal
    (the account lacks the right): it cannot be taken back, so it is a failure of its own
    kind, recorded as `published`, never as `delivered`. Exit 3 like a refused right."""

    def __init__(self, message: str, *, remote_id: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.remote_id = remote_id


class RetryLater(ConnectionFailed):
    """Rate-limited, overloaded or unreachable: try again, not before `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TicketSystem(Protocol):
    kind: str

    def add_note(self, ticket_id: str, text: str, *, internal: bool = True) -> str:
        """Post a note; internal (not mailed to the customer) unless asked. Returns its id."""

    def find_note(self, ticket_id: str, marker: str) -> str | None:
        """The id of a note on the ticket that contains `marker`, if any (dedup on retry)."""

    def get(self, ticket_id: str) -> Ticket: ...

    def set_status(self, ticket_id: str, status: str) -> None: ...

    def attach(self, ticket_id: str, filename: str, data: bytes) -> None: ...

    def ping(self) -> str:
        """One cheap authenticated call; a line saying who is signed in and what is reachable.
        Refused credentials raise AuthenticationFailed, an unreachable system ConnectionFailed;
        neither the text nor an error carries a secret."""

    def close(self) -> None: ...
