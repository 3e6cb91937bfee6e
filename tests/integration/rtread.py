"""Reading a lab RT ticket back in tests: the notes adminkit left on it.

`notes` answers as the ticket fakes' `notes` do (tests/fakes/ticketfake.py): each note's
id, text and whether it is internal, here read straight from RT's REST2, not through
the backend under test: as RT's root, who may see every row, so RT counts the pages
(it does not for tech1, and drops what tech1 may not see only after paging), then
each note's attachments one by one.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.fakes.ticketfake import StoredNote


def _as_root(rt: Any) -> httpx.Client:
    password = rt.root_password_file.read_text().strip()
    return httpx.Client(base_url=rt.url, auth=("root", password), timeout=30)


def transactions(http: httpx.Client, ticket: int) -> list[dict[str, Any]]:
    """Every transaction of the ticket, oldest first."""
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        data = http.get(f"/ticket/{ticket}/history", params={
            "fields": "Type", "per_page": 100, "page": page}).json()
        out += data["items"]
        if page >= (data["pages"] or 0):  # root: RT counts them
            return out
        page += 1


def notes(rt: Any, ticket: int) -> list[StoredNote]:
    """Every comment (internal) and correspondence (public) on an RT ticket, oldest first."""
    out = []
    with _as_root(rt) as http:
        for txn in transactions(http, ticket):
            if txn.get("Type") not in ("Comment", "Correspond"):
                continue
            atts = http.get(f"/transaction/{txn['id']}/attachments", params={
                "fields": "ContentType,Content"}).json()["items"]
            texts = [str(a["Content"]).rstrip("\n") for a in atts
                     if a.get("ContentType") == "text/plain"]
            if texts:
                out.append(StoredNote(str(txn["id"]), texts[0],
                                      internal=txn["Type"] == "Comment"))
    return out


def comments(rt: Any, ticket: int) -> list[str]:
    """The text of every comment (internal note) on an RT ticket."""
    return [note.text for note in notes(rt, ticket) if note.internal]
