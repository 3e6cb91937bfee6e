"""The `TicketSystem` protocol, ticket references, and the errors deliveries act on."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
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


ID_FORM = "id:"  # a queue named by its id in a profile or rule (`id:3`); bare: its name
NAME_FORM = "name:"  # a queue named by its name, said outright (`name:3`)
# what a queue id looks like in any system: a number as the API writes it, or a sys_id
QUEUE_ID = r"(?:0|[1-9][0-9]{0,18}|[0-9a-fA-F]{32})"
# Systems whose people are known by a stable user id (`redmine:9`, `jira:ACCOUNTID`,
# `zammad:12`, `snow:SYSID`): display names there (and an e-mail's From) are each
# sender's own to write, or shared by two people, so who asks and who approves are checked
# by the id alone.
USER_ID_KINDS = ("redmine", "jira", "zammad", "servicenow")


def queue_form(value: str, *, strict: bool = True) -> tuple[str, str]:
    """A queue as a profile or rule names it: ("id", "3") for `id:3`, ("name", X) for
    `name:X` or a bare X. Strict (at profile load): a bare value that reads as an id (a
    number, a 32-digit hex sys_id) is refused as ambiguous, since names and ids are
    matched apart and it used to mean either."""
    text = str(value).strip()
    for prefix, form in ((ID_FORM, "id"), (NAME_FORM, "name")):
        if text[:len(prefix)].casefold() == prefix:
            rest = text[len(prefix):].strip()
            if not rest:
                raise ValueError(f"{value!r}: {prefix} names nothing")
            if strict and form == "id" and not re.fullmatch(QUEUE_ID, rest):
                raise ValueError(f"{value!r}: {ID_FORM} takes the queue's id as the system "
                                 "gives it: ASCII digits without a sign or leading zero, or "
                                 "a 32-digit hex sys_id (ServiceNow); this one matches no "
                                 "queue")
            return form, rest
    if strict and re.fullmatch(r"[0-9]+|[0-9a-fA-F]{32}", text):
        raise ValueError(f"{value!r} is ambiguous: write {ID_FORM}{text} for the queue whose "
                         f"id it is, or {NAME_FORM}{text} for a queue named so (a bare value "
                         "is a queue's name, key or identifier, never its id)")
    return "name", text


@dataclass(frozen=True)
class Ticket:
    ref: TicketRef
    subject: str
    status: str
    queue: str | None = None  # the queue as shown (a name; its id where none was read)
    requester: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    # the requester's stable user id where the system's names are the user's to edit
    # (Redmine: `redmine:9`; Jira: `jira:ACCOUNTID`; Zammad: `zammad:12`; ServiceNow:
    # `snow:SYSID`, the sys_user record's sys_id); who asked is
    # checked by it, the name is only shown
    requester_id: str | None = None
    # The queue's id: what `id:N` in a profile or rule matches, and nothing else does.
    queue_id: str | None = None
    # What a bare value matches: the queue's unique name, key or identifier (Redmine: the
    # project's identifier, never its editable name). None: `queue` itself.
    queue_names: tuple[str, ...] | None = None

    def in_queue(self, wanted: Iterable[str]) -> bool:
        """Whether the ticket's queue is one of `wanted` (any case): `id:N` by its id, a
        name by its names; the two never stand in for each other."""
        names = self.queue_names if self.queue_names is not None else (self.queue,)
        own = {str(n).strip().casefold() for n in names if n not in (None, "")}
        for value in wanted:
            form, text = queue_form(value, strict=False)
            if form == "id" and self.queue_id not in (None, "") \
                    and text.casefold() == str(self.queue_id).strip().casefold():
                return True
            if form == "name" and text.casefold() in own:
                return True
        return False

    def where(self) -> str:
        """The queue in words, with the names a profile may give it: `queue Helpdesk
        (helpdesk, id:1)`."""
        if not self.queue and self.queue_id in (None, ""):
            return "no queue"
        names = self.queue_names if self.queue_names is not None else ()
        other = [n for n in names if n and n != self.queue]
        if self.queue_id not in (None, ""):
            other.append(f"{ID_FORM}{self.queue_id}")
        return f"queue {self.queue or ID_FORM + str(self.queue_id)}" + \
            (f" ({', '.join(other)})" if other else "")


def outside(ref: TicketRef, ticket: Ticket, queues: Sequence[str]) -> str | None:
    """Why the ticket is not this profile's to act for or note on, or None when it is:
    one wording for the run's check and the outbox's."""
    if not queues or ticket.in_queue(queues):
        return None
    return (f"ticket {ref} is in {ticket.where()}; this profile acts only for tickets in "
            f"{', '.join(queues)}")


def text_of(value: object) -> str | None:
    """A queue's id or name from whatever the system answered: text, or None if absent."""
    if value in (None, "") or isinstance(value, (dict, list, bool)):
        return None
    return str(value)


def user_ref(kind: str, ident: object) -> str | None:
    """`jira:5b10ac8d82e05b22cc7d4ef5`, `zammad:12`: a user id in the form profiles name
    people by, or None when the system gave none."""
    if isinstance(ident, bool) or not isinstance(ident, (str, int)):
        return None
    text = str(ident).strip()
    if not text or re.search(r"[\x00-\x20\x7f]", text):
        return None
    return f"{PREFIX_OF_KIND[kind]}:{text}"


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
    """Rate-limited, overloaded or unreachable: try again, not before `retry_after` seconds.
    `system_wide`: the system as a whole said so (429, a gateway's 502/503/504, no answer),
    not this one request: its other notes wait too, unasked."""

    def __init__(self, message: str, *, retry_after: float | None = None,
                 system_wide: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.system_wide = system_wide


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
