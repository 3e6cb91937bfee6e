"""What every ticket-system fake offers the contract suite (test_ticket_contract.py).

`TicketStore` is what any backend's peer offers: the vendor fakes (jira.py, servicenow.py,
zammad.py, glpi.py, redmine.py) and the local store's stand-in (local_store.py).
`TicketServer` adds what only a peer over HTTP has: a URL, a record of requests, failures
and lost answers on order, credentials to refuse. How each fake arranges a ticket, stores
a note or refuses a login stays in its own module, in its vendor's terms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Self

import pytest

from adminkit.core.config import Profile
from adminkit.tickets.settings import TicketsConfig
from tests.fakes.httpserver import Request

SECRET_ENV = "TICKET_SECRET"


@dataclass(frozen=True)
class StoredNote:
    """A note as the ticket system keeps it: its id there, the text a person reads on the
    ticket, and whether only agents see it."""

    id: str
    text: str
    internal: bool


class TicketStore(Protocol):
    kind: str  # the profile's tickets.kind
    missing_ticket: str  # a well-formed ticket id that names no ticket

    def start(self) -> Self: ...

    def stop(self) -> None: ...

    def tickets_config(self, secret_ref: str) -> TicketsConfig:
        """A profile's `tickets` section for this peer, its credential behind `secret_ref`."""

    def create_ticket(self) -> str:
        """A new ticket; its id as adminkit references it."""

    def notes(self, ticket: str) -> list[StoredNote]:
        """The notes on the ticket as the server stores them, oldest first."""

    def opened(self, ticket: str) -> tuple[str, str | None]:
        """A ticket's subject and first text (its description or first article) as the
        server stores them (None: the store keeps no text)."""


class TicketServer(TicketStore, Protocol):
    secret: str  # the credential the fake accepts: the value behind tickets_config's ref
    account: tuple[str, ...]  # how the vendor names the signed-in account (name, login)
    refusal: str  # what the vendor answers refused credentials with (a status or code)
    note_write: tuple[str, str]  # (method, path prefix) of the request that stores a note
    note_refusal: int  # the status it refuses a note with for good (validation, rights)

    @property
    def url(self) -> str: ...

    @property
    def requests(self) -> list[Request]: ...

    def fail(self, status: int, *, times: int = 1, retry_after: float | str | None = None,
             method: str | None = None, path: str | None = None) -> None:
        """Answer the next `times` matching requests with `status` in the vendor's format."""

    def lose_answer(self, *, times: int = 1, method: str | None = None,
                    path: str | None = None) -> None:
        """Carry out the next matching request, then drop the connection unanswered."""

    def reject_credentials(self) -> None:
        """From now on refuse the credential it accepted (revoked, rotated, expired)."""

    def mistakes(self) -> list[str]:
        """What the backend sent that the real API does not have or would silently drop."""

    def deny_internal(self) -> None:
        """From now on the account may not write internal notes, and the vendor makes
        them public without refusing (where it does; see the contract's NOT_APPLICABLE)."""

    def deny_create(self) -> None:
        """From now on the account may not open tickets (the vendor's permission)."""

    def require_more(self) -> str:
        """From now on a new ticket needs a field adminkit does not fill: its name as
        the vendor's refusal names it."""


def profile_for(peer: TicketStore, monkeypatch: pytest.MonkeyPatch, **tickets: Any) -> Profile:
    """Profile `acme` with `peer` as its ticket system and the peer's credential in
    $TICKET_SECRET; `tickets` changes settings (None drops one)."""
    monkeypatch.setenv(SECRET_ENV, getattr(peer, "secret", ""))
    settings = peer.tickets_config(f"env:{SECRET_ENV}").model_dump(exclude_defaults=True)
    return Profile.model_validate({"name": "acme", "tickets": {**settings, **tickets}})
