"""A ServiceNow fake: the Table and Attachment APIs as adminkit uses them, over real HTTP.

What it follows (ServiceNow's REST API reference, "Table API" and "Attachment API", and
"REST API HTTP response codes" / "Inbound REST API rate limiting"):

- `GET /api/now/table/{table}?sysparm_query=&sysparm_limit=&sysparm_fields=
  &sysparm_display_value=true|false|all&sysparm_exclude_reference_link=` -> `{"result": [..]}`;
  a valid query that matches nothing is 200 with an empty array (the v1 answer, 404, can be
  switched on with `empty_as_404`). Encoded queries: `a=b^c!=d^eLIKEf^gINh,i^ORj=k`,
  `STARTSWITH`, `ORDERBY`/`ORDERBYDESC`. A condition on an unknown field is ignored, as an
  instance does by default (glide.invalid_query.returns_no_rows=false); each one is
  recorded in `ignored_query` so a test sees the mistake.
  A value starting with `javascript:` is what an instance runs as a server-side script:
  the fake records it in `scripts_run` (and matches it as text).
- `GET /api/now/table/{table}/{sys_id}` -> `{"result": {...}}` or 404.
- `PATCH /api/now/table/{table}/{sys_id}` (JSON) updates the record; `work_notes` and
  `comments` are journal fields: a value becomes a new `sys_journal_field` entry (element,
  element_id, name, value). Unknown fields are ignored (recorded in `ignored_fields`).
  `sysparm_input_display_value=true` takes choice labels ("Resolved") for values ("6").
  Incidents have the out-of-box data policy: resolving or closing needs close_code and
  close_notes, else 403 "Data Policy Exception".
- `POST /api/now/table/{table}` (JSON) inserts a record -> 201 `{"result": {...}}` with
  its number and sys_id, and Location; unknown fields are ignored (recorded in
  `ignored_fields`); a create ACL that refuses is 403 "ACL Exception Insert Failed due
  to security constraints"; a data policy's mandatory field left empty is 403 "Data
  Policy Exception" naming it (`mandatory`).
- `GET /api/now/table/sys_journal_field?sysparm_query=element_id=..^element=..^valueLIKE..`.
- `GET /api/now/table/sys_user?sysparm_query=user_name=..`: the user records (the API
  account's own among them); `users_readable = False` hides every row, as a read ACL would.
- `POST /api/now/attachment/file?table_name=&table_sys_id=&file_name=` with the file as
  the body and its Content-Type -> 201 `{"result": {attachment metadata}}` and Location.
- Errors: `{"error": {"message": ..., "detail": ...}, "status": "failure"}`; 401 "User Not
  Authenticated"; 404 "No Record found" / "Record doesn't exist or ACL restricts the record
  retrieval"; 400 for a URI that is no API; 429 "Rate limit exceeded" with Retry-After
  (seconds to wait, always sent) and X-RateLimit-Limit/-Reset/-Rule ("Inbound REST API
  rate limiting").

Auth: Basic user:password, or `Bearer <OAuth access token>`: the fixed `token`, or one the
OAuth endpoint issued. `POST /oauth_token.do` (form: grant_type=client_credentials,
client_id, client_secret) answers `{"access_token", "expires_in": 1799, "token_type":
"Bearer", "scope"}` for a known client, 401 `{"error": "server_error",
"error_description": "access_denied"}` otherwise; an issued token stops working when it
expires (`token_lifetime`, 30 minutes by default; `expire_tokens()` ages them all).
"""

from __future__ import annotations

import itertools
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from adminkit.tickets.settings import TicketsConfig
from tests.fakes.httpserver import BadRequest, Reply, Request, Routes, ServerFake, json_reply
from tests.fakes.ticketfake import StoredNote

TABLE_OF_PREFIX = {"INC": "incident", "RITM": "sc_req_item", "REQ": "sc_request",
                   "CHG": "change_request", "PRB": "problem", "SCTASK": "sc_task"}
STATES = {"1": "New", "2": "In Progress", "3": "On Hold", "6": "Resolved", "7": "Closed",
          "8": "Canceled"}
REFERENCES = {"caller_id": "sys_user", "opened_by": "sys_user", "requested_for": "sys_user",
              "requested_by": "sys_user", "assignment_group": "sys_user_group"}
TASK_FIELDS = {"sys_id", "number", "short_description", "description", "state", "priority",
               "caller_id", "opened_by", "requested_for", "requested_by", "assignment_group",
               "sys_class_name", "sys_mod_count", "sys_updated_on", "sys_created_on",
               "work_notes", "comments", "close_code", "close_notes", "active", "category"}
JOURNAL_FIELDS = {"sys_id", "element_id", "element", "name", "value", "sys_created_on",
                  "sys_created_by"}
USER_FIELDS = {"sys_id", "user_name", "name", "first_name", "last_name", "email", "active",
               "web_service_access_only"}
JOURNALS = ("work_notes", "comments")
CONDITION = re.compile(r"([a-z_][a-z0-9_.]*?)(!=|=|LIKE|STARTSWITH|ENDSWITH|IN)(.*)", re.S)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _sys_id() -> str:
    return uuid.uuid4().hex


@dataclass
class Attachment:
    sys_id: str
    table_name: str
    table_sys_id: str
    file_name: str
    content_type: str
    data: bytes


@dataclass
class Store:
    tables: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    journal: list[dict[str, str]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # sys_id of a user or group -> name
    users: dict[str, dict[str, str]] = field(default_factory=dict)  # sys_user rows by sys_id


class FakeServiceNow(ServerFake):
    kind = "servicenow"
    refusal = "401"
    note_write = ("PATCH", "/api/now/table/")
    note_refusal = 400  # refused for good: a data policy or a business rule
    missing_ticket = "INC0099999"

    def __init__(self, *, user: str = "adminkit.integration",
                 password: str = "snow-password-1",  # noqa: S107 - a test credential
                 token: str | None = None) -> None:
        self.user, self.password, self.token = user, password, token
        self.secret = password
        self.account = ("Adminkit Integration", user)
        self.store = Store()
        self.ignored_query: list[str] = []
        self.scripts_run: list[str] = []  # query values an instance would run as script
        self.ignored_fields: list[str] = []
        self.empty_as_404 = False  # answer an empty result like Table API v1: 404
        self.journal_readable = True  # False: sys_journal_field's read ACL hides every row
        self.users_readable = True  # False: sys_user's read ACL hides every row
        api_user = {"sys_id": _sys_id(), "user_name": user, "name": "Adminkit Integration",
                    "first_name": "Adminkit", "last_name": "Integration",
                    "email": "adminkit@example.com", "active": "true",
                    "web_service_access_only": "true"}
        self.store.users[api_user["sys_id"]] = api_user
        # An instance is never without journal entries (demo data, any record's history):
        # one on a record of its own, so a read of sys_journal_field finds a row.
        self.store.journal.append({
            "sys_id": _sys_id(), "element_id": _sys_id(), "element": "work_notes",
            "name": "incident", "value": "Out-of-box demo work note", "sys_created_on": _now(),
            "sys_created_by": "admin"})
        self.oauth_clients: dict[str, str] = {}  # client id -> secret (Application Registry)
        self.token_lifetime = 1800.0  # glide.oauth access token lifespan, seconds
        self.issued: dict[str, float] = {}  # access token -> time.monotonic() it expires
        self.read_only: set[str] = set()  # fields a write ACL silently drops from updates
        self.unqueryable: set[str] = set()  # fields whose query conditions the instance drops
        self._numbers = itertools.count(20001)
        self.may_create = True  # False: the create ACL on incident refuses the account
        self.mandatory: dict[str, str] = {}  # data policy on insert: field -> its label
        super().__init__()

    # -- what the contract suite asks of every ticket fake ----------------------------
    def tickets_config(self, secret_ref: str) -> TicketsConfig:
        """An integration account's user name and password, HTTP Basic."""
        return TicketsConfig(kind="servicenow", url=self.url, user=self.user,
                             password=secret_ref)

    def create_ticket(self) -> str:
        return self.record(f"INC{next(self._numbers):07d}")["number"]

    def deny_create(self) -> None:
        self.may_create = False

    def require_more(self) -> str:
        """A data policy makes a field adminkit does not fill mandatory on insert."""
        self.mandatory["priority"] = "Priority"
        return "Priority"

    def opened(self, ticket: str) -> tuple[str, str | None]:
        with self.lock:
            rec = self.find(ticket)
            return rec["short_description"], rec["description"]

    def notes(self, ticket: str) -> list[StoredNote]:
        """The record's journal entries: work notes are internal, comments reach the caller."""
        with self.lock:
            sys_id = self.find(ticket)["sys_id"]
            return [StoredNote(j["sys_id"], j["value"], internal=j["element"] == "work_notes")
                    for j in self.store.journal if j["element_id"] == sys_id]

    def mistakes(self) -> list[str]:
        """Calls no route answers; query conditions and fields an instance drops."""
        return [*self.unknown, *self.ignored_query, *self.ignored_fields]

    # -- set-up and inspection ----------------------------------------------------
    def _person(self, name: str) -> str:
        """The sys_id of a group, or of the first user shown by this name (one is made)."""
        for sys_id, known in self.store.names.items():
            if known == name:
                return sys_id
        sys_id = _sys_id()
        self.store.names[sys_id] = name
        return sys_id

    def sys_user(self, name: str, user_name: str) -> str:
        """A sys_user record: its sys_id. Display names need not be unique (two people
        may both be "Anna Example"); user_name is."""
        assert all(u["user_name"] != user_name for u in self.store.users.values())
        sys_id = _sys_id()
        first, _, last = name.partition(" ")
        self.store.users[sys_id] = {  # `active` set "false": the person has left
            "sys_id": sys_id, "user_name": user_name, "name": name, "first_name": first,
            "last_name": last, "email": f"{user_name}@example.com", "active": "true",
            "web_service_access_only": "false"}
        self.store.names.setdefault(sys_id, name)
        return sys_id

    def record(self, number: str, short_description: str = "Please unlock my account", *,
               state: str = "2", caller: str = "Anna Example",
               group: str = "Service Desk", caller_id: str | None = None) -> dict[str, str]:
        """A task record; `caller_id` (a sys_user sys_id) picks one of two people who
        share a name."""
        table = TABLE_OF_PREFIX[number.rstrip("0123456789")]
        person, team = caller_id or self._person(caller), self._person(group)
        rec = {"sys_id": _sys_id(), "number": number, "short_description": short_description,
               "description": "", "state": state, "priority": "3", "caller_id": person,
               "opened_by": person, "requested_for": person, "requested_by": person,
               "assignment_group": team, "sys_class_name": table, "sys_mod_count": "0",
               "sys_created_on": _now(), "sys_updated_on": _now(), "work_notes": "",
               "comments": "", "close_code": "", "close_notes": "", "active": "true",
               "category": "inquiry"}
        self.store.tables.setdefault(table, {})[rec["sys_id"]] = rec
        return rec

    def find(self, number: str) -> dict[str, str]:
        for rows in self.store.tables.values():
            for rec in rows.values():
                if rec["number"] == number:
                    return rec
        raise KeyError(number)

    def journal_entry(self, number: str, value: str, element: str = "work_notes", *,
                      by: str | None = None) -> str:
        """A note on the record, written by the user named `by` (a user_name, as
        sys_created_by keeps it; the API account by default)."""
        rec = self.find(number)
        entry = {"sys_id": _sys_id(), "element_id": rec["sys_id"], "element": element,
                 "name": rec["sys_class_name"], "value": value, "sys_created_on": _now(),
                 "sys_created_by": by or self.user}
        self.store.journal.append(entry)
        return entry["sys_id"]

    def journal_of(self, number: str) -> list[tuple[str, str]]:
        """(element, value) of every journal entry on the record, oldest first."""
        sys_id = self.find(number)["sys_id"]
        return [(j["element"], j["value"]) for j in self.store.journal
                if j["element_id"] == sys_id]

    # -- errors ---------------------------------------------------------------------
    def _error(self, req: Request, status: int, message: str,
               detail: str | None = None) -> Reply:
        headers: dict[str, str] = {}
        if status == 429:  # Retry-After comes always; an ordered-up one replaces this one
            message, detail = "Rate limit exceeded", "The rate limit rule has been exceeded"
            headers = {"X-RateLimit-Limit": "60", "X-RateLimit-Reset": str(int(time.time()) + 60),
                       "X-RateLimit-Rule": "b8a4f6d1db7e2010fake", "Retry-After": "60"}
        elif status == 401:
            message, detail = "User Not Authenticated", "Required to provide Auth information"
        return json_reply(status, {"error": {"message": message, "detail": detail},
                                   "status": "failure"}, headers)

    def _authenticated(self, req: Request) -> bool:
        if self.credentials_revoked:
            return False
        scheme, cred = req.authorization()
        if scheme == "Basic":
            return req.basic_login() == (self.user, self.password)
        if scheme != "Bearer":
            return False
        if cred in self.issued:
            return time.monotonic() < self.issued[cred]
        return self.token is not None and cred == self.token

    def expire_tokens(self) -> None:
        """Every issued access token is past its lifespan now."""
        with self.lock:
            self.issued = dict.fromkeys(self.issued, 0.0)

    def _oauth_token(self, req: Request) -> Reply:
        from urllib.parse import parse_qs

        if req.content_type != "application/x-www-form-urlencoded":
            return json_reply(400, {"error": "invalid_request",
                                    "error_description": "form body expected"})
        form = {k: v[0] for k, v in parse_qs(req.body.decode()).items()}
        client, secret = form.get("client_id", ""), form.get("client_secret")
        if form.get("grant_type") != "client_credentials" or self.credentials_revoked or \
                self.oauth_clients.get(client) != secret:
            return json_reply(401, {"error": "server_error", "error_description": "access_denied"})
        token = uuid.uuid4().hex + uuid.uuid4().hex
        self.issued[token] = time.monotonic() + self.token_lifetime
        return json_reply(200, {"access_token": token, "scope": "useraccount",
                                "token_type": "Bearer", "expires_in": int(self.token_lifetime) - 1})

    # -- routing ----------------------------------------------------------------------
    def _route(self, req: Request) -> Reply:
        if req.method == "POST" and req.path == "/oauth_token.do":
            return self._oauth_token(req)
        if not self._authenticated(req):
            return self._error(req, 401, "")
        accept = req.header("accept") or "application/json"
        if "json" not in accept and "*/*" not in accept:
            return self._error(req, 406, "Not Acceptable", f"cannot answer in {accept}")
        routes: Routes = [
            ("GET", r"/api/now/table/([a-z_0-9]+)", self._list),
            ("GET", r"/api/now/table/([a-z_0-9]+)/([0-9a-f]{32})", self._read),
            ("PATCH", r"/api/now/table/([a-z_0-9]+)/([0-9a-f]{32})", self._update),
            ("PUT", r"/api/now/table/([a-z_0-9]+)/([0-9a-f]{32})", self._update),
            ("POST", r"/api/now/attachment/file", self._attach),
            ("POST", r"/api/now/table/([a-z_0-9]+)", self._insert),
        ]
        reply = self._dispatch(req, routes)
        if reply is None:
            return self._error(req, 400, "Requested URI does not represent any resource")
        return reply

    def _rows(self, table: str) -> list[dict[str, str]]:
        if table == "sys_journal_field":
            return self.store.journal if self.journal_readable else []
        if table == "sys_user":
            return list(self.store.users.values()) if self.users_readable else []
        if table not in TABLE_OF_PREFIX.values():
            raise BadRequest(f"Invalid table {table}")
        return list(self.store.tables.get(table, {}).values())

    def _render(self, req: Request, row: dict[str, str]) -> dict[str, Any]:
        mode = (req.arg("sysparm_display_value") or "false").lower()
        no_links = (req.arg("sysparm_exclude_reference_link") or "false").lower() == "true"
        wanted = [f for f in (req.arg("sysparm_fields") or "").split(",") if f]
        out: dict[str, Any] = {}
        for name in wanted or list(row):
            if name not in row:
                continue  # "Invalid fields are ignored."
            value = row[name]
            display = (STATES.get(value, value) if name == "state"
                       else self.store.names.get(value, value) if name in REFERENCES
                       else self._history(row, name) if name in JOURNALS else value)
            link = (f"{self.url}/api/now/table/{REFERENCES[name]}/{value}"
                    if name in REFERENCES and value and not no_links else None)
            if mode == "all":
                out[name] = {"display_value": display, "value": value}
            elif mode == "true":
                out[name] = display
            else:
                out[name] = value
            if link is not None:
                out[name] = ({**out[name], "link": link} if isinstance(out[name], dict)
                             else {"link": link, "value" if mode == "false" else
                                   "display_value": out[name]})
        return out

    def _history(self, row: dict[str, str], element: str) -> str:
        """A journal field's display value: every entry, newest first, as the form shows it."""
        label = {"work_notes": "Work notes", "comments": "Additional comments"}[element]
        entries = [j for j in self.store.journal
                   if j["element_id"] == row["sys_id"] and j["element"] == element]
        return "".join(f"{j['sys_created_on']} - {j['sys_created_by']} ({label})\n{j['value']}\n\n"
                       for j in reversed(entries))

    def _matches(self, query: str, row: dict[str, str], known: set[str]) -> bool:
        groups: list[list[tuple[str, str, str]]] = []
        for part in [p for p in query.split("^") if p]:
            if part.startswith(("ORDERBY", "NQ")):
                continue
            is_or = part.startswith("OR") and bool(groups)
            m = CONDITION.fullmatch(part[2:] if is_or else part)
            if m is None or m.group(1) not in known or m.group(1) in self.unqueryable:
                self.ignored_query.append(part)  # an instance drops what it cannot parse
                continue
            if m.group(3).lower().startswith("javascript:"):
                self.scripts_run.append(m.group(3))
            if is_or:
                groups[-1].append((m.group(1), m.group(2), m.group(3)))
            else:
                groups.append([(m.group(1), m.group(2), m.group(3))])

        def test(name: str, op: str, value: str) -> bool:
            have = row.get(name, "")
            return {"=": have == value, "!=": have != value, "LIKE": value in have,
                    "STARTSWITH": have.startswith(value), "ENDSWITH": have.endswith(value),
                    "IN": have in value.split(",")}[op]

        return all(any(test(*cond) for cond in group) for group in groups)

    def _list(self, req: Request, table: str) -> Reply:
        rows = self._rows(table)
        known = {"sys_journal_field": JOURNAL_FIELDS, "sys_user": USER_FIELDS}.get(table,
                                                                                TASK_FIELDS)
        query = req.arg("sysparm_query") or ""
        chosen = [r for r in rows if self._matches(query, r, known)]
        for part in reversed([p for p in query.split("^") if p.startswith("ORDERBY")]):
            desc = part.startswith("ORDERBYDESC")
            name = part[len("ORDERBYDESC" if desc else "ORDERBY"):]
            if name not in known:
                self.ignored_query.append(part)
                continue
            chosen.sort(key=lambda r, n=name: r.get(n, ""), reverse=desc)  # stable, as SQL'd be
        try:
            limit = int(req.arg("sysparm_limit") or 10000)
            offset = int(req.arg("sysparm_offset") or 0)
        except ValueError:
            raise BadRequest("sysparm_limit and sysparm_offset must be numbers") from None
        page = chosen[offset:offset + limit]
        if not page and self.empty_as_404:
            raise BadRequest("No Record found", status=404)
        return json_reply(200, {"result": [self._render(req, r) for r in page]},
                          {"X-Total-Count": str(len(chosen))})

    def _get(self, table: str, sys_id: str) -> dict[str, str]:
        if table == "sys_user":  # read only; a read ACL hides every row
            row = self.store.users.get(sys_id) if self.users_readable else None
            if row is None:
                raise BadRequest("No Record found", status=404)
            return row
        if table not in TABLE_OF_PREFIX.values():
            raise BadRequest(f"Invalid table {table}")
        row = self.store.tables.get(table, {}).get(sys_id)
        if row is None:
            raise BadRequest("No Record found", status=404)
        return row

    def _read(self, req: Request, table: str, sys_id: str) -> Reply:
        return json_reply(200, {"result": self._render(req, self._get(table, sys_id))})

    def _update(self, req: Request, table: str, sys_id: str) -> Reply:
        if table == "sys_user":
            raise BadRequest(f"Invalid table {table}")  # not written by adminkit
        row = self._get(table, sys_id)
        data = req.json()
        if not isinstance(data, dict):
            raise BadRequest("Invalid request body: expected a JSON object")
        as_display = (req.arg("sysparm_input_display_value") or "false").lower() == "true"
        changes: dict[str, str] = {}
        for name, value in data.items():
            if name not in TASK_FIELDS or name in ("sys_id", "number", "sys_class_name"):
                self.ignored_fields.append(name)
                continue
            if not isinstance(value, str | int | bool):
                raise BadRequest(f"Invalid value for field {name}")
            text = str(value).lower() if isinstance(value, bool) else str(value)
            if name == "state" and as_display:
                text = next((v for v, label in STATES.items() if label == text), text)
            changes[name] = text
        state = changes.get("state", row["state"])
        if table == "incident" and state in ("6", "7") and not all(
                changes.get(f) or row.get(f) for f in ("close_code", "close_notes")):
            return self._error(req, 403, "Operation Failed", "Data Policy Exception: \n The "
                               "following fields are mandatory: Resolution code, Resolution notes")
        changed = False
        for name, text in changes.items():
            if name in self.read_only:
                continue  # the Table API leaves out what the account may not write, silently
            if name in JOURNALS:
                if text.strip():
                    self.store.journal.append({
                        "sys_id": _sys_id(), "element_id": sys_id, "element": name,
                        "name": table, "value": text, "sys_created_on": _now(),
                        "sys_created_by": self.user})
                    changed = True
            elif row[name] != text:
                row[name] = text
                changed = True
        if changed:  # an update that changes nothing is not an update
            row["sys_mod_count"] = str(int(row["sys_mod_count"]) + 1)
            row["sys_updated_on"] = _now()
        return json_reply(200, {"result": self._render(req, row)})

    def _insert(self, req: Request, table: str) -> Reply:
        if table not in TABLE_OF_PREFIX.values():
            raise BadRequest(f"Invalid table {table}")
        data = req.json()
        if not isinstance(data, dict):
            raise BadRequest("Invalid request body: expected a JSON object")
        if not self.may_create:
            return self._error(req, 403, "Operation Failed", "ACL Exception Insert Failed due "
                               "to security constraints")
        fields: dict[str, str] = {}
        for name, value in data.items():
            if name not in TASK_FIELDS or name in ("sys_id", "number", "sys_class_name",
                                                   "sys_mod_count", "sys_created_on",
                                                   "sys_updated_on") or name in JOURNALS:
                self.ignored_fields.append(name)
            elif not isinstance(value, str | int | bool):
                raise BadRequest(f"Invalid value for field {name}")
            else:
                fields[name] = str(value)
        lacking = [label for name, label in self.mandatory.items() if not fields.get(name)]
        if lacking:
            return self._error(req, 403, "Operation Failed", "Data Policy Exception: \n The "
                               f"following fields are mandatory: {', '.join(lacking)}")
        prefix = next(p for p, t in TABLE_OF_PREFIX.items() if t == table)
        rec = self.record(f"{prefix}{next(self._numbers):07d}", state="1")
        rec.update({"caller_id": "", "assignment_group": "", "category": "", **fields})
        return json_reply(201, {"result": self._render(req, rec)},
                          {"Location": f"{self.url}/api/now/table/{table}/{rec['sys_id']}"})

    def _attach(self, req: Request) -> Reply:
        table, sys_id = req.arg("table_name"), req.arg("table_sys_id")
        file_name = req.arg("file_name")
        if not (table and sys_id and file_name):
            raise BadRequest("Missing one of the required parameters table_name, "
                             "table_sys_id, file_name")
        if not req.header("content-type"):
            raise BadRequest("Content-Type header is mandatory to post file attachments")
        try:
            self._get(table, sys_id)
        except BadRequest:
            raise BadRequest("Record doesn't exist or ACL restricts the record retrieval",
                             status=404) from None
        att = Attachment(_sys_id(), table, sys_id, file_name, req.content_type, req.body)
        self.store.attachments.append(att)
        link = f"{self.url}/api/now/attachment/{att.sys_id}"
        return json_reply(201, {"result": {
            "sys_id": att.sys_id, "table_name": table, "table_sys_id": sys_id,
            "file_name": file_name, "content_type": att.content_type,
            "size_bytes": str(len(att.data)), "download_link": f"{link}/file",
            "sys_created_on": _now()}}, {"Location": link})

