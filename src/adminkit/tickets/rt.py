"""Request Tracker 5 over REST2: comments are internal, correspondence mails the requestor."""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import quote

from adminkit.core.config import Profile
from adminkit.core.errors import ConnectionFailed, UsageError
from adminkit.tickets.base import Ticket, TicketRef
from adminkit.tickets.http import (
    MAX_PAGES,
    basic_auth,
    check,
    check_login,
    client,
    json_body,
    read_name,
    send,
)
from adminkit.tickets.settings import ticket_settings

PAGE = 100  # REST2's largest page


def _quoted(text: str) -> str:
    """A value inside '…' of TicketSQL."""
    return text.replace("\\", "\\\\").replace("'", "\\'")


class RequestTracker:
    kind = "rt"

    def __init__(self, profile: Profile) -> None:
        cfg = ticket_settings(profile)
        assert cfg is not None
        if cfg.token:
            auth = f"token {profile.secret(cfg.token, 'RT token').reveal()}"
        elif cfg.user and cfg.password:
            auth = basic_auth(profile, cfg, "RT password")
        else:
            raise UsageError(f"profile {profile.name}: RT needs tickets.token or user+password")
        self.queue = cfg.queue or "General"
        self.http = client(profile, cfg, {"Authorization": auth, "Accept": "application/json"})
        self._queue_names: dict[str, str | None] = {}  # queue path -> name, read once

    def close(self) -> None:
        self.http.close()

    def ping(self) -> str:
        """Read the profile's queue (`tickets.queue`, else General): authenticated, and the
        queue the notes go to is visible."""
        what = f"RT queue {self.queue}"
        r = send(lambda: self.http.get(f"/queue/{quote(self.queue, safe='')}"), what)
        if r.status_code in (403, 404):  # signed in, but no such queue or no SeeQueue on it
            raise ConnectionFailed(f"{what}: no such queue, or the account may not see it "
                                   f"({r.status_code})",
                                   hint="check tickets.queue (and that tickets.url ends in "
                                        "/REST/2.0), and grant the account SeeQueue on it")
        check_login(r, what, hint="tickets.token must be an RT auth token of the account "
                                  "(or user and password); tickets.url ends in /REST/2.0")
        json_body(r, what)  # a proxy's login page answers 200 too
        return f"REST2 authenticated, queue {self.queue} readable"

    def add_note(self, ticket_id: str, text: str, *, internal: bool = True) -> str:
        kind = "comment" if internal else "correspond"
        what = f"RT ticket {ticket_id}: {kind}"
        r = send(lambda: self.http.post(f"/ticket/{ticket_id}/{kind}",
                                        json={"Content": text, "ContentType": "text/plain"}),
                 what)
        # RT answers a comment on a missing or forbidden ticket with 400 "Permission Denied"
        check(r, what, missing=(400, 403, 404))
        return str(r.headers.get("Location", "")).rsplit("/", 1)[-1]

    def find_note(self, ticket_id: str, marker: str) -> str | None:
        query = (f"TicketId = {int(ticket_id)} AND (Type = 'Comment' OR Type = 'Correspond') "
                 f"AND Content LIKE '{marker}'")
        what = f"RT ticket {ticket_id}: search notes"
        r = send(lambda: self.http.get("/transactions", params={"query": query}), what)
        check(r, what)
        items = json_body(r, what).get("items") or []
        return str(items[0]["id"]) if items else None

    def notes(self, ticket_id: str) -> list[dict[str, Any]]:
        """Comments and correspondence, oldest first, all of them (`adminkit ticket show`).

        RT pages over every row and drops the ones the account may not see afterwards,
        and tells a non-superuser neither the total nor the next page: a short or empty
        page may sit in the middle (the autoreply's EmailRecord, say). So each kind is
        searched alone (one right decides for all of a ticket's comments, another for
        its correspondence), and the bodies by those transactions' ids only: in such a
        search every row is visible, and a short page is the last.
        """
        what = f"RT ticket {ticket_id}: history"
        txns: dict[str, dict[str, Any]] = {}
        for kind in ("Comment", "Correspond"):
            query = f"TicketId = {int(ticket_id)} AND Type = '{kind}'"
            for t in self._pages(what, "GET", "/transactions", params={
                    "query": query, "fields": "Type,Created,Creator", "orderby": "id",
                    "order": "ASC"}):
                txns[str(t["id"])] = t
        ids = sorted(txns, key=int)
        bodies: dict[str, str] = {}
        for start in range(0, len(ids), PAGE):
            search = [{"field": "TransactionId", "operator": "IN",
                       "value": [int(i) for i in ids[start:start + PAGE]]},
                      {"field": "ContentType", "value": "text/plain"}]
            for a in self._pages(what, "POST", "/attachments", json=search, params={
                    "fields": "TransactionId,Content", "orderby": "id", "order": "ASC"}):
                txn = a.get("TransactionId")
                txn_id = str(txn.get("id") if isinstance(txn, dict) else txn)
                bodies.setdefault(txn_id, str(a.get("Content", "")).rstrip("\n"))
        out = []
        for txn_id in ids:
            if txn_id not in bodies:  # no text part (an HTML-only mail): nothing to show
                continue
            t = txns[txn_id]
            creator = t.get("Creator")
            out.append({"time": t.get("Created"), "internal": t["Type"] == "Comment",
                        "author": creator.get("id") if isinstance(creator, dict) else creator,
                        "body": bodies[txn_id]})
        return out

    def _pages(self, what: str, method: str, path: str, **kw: Any) -> list[dict[str, Any]]:
        """Every item of a search whose rows are all visible, page by page."""
        items: list[dict[str, Any]] = []
        params = dict(kw.pop("params", {}))
        for page in range(1, MAX_PAGES + 1):
            query = {**params, "per_page": PAGE, "page": page}
            r = send(lambda q=query: self.http.request(method, path, params=q, **kw), what)
            check(r, what, missing=(403, 404))
            data = json_body(r, what)
            found = data.get("items") or []
            items += found
            pages = data.get("pages")
            if len(found) < PAGE or (isinstance(pages, int) and page >= pages):
                return items
        raise ConnectionFailed(f"{what}: more than {MAX_PAGES * PAGE} items, stopped reading")

    def new_tickets(self, queue: str, after: str | None, limit: int = PAGE) -> list[str]:
        """Ids of the queue's tickets newer than `after` (a ticket id), oldest first, at
        most `limit`: what `adminkit watch` has not seen yet (RT's ids only grow)."""
        query = f"Queue = '{_quoted(queue)}' AND id > {int(after or 0)}"
        what = f"RT queue {queue}: new tickets"
        r = send(lambda: self.http.get("/tickets", params={
            "query": query, "orderby": "id", "order": "ASC", "per_page": min(limit, PAGE),
            "page": 1, "fields": "id"}), what)
        check(r, what, missing=(403, 404))
        items = json_body(r, what).get("items") or []
        return [str(item["id"]) for item in items][:limit]

    def create(self, subject: str, text: str) -> str:
        """A new ticket in the profile's queue (`POST /ticket`): its id. A scheduled
        run's ticket; its notes follow through the outbox."""
        what = f"RT queue {self.queue}: new ticket"
        r = send(lambda: self.http.post("/ticket", json={
            "Queue": self.queue, "Subject": subject, "Content": text,
            "ContentType": "text/plain"}), what)
        check(r, what, missing=(400, 403, 404))
        ident = json_body(r, what).get("id")
        if r.status_code != 201 or not str(ident or "").isdecimal():
            raise ConnectionFailed(f"{what}: unexpected answer from RT (HTTP {r.status_code})")
        return str(ident)

    def count_tickets(self, queue: str, field: str, start: str, end: str) -> int:
        """How many of the queue's tickets have `field` (Created or Resolved) in
        [start, end) (dates, YYYY-MM-DD, UTC): the monthly report's opened and resolved."""
        if field not in ("Created", "Resolved") or not all(
                re.fullmatch(r"\d{4}-\d{2}-\d{2}", d) for d in (start, end)):
            raise UsageError(f"cannot count RT tickets by {field!r} from {start!r} to {end!r}")
        query = f"Queue = '{_quoted(queue)}' AND {field} >= '{start}' AND {field} < '{end}'"
        return len(self._pages(f"RT queue {queue}: count", "GET", "/tickets",
                               params={"query": query, "fields": "id"}))

    def get(self, ticket_id: str) -> Ticket:
        what = f"RT ticket {ticket_id}"
        r = send(lambda: self.http.get(f"/ticket/{ticket_id}"), what)
        check(r, what, missing=(403, 404))
        data: dict[str, Any] = json_body(r, what)
        requestors = data.get("Requestor") or []
        fields = {cf.get("name"): (cf.get("values") or [None])[0]
                  for cf in data.get("CustomFields") or []}
        queue = data.get("Queue")
        queue_id = str(queue.get("id")) if isinstance(queue, dict) else None
        name = self._queue_name(queue_id) if queue_id else None
        return Ticket(ref=TicketRef("rt", ticket_id), subject=data.get("Subject", ""),
                      status=data.get("Status", ""),
                      queue=name or queue_id or (queue if isinstance(queue, str) else None),
                      queue_id=queue_id,
                      queue_names=(name,) if name else (queue,) if isinstance(queue, str)
                      else (),
                      requester=requestors[0].get("id") if requestors else None, fields=fields)

    def _queue_name(self, queue_id: str) -> str | None:
        """REST2 names a ticket's queue by id only; profiles and rules name it (General).
        Read once per queue; a queue the account may not see stays its id."""
        return read_name(self.http, f"/queue/{quote(queue_id, safe='')}",
                         f"RT queue {queue_id}", "Name", cache=self._queue_names)

    def set_status(self, ticket_id: str, status: str) -> None:
        what = f"RT ticket {ticket_id}: status {status}"
        r = send(lambda: self.http.put(f"/ticket/{ticket_id}", json={"Status": status}), what)
        check(r, what, missing=(403, 404))

    def attach(self, ticket_id: str, filename: str, data: bytes) -> None:
        what = f"RT ticket {ticket_id}: attach {filename}"
        body = {"Content": f"attached {filename}", "ContentType": "text/plain",
                "Attachments": [{"FileName": filename, "FileType": "application/octet-stream",
                                 "FileContent": base64.b64encode(data).decode()}]}
        r = send(lambda: self.http.post(f"/ticket/{ticket_id}/comment", json=body), what)
        check(r, what, missing=(400, 403, 404))
