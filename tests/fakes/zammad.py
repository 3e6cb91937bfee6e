"""A Zammad fake: the REST API v1 calls adminkit makes, over real HTTP.

What it follows (docs.zammad.org, "API > Introduction", "Tickets", "Articles"; error
handling from zammad's ApplicationController::HandlesErrors; throttling from its
config/initializers/rack_attack.rb):

- Auth: `Authorization: Token token=<access token>`, `Bearer <OAuth2 token>`, or Basic.
- `GET /api/v1/tickets/{id}` (`?expand=true` adds the names: state, group, customer, ...).
- `PUT /api/v1/tickets/{id}` with `{"state": "<state name>"}` -> 200 with the ticket.
- `GET /api/v1/ticket_articles/by_ticket/{ticket id}` -> a list of articles.
- `POST /api/v1/ticket_articles` `{"ticket_id", "body", "content_type": "text/plain" |
  "text/html", "type": "note" | "email" | "web" | ..., "internal": bool, "subject", "to",
  "attachments": [{"filename", "data": base64, "mime-type"}]}` -> 201 with the article.
- `POST /api/v1/tickets` `{"title", "group" (a name) | "group_id", "customer_id" (an id,
  or `guess:EMAIL`: found or made a customer), "article": {...}}` -> 201 with the ticket;
  a group or customer Zammad does not know: 422 "No lookup value found"; a blank
  title, group or customer, or an object attribute defined `null: false` left out: 422
  "... can't be blank"; an agent without create rights in the group: 403 "Not
  authorized".
- `GET /api/v1/users/{id}`; `GET /api/v1/users/me`: the user the credentials belong to
  (docs: "Me - Current User", any permission).
- Errors are `{"error": ..., "error_human": ...}`: a missing record is 404 "Couldn't find
  Ticket with 'id'=N" (ActiveRecord::RecordNotFound), a ticket the agent's groups do not
  cover is 403 "Not authorized", bad lookups/values 422, no credentials 401. Zammad itself
  throttles only password resets and form submits; a 429 comes from Rack::Attack's default
  responder (text/plain "Retry later", Retry-After only if configured) or a proxy, and
  502/503 from the proxy in front of Rails.

Who wrote an article: `created_by_id` (and, with names, `created_by`: the login) is the
user Zammad acted as: the agent whose token posted a note, or for an article that came in
through a channel (an e-mail) the user Zammad matched by the sender's address (its
postmaster filter sets x-zammad-session-user-id from From). `from` is display text: the
agent's name for a note, the mail's own From header for an e-mail; `origin_by_id` is the
customer an agent wrote for (a phone call). `GET .../by_ticket` names the associations
(`type`, `sender`, `created_by`) as well as giving their ids.

Where the real server is more lenient the fake is stricter, so a wrong request shows: an
email article without `to` is refused here (Zammad would take it, then fail to send it),
and unknown article attributes are refused.
"""

from __future__ import annotations

import base64
import binascii
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from adminkit.tickets.settings import TicketsConfig
from tests.fakes.httpserver import (
    BadRequest,
    Reply,
    Request,
    Routes,
    ServerFake,
    json_reply,
    proxy_reply,
    text_reply,
)
from tests.fakes.ticketfake import StoredNote

STATES = ["new", "open", "pending reminder", "closed", "merged", "pending close"]
ARTICLE_TYPES = ["email", "sms", "chat", "fax", "phone", "twitter status",
                 "twitter direct-message", "facebook feed post", "facebook feed comment",
                 "note", "web", "telegram personal-message"]
ARTICLE_KEYS = {"ticket_id", "body", "content_type", "type", "internal", "subject", "to",
                "cc", "from", "sender", "time_unit", "attachments", "origin_by_id",
                "preferences"}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class User:
    id: int
    login: str
    email: str
    firstname: str
    lastname: str
    active: bool = True  # False: the account was deactivated (the person left)


@dataclass
class Article:
    id: int
    ticket_id: int
    body: str
    content_type: str
    type: str
    internal: bool
    subject: str = ""
    to: str = ""
    attachments: list[dict[str, Any]] = field(default_factory=list)
    created_at: str = field(default_factory=_now)
    created_by_id: int = 999  # the API's agent, unless arranged otherwise
    sender_from: str | None = None  # `from`; None: the creator's name
    sender: str = "Agent"
    updated_by_id: int | None = None  # who last changed it (None: its creator)


@dataclass
class Ticket:
    id: int
    number: str
    title: str
    state: str
    group: str
    customer_id: int
    priority: str = "2 normal"
    owner: str = "-"
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)


class FakeZammad(ServerFake):
    kind = "zammad"
    refusal = "401"
    note_write = ("POST", "/api/v1/ticket_articles")
    note_refusal = 422  # how it refuses a note for good: Zammad's validation error
    missing_ticket = "999999"

    def __init__(self, *, token: str = "zammad-access-token-1",  # noqa: S107 - test credential
                 bearer: str | None = None, user: str = "agent@example.com",
                 password: str = "zammad-password-1") -> None:  # noqa: S107
        self.token, self.bearer, self.user, self.password = token, bearer, user, password
        self.secret = token
        self.account = ("Agent Smith", user)
        self.tickets: dict[int, Ticket] = {}
        self.users: dict[int, User] = {}
        self.articles: dict[int, Article] = {}
        self.agent = User(999, user, user, "Agent", "Smith")  # whom the credentials name
        self.forbidden: set[int] = set()  # tickets in groups the agent has no access to
        # The account's role has ticket.agent: without it (a customer) Zammad stores every
        # article with `internal: false`, whatever was asked, and still answers 201.
        self.ticket_agent = True
        self.groups = {"Users", "2nd Level"}  # groups the agent may create tickets in
        self.required: list[str] = []  # object attributes defined `null: false`
        self.extra: dict[int, dict[str, Any]] = {}  # a created ticket's other attributes
        self._ids = itertools.count(1)
        self._numbers = itertools.count(31001)
        super().__init__()

    # -- what the contract suite asks of every ticket fake ----------------------------
    def deny_internal(self) -> None:
        self.ticket_agent = False

    def tickets_config(self, secret_ref: str) -> TicketsConfig:
        """An agent's access token (Profile > Token Access)."""
        return TicketsConfig(kind="zammad", url=self.url, token=secret_ref,
                             new={"group": "Users", "customer": "samuel@example.com"})

    def deny_create(self) -> None:
        self.groups.clear()  # the agent keeps reading, but creates in no group

    def require_more(self) -> str:
        """An object attribute (category) defined `null: false`: needed on every create."""
        self.required.append("category")
        return "Category"

    def opened(self, ticket: str) -> tuple[str, str | None]:
        with self.lock:
            first = next(iter(self.articles_of(int(ticket))), None)
            return self.tickets[int(ticket)].title, first.body if first else None

    def create_ticket(self) -> str:
        return str(self.ticket().id)

    def notes(self, ticket: str) -> list[StoredNote]:
        with self.lock:
            return [StoredNote(str(a.id), a.body, a.internal)
                    for a in self.articles_of(int(ticket))]

    # -- set-up and inspection ----------------------------------------------------
    def customer(self, email: str, first: str = "Samuel", last: str = "Lee") -> User:
        user = User(next(self._ids), email, email, first, last)
        self.users[user.id] = user
        return user

    def ticket(self, title: str = "Please unlock my account", *, state: str = "open",
               group: str = "2nd Level", customer: str = "samuel@example.com") -> Ticket:
        known = next((u for u in self.users.values() if u.email == customer), None)
        who = known or self.customer(customer)
        ticket = Ticket(next(self._ids), str(next(self._numbers)), title, state, group, who.id)
        self.tickets[ticket.id] = ticket
        return ticket

    def article(self, ticket_id: int, body: str, *, internal: bool = True,
                type: str = "note", by: User | None = None, sender_from: str | None = None,
                created_at: str | None = None) -> Article:
        """An article as `by` wrote it (default: the API's agent); an e-mail's `from` is
        `sender_from`, whatever the mail said."""
        who = by or self.agent
        art = Article(next(self._ids), ticket_id, body, "text/plain", type, internal,
                      created_by_id=who.id, sender_from=sender_from,
                      sender="Agent" if who.id == self.agent.id or type == "note"
                      else "Customer")
        if created_at:
            art.created_at = created_at
        self.articles[art.id] = art
        return art

    def person(self, login: str, first: str, last: str) -> User:
        """Another user (an agent, an approver): known by id, login and e-mail."""
        user = User(next(self._ids), login, login, first, last)
        self.users[user.id] = user
        return user

    def articles_of(self, ticket_id: int) -> list[Article]:
        return [a for a in self.articles.values() if a.ticket_id == ticket_id]

    # -- errors ---------------------------------------------------------------------
    def _error(self, req: Request, status: int, message: str) -> Reply:
        if status == 429:  # Rack::Attack's default throttled response
            return text_reply(429, "Retry later\n")
        if status in (502, 503, 504):  # the reverse proxy in front of Rails
            return proxy_reply(status)
        if status == 500:
            message = "Error ID fake01: Please contact your administrator."
        return json_reply(status, {"error": message, "error_human": message})

    def _authenticated(self, req: Request) -> bool:
        if self.credentials_revoked:
            return False
        scheme, cred = req.authorization()
        if scheme == "Token":
            return cred == f"token={self.token}"
        if scheme == "Bearer":
            return self.bearer is not None and cred == self.bearer
        return req.basic_login() == (self.user, self.password)

    # -- routing ----------------------------------------------------------------------
    def _route(self, req: Request) -> Reply:
        if not self._authenticated(req):
            return self._error(req, 401, "Authentication failed")
        routes: Routes = [
            ("GET", r"/api/v1/tickets/(\d+)", self._get_ticket),
            ("PUT", r"/api/v1/tickets/(\d+)", self._update_ticket),
            ("GET", r"/api/v1/ticket_articles/by_ticket/(\d+)", self._by_ticket),
            ("POST", r"/api/v1/ticket_articles", self._create_article),
            ("POST", r"/api/v1/tickets", self._create_ticket),
            ("GET", r"/api/v1/users/(\d+)", self._get_user),
            ("GET", r"/api/v1/users/me", self._me),
        ]
        reply = self._dispatch(req, routes)
        if reply is None:
            return self._error(req, 404, f"No route matches [{req.method}] {req.path}")
        return reply

    def _ticket(self, ident: object) -> Ticket:
        try:
            ticket = self.tickets.get(int(str(ident)))
        except ValueError:
            ticket = None
        if ticket is None:
            raise BadRequest(f"Couldn't find Ticket with 'id'={ident}", status=404)
        if ticket.id in self.forbidden:
            raise BadRequest("Not authorized", status=403)
        return ticket

    def _ticket_json(self, t: Ticket, expand: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": t.id, "group_id": 2, "priority_id": 2, "state_id": STATES.index(t.state) + 1,
            "organization_id": None, "number": t.number, "title": t.title, "owner_id": 1,
            "customer_id": t.customer_id, "note": None,
            "article_count": len(self.articles_of(t.id)), "created_at": t.created_at,
            "updated_at": t.updated_at}
        if expand:
            customer = self.users[t.customer_id]
            out.update({"state": t.state, "group": t.group, "priority": t.priority,
                        "owner": t.owner, "customer": customer.login, "organization": None,
                        "article_ids": [a.id for a in self.articles_of(t.id)]})
        return out

    def _get_ticket(self, req: Request, ident: str) -> Reply:
        ticket = self._ticket(ident)
        return json_reply(200, self._ticket_json(ticket, req.arg("expand") == "true"))

    def _update_ticket(self, req: Request, ident: str) -> Reply:
        ticket = self._ticket(ident)
        data = req.json()
        if not isinstance(data, dict):
            raise BadRequest("Need a JSON object", status=422)
        for key, value in data.items():
            if key == "state":
                if value not in STATES:
                    raise BadRequest(f"No lookup value found for 'state': {value!r}", status=422)
                ticket.state = value
            elif key == "title" and isinstance(value, str):
                ticket.title = value
            else:
                raise BadRequest(f"unknown attribute '{key}' for Ticket.", status=422)
        ticket.updated_at = _now()
        return json_reply(200, self._ticket_json(ticket, req.arg("expand") == "true"))

    def _article_json(self, a: Article) -> dict[str, Any]:
        creator = self.agent if a.created_by_id == self.agent.id \
            else self.users[a.created_by_id]
        shown = a.sender_from if a.sender_from is not None \
            else f"{creator.firstname} {creator.lastname}"
        return {"id": a.id, "ticket_id": a.ticket_id, "from": shown, "to": a.to,
                "cc": "", "subject": a.subject, "body": a.body, "content_type": a.content_type,
                "type": a.type, "type_id": ARTICLE_TYPES.index(a.type) + 1,
                "sender": a.sender, "sender_id": {"Agent": 1, "Customer": 2}[a.sender],
                "internal": a.internal, "created_by_id": a.created_by_id,
                "created_by": creator.login,
                "updated_by_id": a.updated_by_id or a.created_by_id,
                "updated_by": self._login(a.updated_by_id or a.created_by_id),
                "origin_by_id": None,
                "attachments": [{"id": n + 1, "filename": att["filename"],
                                 "size": str(len(att["data"])),
                                 "preferences": {"Mime-Type": att["mime-type"]}}
                                for n, att in enumerate(a.attachments)],
                "created_at": a.created_at, "updated_at": a.created_at}

    def _login(self, user_id: int) -> str:
        return self.agent.login if user_id == self.agent.id else self.users[user_id].login

    def _by_ticket(self, req: Request, ident: str) -> Reply:
        ticket = self._ticket(ident)
        return json_reply(200, [self._article_json(a) for a in self.articles_of(ticket.id)])

    def _create_ticket(self, req: Request) -> Reply:
        data = req.json()
        if not isinstance(data, dict):
            raise BadRequest("Need a JSON object", status=422)
        known = {"title", "group", "group_id", "customer_id", "customer", "state",
                 "priority", "article", "note", *self.required}
        if unknown := set(data) - known:
            raise BadRequest(f"unknown attribute '{sorted(unknown)[0]}' for Ticket.",
                             status=422)
        for name in ("title", "group", "customer_id", *self.required):
            if name == "group" and "group_id" in data:
                continue
            if not str(data.get(name) or "").strip():
                raise BadRequest(f"{name.replace('_id', '').title()} can't be blank",
                                 status=422)
        group = str(data.get("group") or "")
        if group not in {"Users", "2nd Level", "Sales"}:
            raise BadRequest(f"No lookup value found for 'group': {group!r}", status=422)
        customer = data["customer_id"]
        if isinstance(customer, str) and customer.startswith("guess:"):
            email = customer.removeprefix("guess:")
            if "@" not in email:
                raise BadRequest(f"No lookup value found for 'customer': {email!r}",
                                 status=422)
            who = next((u for u in self.users.values() if u.email == email), None) \
                or self.customer(email)
        elif isinstance(customer, int) and customer in self.users:
            who = self.users[customer]
        else:
            raise BadRequest(f"No lookup value found for 'customer_id': {customer!r}",
                             status=422)
        if group not in self.groups:
            raise BadRequest("Not authorized", status=403)
        article = data.get("article")
        if article is not None and (not isinstance(article, dict)
                                    or set(article) - ARTICLE_KEYS):
            raise BadRequest("unknown attribute for Ticket::Article.", status=422)
        ticket = self.ticket(str(data["title"]), state="new", group=group, customer=who.email)
        self.extra[ticket.id] = {k: data[k] for k in self.required}
        if article:
            art = self.article(ticket.id, str(article.get("body") or ""),
                               internal=article.get("internal") is True and self.ticket_agent,
                               type=str(article.get("type") or "note"))
            art.subject = str(article.get("subject") or "")
        return json_reply(201, self._ticket_json(ticket, False))

    def _create_article(self, req: Request) -> Reply:
        data = req.json()
        if not isinstance(data, dict):
            raise BadRequest("Need a JSON object", status=422)
        if unknown := set(data) - ARTICLE_KEYS:
            raise BadRequest(f"unknown attribute '{sorted(unknown)[0]}' for Ticket::Article.",
                             status=422)
        ticket = self._ticket(data.get("ticket_id"))
        body, kind = data.get("body", ""), data.get("type", "note")
        content_type = data.get("content_type", "text/plain")
        internal = data.get("internal", False)
        if not isinstance(body, str) or not (body.strip() or data.get("attachments")):
            raise BadRequest("Need at least article: body or attachments", status=422)
        if kind not in ARTICLE_TYPES:
            raise BadRequest(f"No lookup value found for 'type': {kind!r}", status=422)
        if content_type not in ("text/plain", "text/html"):
            raise BadRequest(f"Invalid content_type {content_type!r}", status=422)
        if not isinstance(internal, bool):
            raise BadRequest("internal must be true or false", status=422)
        if kind == "email" and not data.get("to"):
            raise BadRequest("an email article needs a recipient in 'to'", status=422)
        attachments = []
        for att in data.get("attachments") or []:
            if not isinstance(att, dict) or not all(isinstance(att.get(k), str) for k in (
                    "filename", "data", "mime-type")):
                raise BadRequest("attachments need filename, data and mime-type", status=422)
            try:
                raw = base64.b64decode(att["data"], validate=True)
            except binascii.Error:
                raise BadRequest("Invalid base64 in attachment data", status=422) from None
            attachments.append({"filename": att["filename"], "data": raw,
                                "mime-type": att["mime-type"]})
        internal = internal and self.ticket_agent
        art = Article(next(self._ids), ticket.id, body, content_type, kind, internal,
                      str(data.get("subject") or ""), str(data.get("to") or ""), attachments)
        self.articles[art.id] = art
        ticket.updated_at = _now()
        return json_reply(201, self._article_json(art))

    def _me(self, req: Request) -> Reply:
        me = self.agent
        role_ids = [2] if self.ticket_agent else [3]  # out of the box: Agent, or Customer
        data: dict[str, Any] = {
            "id": me.id, "login": me.login, "email": me.email, "firstname": me.firstname,
            "lastname": me.lastname, "active": True, "verified": False, "role_ids": role_ids,
            "group_ids": {"2": ["full"]}, "login_failed": 0, "preferences": {"locale": "en-us"}}
        if req.arg("expand") == "true":  # ids resolved to names, as `expand=true` does
            data["roles"] = [{1: "Admin", 2: "Agent", 3: "Customer"}[i] for i in role_ids]
        return json_reply(200, data)

    def _get_user(self, req: Request, ident: str) -> Reply:
        user = self.users.get(int(ident))
        if user is None:
            raise BadRequest(f"Couldn't find User with 'id'={ident}", status=404)
        return json_reply(200, {"id": user.id, "login": user.login, "email": user.email,
                                "firstname": user.firstname, "lastname": user.lastname,
                                "active": user.active})
