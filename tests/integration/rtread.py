"""Reading a lab RT ticket back in tests: the comments adminkit left on it."""

from __future__ import annotations

from typing import Any


def comments(rt: Any, ticket: int) -> list[str]:
    """The text of every comment on an RT ticket, read back through REST2."""
    with rt.client() as http:
        txns = http.get(f"/ticket/{ticket}/history",
                        params={"fields": "Type", "per_page": 100}).json()["items"]
        ids = {str(t["id"]) for t in txns if t.get("Type") == "Comment"}
        atts = http.get(f"/ticket/{ticket}/attachments",
                        params={"fields": "TransactionId,ContentType,Content",
                                "per_page": 100}).json()["items"]
    out = []
    for a in atts:
        txn = a.get("TransactionId")
        txn_id = str(txn.get("id") if isinstance(txn, dict) else txn)
        if txn_id in ids and a.get("ContentType") == "text/plain":
            out.append(str(a["Content"]).rstrip("\n"))
    return out
