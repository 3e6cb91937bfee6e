"""Zammad over REST API v1: a note is an article of type "note" with `internal: true`.

An internal note is visible to agents only and never mailed. A public note (asked for)
is an `email` article to the ticket's customer, the way an agent's reply reaches them;
`options.public_type: note` makes it a public note in the customer portal instead, with
no mail. Attachments travel inside an article (base64), so `attach` adds an internal note
that carries the file. The reference is the ticket's id (as in `#ticket/zoom/ID`), not
its number.

Auth: `token` is an access token sent as `Token token=...` (`options.token_type: bearer`
sends an OAuth2 token as Bearer); `user` + `password` is Basic, which Zammad discourages
and an administrator may have switched off.

Zammad's own rate limits cover password resets and form submits only; a 429 or 503 comes
from Rack::Attack or the proxy in front, is transient, and its Retry-After is honoured
when there is one.
"""

from __future__ import annotations

import base64
import mimetypes
import re
from typing import TYPE_CHECKING, Any

from adminkit.core.config import Profile
from adminkit.core.errors import ActionFailed, ConnectionFailed, UsageError
from adminkit.tickets.base import (
    ID_PATTERNS,
    FoundNote,
    NotePublished,
    Rejected,
    Ticket,
    TicketRef,
    text_of,
    user_ref,
)
from adminkit.tickets.htmltext import html_text
from adminkit.tickets.http import basic_auth, check, check_login, client, error_json, send
from adminkit.tickets.http import json_body as _json
from adminkit.tickets.settings import ticket_settings

if TYPE_CHECKING:
    import httpx

PUBLIC_TYPES = ("email", "note", "web", "phone")
# Articles a signed-in user writes in Zammad itself (the agent's note or phone call, the
# customer's web form): their created_by_id is that user. Every other type is fed by a
# channel, its creator looked up from the sender's address.
SIGNED_IN_TYPES = ("note", "phone", "web")
MISSING = (403, 404)  # 403 "Not authorized": a ticket outside the agent's groups



def _reason(response: httpx.Response) -> str:
    """Zammad's own words from `{"error": ..., "error_human": ...}`, shortened."""
    data = error_json(response)
    text = str(data.get("error_human") or data.get("error") or "") if data else response.text
    return text[:300] or f"HTTP {response.status_code}"


class Zammad:
    kind = "zammad"

    def __init__(self, profile: Profile) -> None:
        cfg = ticket_settings(profile)
        assert cfg is not None
        opts = cfg.options
        if cfg.token:
            token = profile.secret(cfg.token, "Zammad access token").reveal()
            scheme = str(opts.get("token_type", "token")).lower()
            if scheme not in ("token", "bearer"):
                raise UsageError(f"profile {profile.name}: tickets.options.token_type must be "
                                 "token or bearer")
            auth = f"Bearer {token}" if scheme == "bearer" else f"Token token={token}"
        elif cfg.user and cfg.password:
            auth = basic_auth(profile, cfg, "Zammad password")
        else:
            raise UsageError(f"profile {profile.name}: Zammad needs tickets.token (an access "
                             "token) or tickets.user and tickets.password")
        self.public_type = str(opts.get("public_type", "email"))
        if self.public_type not in PUBLIC_TYPES:
            raise UsageError(f"profile {profile.name}: tickets.options.public_type must be one "
                             f"of {', '.join(PUBLIC_TYPES)}")
        self.http = client(profile, cfg, {"Authorization": auth, "Accept": "application/json"})
        self.allow_public = cfg.allow_public_notes
        self.new = cfg.new  # the group and customer `create` opens a ticket with

    def close(self) -> None:
        self.http.close()

    def ping(self) -> str:
        """`GET /api/v1/users/me`: the account the token (or login) belongs to."""
        what = "Zammad: current user"
        r = send(lambda: self.http.get("/api/v1/users/me", params={"expand": "true"}), what)
        check_login(r, what, hint="tickets.token must be an access token of an agent "
                                  "(Profile > Token Access), or Basic login must be enabled")
        me = _json(r, what)
        name = " ".join(str(me[k]) for k in ("firstname", "lastname") if me.get(k))
        login = str(me.get("login") or me.get("email") or me.get("id") or "?")
        who = f"{name} ({login})" if name and name != login else login
        inactive = ", but the account is inactive" if me.get("active") is False else ""
        roles = me.get("roles")
        # A customer (no ticket.agent) has every article stored public, answered 201.
        if isinstance(roles, list) and roles and set(map(str, roles)) <= {"Customer"}:
            problem = (f"Zammad API: authenticated as {who}, but its only role is Customer: "
                       "its internal notes would go public (no ticket.agent permission)")
            if not self.allow_public:
                raise ConnectionFailed(problem, hint="give the account an agent role, or set "
                                                     "tickets.allow_public_notes: true")
            return f"{problem} (accepted: tickets.allow_public_notes)"
        return f"Zammad API: authenticated as {who}{inactive}"

    def person(self, ident: str) -> tuple[str, bool] | None:
        """(name, active) of the user `zammad:N` (`adminkit approve` checks the approver
        still exists); None where there is none, or the account may not see it."""
        prefix, _, number = ident.strip().partition(":")
        if prefix.casefold() != "zammad" or not re.fullmatch(ID_PATTERNS["zammad"], number):
            return None
        what = f"Zammad: user {ident}"
        r = send(lambda: self.http.get(f"/api/v1/users/{number}"), what)
        if r.status_code in MISSING:
            return None
        check(r, what)
        data = _json(r, what)
        if data.get("id") != int(number):
            return None
        name = " ".join(str(data[k]) for k in ("firstname", "lastname") if data.get(k))
        return name or str(data.get("login") or ident), data.get("active") is not False

    @staticmethod
    def _id(ticket_id: str) -> int:
        if not re.fullmatch(ID_PATTERNS["zammad"], ticket_id):
            raise UsageError(f"{ticket_id!r} is not a Zammad ticket id",
                             hint="the number in the ticket's address, #ticket/zoom/ID")
        return int(ticket_id)

    def _post_article(self, article: dict[str, Any], what: str) -> dict[str, Any]:
        r = send(lambda: self.http.post("/api/v1/ticket_articles", json=article), what)
        check(r, what, missing=MISSING)
        data: dict[str, Any] = _json(r, what)
        return data

    def _customer_email(self, ticket: int, what: str) -> str:
        r = send(lambda: self.http.get(f"/api/v1/tickets/{ticket}"), what)
        check(r, what, missing=MISSING)
        customer = _json(r, what).get("customer_id")
        if not isinstance(customer, int):
            raise ConnectionFailed(f"{what}: the ticket names no customer_id")
        r = send(lambda: self.http.get(f"/api/v1/users/{customer}"), what)
        check(r, what, missing=MISSING)
        email = str(_json(r, what).get("email") or "")
        if "@" not in email:
            raise UsageError(f"{what}: the ticket's customer has no e-mail address to reply to",
                             hint="set tickets.options.public_type: note for portal-only notes")
        return email

    def add_note(self, ticket_id: str, text: str, *, internal: bool = True) -> str:
        ticket = self._id(ticket_id)
        what = f"Zammad ticket {ticket}: {'internal note' if internal else 'public reply'}"
        article: dict[str, Any] = {"ticket_id": ticket, "body": text,
                                   "content_type": "text/plain", "type": "note",
                                   "internal": internal}
        if not internal:
            article["type"] = self.public_type
            if self.public_type == "email":
                article["to"] = self._customer_email(ticket, what)
        answer = self._post_article(article, what)
        remote = str(answer.get("id", ""))
        # Without ticket.agent Zammad stores `internal: false` whatever was asked (201).
        if internal and answer.get("internal") is False and not self.allow_public:
            raise NotePublished(f"{what}: Zammad made the note public (article {remote}): "
                                "the account's role lacks the ticket.agent permission",
                                remote_id=remote,
                                hint="give the account an agent role (ticket.agent), or set "
                                     "tickets.allow_public_notes: true")
        return remote

    def create(self, subject: str, text: str) -> str:
        """A new ticket (`POST /api/v1/tickets`) in tickets.new's group for its customer,
        its text as a first internal note (never mailed): its id. A scheduled run's
        ticket. Zammad answers 422 for a group or customer it does not know, 403 for an
        account that may not create in the group."""
        new = self.new
        if new is None or new.group is None or new.customer is None:
            raise UsageError("Zammad: no group and customer to open a ticket with",
                             hint="set tickets.new.group and tickets.new.customer")
        customer: int | str = (int(new.customer) if new.customer.isdecimal()
                               else f"guess:{new.customer}")
        what = f"Zammad group {new.group}: new ticket"
        body = {"title": subject, "group": new.group, "customer_id": customer,
                "article": {"subject": subject, "body": text, "type": "note",
                            "internal": True, "content_type": "text/plain"}}
        r = send(lambda: self.http.post("/api/v1/tickets", json=body), what)
        if r.status_code in (403, 422):
            raise Rejected(f"{what}: Zammad refused it: {_reason(r)}",
                           hint="the group and customer must exist, and the account needs "
                                "ticket.agent with create rights in the group")
        check(r, what, missing=())
        ident = _json(r, what).get("id")
        if r.status_code != 201 or not isinstance(ident, int) or isinstance(ident, bool) \
                or ident < 1:
            raise ConnectionFailed(f"{what}: unexpected answer from Zammad (HTTP "
                                   f"{r.status_code})")
        return str(ident)

    def articles(self, ticket_id: str) -> list[dict[str, Any]]:
        """Every article of the ticket: `by_ticket` answers them all at once."""
        ticket = self._id(ticket_id)
        what = f"Zammad ticket {ticket}: read articles"
        r = send(lambda: self.http.get(f"/api/v1/ticket_articles/by_ticket/{ticket}"), what)
        check(r, what, missing=MISSING)
        return [a for a in _json(r, what, list) if isinstance(a, dict)]

    def find_note(self, ticket_id: str, marker: str) -> str | None:
        for article in self.articles(ticket_id):
            if marker in str(article.get("body") or ""):
                return FoundNote(str(article.get("id")), internal=None if self.allow_public
                                 else article.get("internal") is True)
        return None

    def notes(self, ticket_id: str) -> list[dict[str, Any]]:
        """The ticket's articles, oldest first (`adminkit ticket show`, approvals).

        Who wrote one is its `created_by_id` (`zammad:12`), never `from`, which is display
        text (an e-mail's is whatever the mail said). An article that came in through a
        channel (e-mail, SMS, chat, ...) is `unverified`: Zammad set its creator to the
        user it matched by the sender's address, which the sender wrote too."""
        out = []
        for a in self.articles(ticket_id):
            kind = str(a.get("type") or "")
            note: dict[str, Any] = {
                "time": a.get("created_at"), "author": a.get("from") or a.get("created_by"),
                "author_id": user_ref("zammad", a.get("created_by_id")),
                "internal": a.get("internal") is True, "body": str(a.get("body") or "")}
            if str(a.get("content_type") or "").startswith("text/html"):  # Zammad's editor
                note["body"] = html_text(note["body"])
            if kind not in SIGNED_IN_TYPES:
                note["unverified"] = f"it came in as a {kind or 'channel'} article, whose " \
                                     "sender is whoever the message said"
            elif a.get("updated_by_id") not in (None, a.get("created_by_id")):
                # changed since by another user (an agent): the text may be theirs
                note["unverified"] = (
                    f"it was changed after it was written by {a.get('updated_by') or 'someone'}"
                    f" ({user_ref('zammad', a.get('updated_by_id')) or 'no id'})")
            out.append(note)
        return out

    def get(self, ticket_id: str) -> Ticket:
        ticket = self._id(ticket_id)
        what = f"Zammad ticket {ticket}"
        r = send(lambda: self.http.get(f"/api/v1/tickets/{ticket}",
                                       params={"expand": "true"}), what)
        check(r, what, missing=MISSING)
        data: dict[str, Any] = _json(r, what)
        return Ticket(ref=TicketRef("zammad", str(ticket)), subject=str(data.get("title") or ""),
                      status=str(data.get("state") or ""), queue=data.get("group"),
                      queue_id=text_of(data.get("group_id")),
                      requester=data.get("customer"),
                      requester_id=user_ref("zammad", data.get("customer_id")),
                      fields={"number": data.get("number"), "priority": data.get("priority"),
                              "owner": data.get("owner")})

    def set_status(self, ticket_id: str, status: str) -> None:
        ticket = self._id(ticket_id)
        what = f"Zammad ticket {ticket}: state {status}"
        r = send(lambda: self.http.put(f"/api/v1/tickets/{ticket}", json={"state": status}),
                 what)
        if r.status_code == 422:  # no such state, or a core workflow forbids it
            raise ActionFailed(f"{what}: Zammad refused: {_reason(r)}",
                               hint="state names as in Zammad: new, open, pending reminder, "
                                    "closed, ...")
        check(r, what, missing=MISSING)

    def attach(self, ticket_id: str, filename: str, data: bytes) -> None:
        ticket = self._id(ticket_id)
        what = f"Zammad ticket {ticket}: attach {filename}"
        ctype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        self._post_article({"ticket_id": ticket, "body": f"adminkit attached {filename}",
                            "content_type": "text/plain", "type": "note", "internal": True,
                            "attachments": [{"filename": filename,
                                             "data": base64.b64encode(data).decode(),
                                             "mime-type": ctype}]}, what)
