"""Reading a lab RT ticket back in tests: the comments adminkit left on it.

Independent of adminkit's own reader: as RT's root, who may see every row, so RT
counts the pages (it does not for tech1, and drops what tech1 may not see only after
paging), then each comment's attachments one by one.
"""

from __future__ import annotations

from typing import Any

import httpx


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


def comments(rt: Any, ticket: int, kinds: tuple[str, ...] = ("Comment",)) -> list[str]:
    """The text of every comment (or other `kinds`) on an RT ticket, oldest first."""
    with _as_root(rt) as http:
        ids = [t["id"] for t in transactions(http, ticket) if t.get("Type") in kinds]
        out = []
        for txn in ids:
            atts = http.get(f"/transaction/{txn}/attachments", params={
                "fields": "ContentType,Content"}).json()["items"]
            out += [str(a["Content"]).rstrip("\n") for a in atts
                    if a.get("ContentType") == "text/plain"][:1]
    return out
