"""The embedded ticket store (adminkit.tickets.local) behind the contract suite's surface.

Not a fake: the real SQLite store in a test's own folder, read back through its own
`notes`. It has what every ticket peer has (tickets, notes) and nothing of a server: no
URL, no requests, no credentials, no failures to order up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

from adminkit.tickets.local import LocalTickets
from adminkit.tickets.settings import TicketsConfig
from tests.fakes.ticketfake import StoredNote


class LocalStore:
    kind = "local"
    missing_ticket = "999999"

    def __init__(self, path: Path) -> None:
        self.path = path  # where LocalTickets() looks: ADMINKIT_TICKETS must name it

    def start(self) -> Self:
        return self

    def stop(self) -> None:
        pass

    def tickets_config(self, secret_ref: str) -> TicketsConfig:
        """The local store takes no credential: `secret_ref` is not used."""
        return TicketsConfig(kind="local")

    def create_ticket(self) -> str:
        store = LocalTickets(self.path)
        try:
            return store.new("Please block jdoe", requester="anna@example.com")
        finally:
            store.close()

    def opened(self, ticket: str) -> tuple[str, str | None]:
        """The subject; the store keeps no text with a ticket."""
        store = LocalTickets(self.path)
        try:
            [row] = [r for r in store.all() if str(r["id"]) == ticket]
            return str(row["subject"]), None
        finally:
            store.close()

    def notes(self, ticket: str) -> list[StoredNote]:
        store = LocalTickets(self.path)
        try:
            return [StoredNote(str(n["id"]), n["body"], internal=bool(n["internal"]))
                    for n in store.notes(ticket)]
        finally:
            store.close()
