"""Reading a lab RT ticket back in tests: the notes adminkit left on it.

`notes` answers as the ticket fakes' `notes` do (tests/fakes/ticketfake.py): each note's
id, text and whether it is internal, here read straight from RT's REST2, not through
the backend under test.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.ticketfake import StoredNote


def notes(rt: Any, ticket: int) -> list[StoredNote]:
    """Every comment (internal) and correspondence (public) on an RT ticket, oldest first."""
    with rt.client() as http:
        txns = http.get(f"/ticket/{ticket}/history",
                        params={"fields": "Type", "per_page": 100}).json()["items"]
        kinds = {str(t["id"]): t["Type"] for t in txns
                 if t.get("Type") in ("Comment", "Correspond")}
        atts = http.get(f"/ticket/{ticket}/attachments",
                        params={"fields": "TransactionId,ContentType,Content",
                                "per_page": 100}).json()["items"]
    out = []
    for a in atts:
        txn = a.get("TransactionId")
        txn_id = str(txn.get("id") if isinstance(txn, dict) else txn)
        if txn_id in kinds and a.get("ContentType") == "text/plain":
            out.append(StoredNote(txn_id, str(a["Content"]).rstrip("\n"),
                                  internal=kinds[txn_id] == "Comment"))
    return out


def comments(rt: Any, ticket: int) -> list[str]:
    """The text of every comment (internal note) on an RT ticket."""
    return [note.text for note in notes(rt, ticket) if note.internal]
