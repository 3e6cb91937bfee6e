"""ServiceNow over the Table API: work notes are internal, additional comments reach the caller.

A reference is a record number (INC0012345); the Table API addresses records by sys_id,
so a call first looks the number up in the table its prefix names (INC incident, RITM
sc_req_item, REQ sc_request, CHG change_request, PRB problem, SCTASK sc_task; or
`options.table` / `options.tables`). Two Table API habits shape the code: a query
condition the instance cannot use is silently dropped, so every answer is checked on our
side too; and a field the account may not write is silently left out of an update, so
`add_note` compares `sys_mod_count` before and after instead of trusting the 200.

Options (`tickets.options`): `table`, `tables` ({prefix: table}), `resolve_fields` (sent
with a move to Resolved/Closed, e.g. {"close_code": "Solution provided", "close_notes":
"..."}: an incident's data policy requires them; labels as the form shows them when
the status is given as a word, stored values when it is a number), `find_notes_in`
("journal", the sys_journal_field table, default; or "record": the journal fields'
display text, for an account that may not read sys_journal_field).
Auth: user+password is Basic; client_id + client_secret are OAuth client credentials,
each request carrying a bearer token fetched and renewed as it expires (`tickets.oauth`);
token is a fixed Bearer OAuth access token (it expires: 30 minutes by default).
"""

from __future__ import annotations

import mimetypes
import re
from typing import TYPE_CHECKING, Any

from adminkit.core.config import Profile
from adminkit.core.errors import ActionFailed, ConnectionFailed, UsageError
from adminkit.tickets.base import (
    ID_PATTERNS,
    Rejected,
    Ticket,
    TicketNotFound,
    TicketRef,
    text_of,
    user_ref,
)
from adminkit.tickets.http import (
    PageGuard,
    basic_auth,
    check,
    check_login,
    client,
    error_json,
    send,
)
from adminkit.tickets.http import json_body as _json
from adminkit.tickets.markup import snow_journal
from adminkit.tickets.settings import ticket_settings

if TYPE_CHECKING:
    import httpx

TABLES = {"INC": "incident", "RITM": "sc_req_item", "REQ": "sc_request",
          "CHG": "change_request", "PRB": "problem", "SCTASK": "sc_task"}
REQUESTER = {"incident": "caller_id", "sc_request": "requested_for",
             "sc_req_item": "requested_for", "change_request": "requested_by"}
DONE_STATES = {"6", "7", "resolved", "closed"}  # out-of-box task states that end the work
JOURNALS = "work_notes,comments"
PAGE = 100  # journal entries per request when listing notes
TABLE_NAME = re.compile(r"[a-z][a-z0-9_]{0,79}")
SYS_ID = re.compile(r"[0-9a-f]{32}")
# What an encoded query's value must not hold: `^` starts another condition, and an
# instance runs a value that starts with `javascript:` as a server-side script.
NOT_PLAIN = re.compile(r"[\^\x00-\x1f\x7f]|javascript:", re.IGNORECASE)


class NoteNotSaved(TicketNotFound):
    """The instance answered 200 but kept nothing: the account may not write that field."""



def _result(response: httpx.Response, what: str, shape: type = dict) -> Any:
    """The Table API's `{"result": ...}` member: a record (dict) or a list of them."""
    result = _json(response, what).get("result")
    if not isinstance(result, shape):
        raise ConnectionFailed(f"{what}: expected a result {shape.__name__}, got "
                               f"{type(result).__name__}")
    return result


def _no_record(response: httpx.Response) -> bool:
    """Table API v1's 404 for a query that matched nothing (or nothing readable), told
    apart from a 404 for an address that is no API at all."""
    return response.status_code == 404 and _reason(response).startswith("No Record found")


def _reason(response: httpx.Response) -> str:
    """ServiceNow's own words from `{"error": {"message", "detail"}}`, shortened."""
    error = error_json(response).get("error")
    if not isinstance(error, dict):
        return response.text[:200]
    words = [str(error.get(k)).strip() for k in ("message", "detail") if error.get(k)]
    return "; ".join(words)[:300] or f"HTTP {response.status_code}"


class ServiceNow:
    kind = "servicenow"

    def __init__(self, profile: Profile) -> None:
        cfg = ticket_settings(profile)
        assert cfg is not None
        self.user: str | None = None  # known for Basic only: a token names no user here
        oauth = None
        if cfg.client_id and cfg.client_secret:
            from adminkit.tickets.oauth import ClientCredentials

            oauth = ClientCredentials(
                f"{(cfg.url or '').rstrip('/')}/oauth_token.do",
                profile.secret(cfg.client_id, "ServiceNow OAuth client id"),
                profile.secret(cfg.client_secret, "ServiceNow OAuth client secret"),
                "ServiceNow")
            auth = ""
        elif cfg.user and cfg.password:
            auth = basic_auth(profile, cfg, "ServiceNow password")
            self.user = cfg.user
        elif cfg.token:
            auth = f"Bearer {profile.secret(cfg.token, 'ServiceNow OAuth token').reveal()}"
        else:
            raise UsageError(f"profile {profile.name}: ServiceNow needs tickets.user and "
                             "tickets.password, tickets.client_id and tickets.client_secret "
                             "(OAuth client credentials), or tickets.token (an OAuth access "
                             "token)")
        opts = cfg.options
        self.table = opts.get("table")
        self.tables = {**TABLES, **{str(k).upper(): v for k, v in
                                    dict(opts.get("tables") or {}).items()}}
        for table in [self.table, *self.tables.values()]:
            if table is not None and not (isinstance(table, str) and TABLE_NAME.fullmatch(table)):
                raise UsageError(f"profile {profile.name}: tickets.options: {table!r} is not a "
                                 "ServiceNow table name")
        self.resolve_fields = {str(k): str(v) for k, v in
                               dict(opts.get("resolve_fields") or {}).items()}
        self.find_in = str(opts.get("find_notes_in", "journal"))
        if self.find_in not in ("journal", "record"):
            raise UsageError(f"profile {profile.name}: tickets.options.find_notes_in must be "
                             "journal or record")
        self._records: dict[str, tuple[str, str]] = {}
        self.new = cfg.new  # what `create` sets on a new incident
        headers = {"Accept": "application/json", **({"Authorization": auth} if auth else {})}
        self.http = client(profile, cfg, headers)
        if oauth is not None:
            self.http.auth = oauth
        self.oauth = oauth

    def close(self) -> None:
        self.http.close()

    def ping(self) -> str:
        """Who is signed in (Basic: the account's sys_user record), then one row of the
        ticket table: both through the Table API, as every other call."""
        hint = ("tickets.user and tickets.password of a ServiceNow account with web service "
                "access, or tickets.token: a current OAuth access token")
        who = "OAuth client credentials accepted" if self.oauth else "OAuth token accepted"
        if self.user:
            user = self.user
            what = f"ServiceNow: user {user}"
            r = send(lambda: self.http.get("/api/now/table/sys_user", params={
                "sysparm_query": f"user_name={user}", "sysparm_limit": 1,
                "sysparm_fields": "user_name,name"}), what)
            if _no_record(r):
                rows = []
            else:
                check_login(r, what, hint=hint)
                rows = [row for row in _result(r, what, list)
                        if isinstance(row, dict) and row.get("user_name") == user]
            who = (f"authenticated as {rows[0].get('name') or user} ({user})" if rows
                   else f"authenticated as {user} (its sys_user record is not readable)")
        table = str(self.table or self.tables.get("INC") or "incident")
        what = f"ServiceNow: read {table}"
        r = send(lambda: self.http.get(f"/api/now/table/{table}", params={
            "sysparm_limit": 1, "sysparm_fields": "sys_id"}), what)
        if r.status_code == 403:  # signed in, but a read ACL keeps the table closed
            raise ConnectionFailed(f"{what}: the account may not read {table} (403)",
                                   hint="give the account the itil role, or read access to "
                                        f"{table}")
        if not _no_record(r):  # an empty (or hidden) table: still readable
            check_login(r, what, hint=hint)
            _result(r, what, list)
        return f"ServiceNow Table API: {who}, table {table} readable{self._journal_readable()}"

    def _journal_readable(self) -> str:
        """De-duplication reads sys_journal_field; a read ACL there hides every row without
        an error, so one row must come back (every instance has journal entries)."""
        if self.find_in == "record":
            return ""
        what = "ServiceNow: read sys_journal_field"
        r = send(lambda: self.http.get("/api/now/table/sys_journal_field", params={
            "sysparm_limit": 1, "sysparm_fields": "sys_id"}), what)
        rows = [] if r.status_code in (403, 404) else _result(r, what, list)
        if r.status_code != 403 and r.status_code != 404:
            check(r, what)
        if not rows:
            raise ConnectionFailed(f"{what}: the account sees no journal entries: notes "
                                   "cannot be read back, so a redelivery could not tell "
                                   "whether a note is already there",
                                   hint="give the account read access to sys_journal_field, "
                                        "or set tickets.options.find_notes_in: record")
        return ", journal readable"

    # -- finding the record --------------------------------------------------------------
    def _table_of(self, number: str) -> str:
        if not re.fullmatch(ID_PATTERNS["snow"], number):
            raise UsageError(f"{number!r} is not a ServiceNow record number",
                             hint="like INC0012345")
        if self.table:
            return str(self.table)
        prefix = number.rstrip("0123456789")  # the number is letters, then digits
        table = self.tables.get(prefix)
        if table is None:
            raise UsageError(f"ServiceNow {number}: no table known for the prefix {prefix}",
                             hint="set tickets.options.tables, e.g. {CS: sn_customerservice_case}")
        return str(table)

    def _lookup(self, number: str) -> tuple[str, str, str]:
        """(table, sys_id, sys_mod_count) of the record with this number."""
        table = self._table_of(number)
        what = f"ServiceNow {number}"
        r = send(lambda: self.http.get(f"/api/now/table/{table}", params={
            "sysparm_query": f"number={number}", "sysparm_limit": 1,
            "sysparm_fields": "sys_id,number,sys_mod_count"}), what)
        check(r, what)  # 404: Table API v1's answer to "nothing matched"
        rows = [row for row in _result(r, what, list)
                if isinstance(row, dict) and row.get("number") == number]
        if not rows:
            raise TicketNotFound(f"{what}: no such record in {table}, or no right to see it")
        self._records[number] = (table, str(rows[0]["sys_id"]))
        return table, str(rows[0]["sys_id"]), str(rows[0].get("sys_mod_count", ""))

    def _record(self, number: str) -> tuple[str, str]:
        if number not in self._records:
            self._lookup(number)
        return self._records[number]

    def create(self, subject: str, text: str) -> str:
        """A new incident (`POST /api/now/table/incident`) with tickets.new's assignment
        group, caller and category where given: its number. A scheduled run's ticket.
        An ACL or a data policy (a mandatory field) refuses it with 403."""
        what = "ServiceNow: new incident"
        body = {"short_description": subject, "description": text}
        if self.new is not None:
            body |= {field: str(value) for field, value in (
                ("assignment_group", self.new.assignment_group),
                ("caller_id", self.new.caller), ("category", self.new.category))
                if value is not None}
        r = send(lambda: self.http.post("/api/now/table/incident", json=body,
                                        params={"sysparm_fields": "sys_id,number"}), what)
        if r.status_code in (400, 403):
            raise Rejected(f"{what}: ServiceNow refused it: {_reason(r)}",
                           hint="the account needs the right to create incidents (an ACL), "
                                "and a data policy may need more fields (tickets.new)")
        check(r, what, missing=())
        record = _result(r, what)
        number, sys_id = record.get("number"), record.get("sys_id")
        if r.status_code != 201 or not isinstance(number, str) \
                or not re.fullmatch(ID_PATTERNS["snow"], number):
            raise ConnectionFailed(f"{what}: unexpected answer from ServiceNow (HTTP "
                                   f"{r.status_code})")
        if isinstance(sys_id, str):
            self._records[number] = ("incident", sys_id)
        return number

    # -- the protocol -------------------------------------------------------------------
    def add_note(self, ticket_id: str, text: str, *, internal: bool = True) -> str:
        table, sys_id, before = self._lookup(ticket_id)
        text = snow_journal(text)
        field = "work_notes" if internal else "comments"
        what = f"ServiceNow {ticket_id}: {field.replace('_', ' ')}"
        r = send(lambda: self.http.patch(f"/api/now/table/{table}/{sys_id}", params={
            "sysparm_fields": "sys_id,sys_mod_count"}, json={field: text}), what)
        check(r, what, missing=(403, 404))
        after = str(_result(r, what).get("sys_mod_count", ""))
        if before.isdigit() and after.isdigit() and int(after) <= int(before):
            raise NoteNotSaved(f"{what}: ServiceNow accepted the update but saved nothing",
                               hint=f"give the account write access to {table}.{field}")
        return self._entry_id(sys_id, field, text) or f"{table}:{sys_id}:{after}"

    def _entry_id(self, sys_id: str, field: str, text: str) -> str | None:
        """The journal entry the update made (newest first), the id `find_note` returns
        too; None where sys_journal_field cannot be read (the record version then)."""
        if self.find_in != "journal":
            return None
        what = "ServiceNow: read the new journal entry"
        try:
            r = send(lambda: self.http.get("/api/now/table/sys_journal_field", params={
                "sysparm_query": f"element_id={sys_id}^element={field}"
                                 "^ORDERBYDESCsys_created_on",
                "sysparm_fields": "sys_id,element_id,value", "sysparm_limit": 10}), what)
            if r.status_code == 404:
                return None
            check(r, what)
            rows = _result(r, what, list)
        except ConnectionFailed:  # posted all the same: the record version will do
            return None
        wanted = text.replace("\r\n", "\n").strip()
        for row in rows:
            if (isinstance(row, dict) and row.get("element_id") == sys_id
                    and str(row.get("value") or "").replace("\r\n", "\n").strip() == wanted):
                return str(row.get("sys_id"))
        return None

    def find_note(self, ticket_id: str, marker: str) -> str | None:
        """The journal entry with the marker; where sys_journal_field shows nothing (its
        read ACL hides rows without a word), the record's journal fields as the form
        shows them: a redelivery never posts twice for want of a read right."""
        table, sys_id = self._record(ticket_id)
        what = f"ServiceNow {ticket_id}: read notes"
        if self.find_in == "journal":
            # "^" separates conditions; a marker holding one is matched on our side only.
            like = "" if "^" in marker else f"^valueLIKE{marker}"
            r = send(lambda: self.http.get("/api/now/table/sys_journal_field", params={
                "sysparm_query": f"element_id={sys_id}^elementIN{JOURNALS}{like}",
                "sysparm_fields": "sys_id,element_id,value",
                "sysparm_limit": 100 if like else 1000}), what)
            if r.status_code != 404:  # Table API v1: nothing matched
                check(r, what)
                for row in _result(r, what, list):
                    if (isinstance(row, dict) and row.get("element_id") == sys_id
                            and marker in str(row.get("value") or "")):
                        return str(row.get("sys_id"))
        r = send(lambda: self.http.get(f"/api/now/table/{table}/{sys_id}", params={
            "sysparm_fields": JOURNALS, "sysparm_display_value": "true"}), what)
        check(r, what)
        result = _result(r, what)
        found = any(marker in str(result.get(f) or "") for f in JOURNALS.split(","))
        return sys_id if found else None

    def notes(self, ticket_id: str) -> list[dict[str, Any]]:
        """Work notes and comments, oldest first, every page (`adminkit ticket show`):
        sys_journal_field, which the account must be allowed to read."""
        _, sys_id = self._record(ticket_id)
        what = f"ServiceNow {ticket_id}: read notes"
        rows: list[dict[str, Any]] = []
        offset = 0
        guard = PageGuard(what, PAGE)
        while True:
            params = {"sysparm_query": f"element_id={sys_id}^elementIN{JOURNALS}"
                                       "^ORDERBYsys_created_on",
                      "sysparm_fields": "sys_id,element_id,element,value,sys_created_on,"
                                        "sys_created_by",
                      "sysparm_limit": PAGE, "sysparm_offset": offset}
            r = send(lambda p=params: self.http.get("/api/now/table/sys_journal_field",
                                                      params=p), what)
            if r.status_code == 404:  # Table API v1: nothing (more) matched
                break
            check(r, what)
            page = _result(r, what, list)
            guard(page)
            rows += [row for row in page if isinstance(row, dict)
                     and row.get("element_id") == sys_id]
            if len(page) < PAGE:
                break
            offset += PAGE
        ids = self._user_ids({str(row.get("sys_created_by") or "") for row in rows})
        return [{"time": row.get("sys_created_on"), "author": row.get("sys_created_by"),
                 "author_id": ids.get(str(row.get("sys_created_by") or "")),
                 "internal": row.get("element") == "work_notes",
                 "body": str(row.get("value") or "")} for row in rows]

    def person(self, ident: str) -> tuple[str, bool] | None:
        """(name, active) of the sys_user `snow:SYSID` (`adminkit approve` checks the
        approver still exists); None where there is none, or the account may not read
        it."""
        prefix, _, sys_id = ident.strip().partition(":")
        sys_id = sys_id.lower()
        if prefix.casefold() != "snow" or not SYS_ID.fullmatch(sys_id):
            return None
        what = f"ServiceNow: user {ident}"
        r = send(lambda: self.http.get(f"/api/now/table/sys_user/{sys_id}", params={
            "sysparm_fields": "sys_id,name,user_name,active"}), what)
        if r.status_code in (403, 404):
            return None
        check(r, what)
        row = _result(r, what)
        if row.get("sys_id") != sys_id:
            return None
        name = str(row.get("name") or row.get("user_name") or ident)
        return name, str(row.get("active")).lower() == "true"

    def _user_ids(self, names: set[str]) -> dict[str, str]:
        """`snow:SYSID` of each journal author: an entry names its writer by user_name
        only (sys_created_by, text), which sys_user keeps unique; the sys_id is what
        profiles name people by. A name sys_user does not answer for exactly (unreadable,
        deleted, inactive: an approver who has left, or was locked out, approves nothing,
        as at the command line; or a query condition the instance dropped) gets no id,
        so it proves nobody."""
        found: dict[str, str] = {}
        for name in sorted(n for n in names if n and not NOT_PLAIN.search(n)):
            what = f"ServiceNow: user {name}"
            r = send(lambda n=name: self.http.get("/api/now/table/sys_user", params={
                "sysparm_query": f"user_name={n}", "sysparm_limit": 2,
                "sysparm_fields": "sys_id,user_name,active"}), what)
            if r.status_code in (403, 404):  # a read ACL, or v1's "nothing matched"
                continue
            check(r, what)
            rows = [row for row in _result(r, what, list) if isinstance(row, dict)
                    and row.get("user_name") == name
                    and str(row.get("active")).lower() == "true"
                    and SYS_ID.fullmatch(str(row.get("sys_id") or ""))]
            if len(rows) == 1:
                found[name] = f"snow:{rows[0]['sys_id']}"
        return found

    def get(self, ticket_id: str) -> Ticket:
        table, sys_id = self._record(ticket_id)
        what = f"ServiceNow {ticket_id}"
        requester_field = REQUESTER.get(table, "opened_by")
        r = send(lambda: self.http.get(f"/api/now/table/{table}/{sys_id}", params={
            "sysparm_display_value": "all", "sysparm_exclude_reference_link": "true",
            "sysparm_fields": "number,short_description,state,priority,assignment_group,"
                              f"sys_class_name,{requester_field}"}), what)
        check(r, what)
        result: dict[str, Any] = _result(r, what)

        def shown(name: str) -> str | None:
            value = result.get(name)
            if isinstance(value, dict):
                value = value.get("display_value") or value.get("value")
            return str(value) if value not in (None, "") else None

        def actual(name: str) -> Any:
            value = result.get(name)
            return value.get("value") if isinstance(value, dict) else value

        # Who asked is the reference's value, the sys_user sys_id; the display value is a
        # name two people may share and an administrator (or the user) may change.
        requester = text_of(actual(requester_field))
        return Ticket(ref=TicketRef("servicenow", ticket_id),
                      subject=shown("short_description") or "", status=shown("state") or "",
                      queue=shown("assignment_group"), requester=shown(requester_field),
                      requester_id=user_ref("servicenow", requester)
                      if requester and SYS_ID.fullmatch(requester) else None,
                      queue_id=text_of(actual("assignment_group")),
                      fields={"table": table, "sys_id": sys_id, "state": actual("state"),
                              "priority": shown("priority")})

    def set_status(self, ticket_id: str, status: str) -> None:
        table, sys_id = self._record(ticket_id)
        what = f"ServiceNow {ticket_id}: state {status}"
        body: dict[str, str] = {"state": status}
        if status.strip().casefold() in DONE_STATES:
            body.update(self.resolve_fields)
        # A number is the choice's value ("6"); words are its label ("Resolved").
        as_label = "false" if status.strip().isdigit() else "true"
        r = send(lambda: self.http.patch(f"/api/now/table/{table}/{sys_id}", params={
            "sysparm_input_display_value": as_label, "sysparm_display_value": "all",
            "sysparm_fields": "state"}, json=body), what)
        if r.status_code in (400, 403):  # a data policy, a business rule or a write ACL
            raise ActionFailed(f"{what}: ServiceNow refused: {_reason(r)}",
                               hint="an incident's data policy wants close_code and "
                                    "close_notes: set tickets.options.resolve_fields"
                               if "Data Policy" in r.text else None)
        check(r, what, missing=(404,))
        state = _result(r, what).get("state")
        if isinstance(state, dict) and status.strip().casefold() not in {
                str(state.get("value")).casefold(), str(state.get("display_value")).casefold()}:
            raise ActionFailed(f"{what}: the state is {state.get('display_value')!r} after the "
                               "update", hint="is that a state of this table?")

    def attach(self, ticket_id: str, filename: str, data: bytes) -> None:
        table, sys_id = self._record(ticket_id)
        what = f"ServiceNow {ticket_id}: attach {filename}"
        ctype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        r = send(lambda: self.http.post("/api/now/attachment/file", params={
            "table_name": table, "table_sys_id": sys_id, "file_name": filename},
            content=data, headers={"Content-Type": ctype}), what)
        check(r, what)
