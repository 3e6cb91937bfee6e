"""A protocol-level fake of Redmine's REST API, for unit tests.

A real HTTP server on 127.0.0.1 that follows Redmine's documented requests and answers
(wiki Rest_api: authentication, Content-Type, attaching files, validation errors;
Rest_Issues: showing with `include=journals`, updating with `notes`/`private_notes`;
Rest_IssueStatuses; Rest_Users: `/users/current.json?include=memberships`; Rest_Roles:
`/roles/N.json` with the role's permissions): the API key in `X-Redmine-API-Key` (or
`?key=`, or Basic), 401 for
bad credentials, 403 for an issue the account may not see, 404 for none, 422 with
`{"errors": [...]}`, 204 No Content for an update; 401, 403 and 404 come with an empty
body (Redmine's `head :status` for API requests). Its silences are modelled too: without
the role permission "Set notes as private" `private_notes` is dropped and the note goes
public (204); with the REST API switched off every call is answered 403 with an empty
body; a `status_id` the role has no workflow transition to is ignored (204, nothing
changes). Issues, journals and attachments live
in memory for assertions; faults can be ordered up: Redmine does not rate-limit, so a
429, 502, 503 or 504 is the proxy's page, and a 500 Rails' static error page.

    with FakeRedmine() as redmine:
        issue = redmine.add_issue("Printer jammed")
        ... Redmine(profile_for(redmine.url)) ...
        assert redmine.issues[issue]["journals"][0]["notes"] == text
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from adminkit.tickets.settings import TicketsConfig
from tests.fakes.httpserver import (
    PROXY_REASONS,
    Reply,
    Request,
    ServerFake,
    json_reply,
    proxy_reply,
)
from tests.fakes.ticketfake import StoredNote

# Redmine's default statuses (as loaded by `rake redmine:load_default_data`)
STATUSES = [{"id": 1, "name": "New", "is_closed": False},
            {"id": 2, "name": "In Progress", "is_closed": False},
            {"id": 3, "name": "Resolved", "is_closed": False},
            {"id": 4, "name": "Feedback", "is_closed": False},
            {"id": 5, "name": "Closed", "is_closed": True},
            {"id": 6, "name": "Rejected", "is_closed": True}]
API_USER = {"id": 5, "name": "Adminkit Bot"}
# Roles as `GET /roles/N.json` shows them; "set_notes_private" is added to the Developer
# role's permissions while `may_set_notes_private` holds (the API account is a Developer).
ROLES = {3: ("Manager", ["view_issues", "add_issues", "edit_issues", "add_issue_notes",
                         "view_private_notes", "set_notes_private"]),
         4: ("Developer", ["view_issues", "add_issues", "edit_issues", "add_issue_notes",
                           "view_private_notes"]),
         5: ("Reporter", ["view_issues", "add_issues", "add_issue_notes"])}
JSON_TYPE = "application/json; charset=utf-8"
RAILS_500 = (b"<!DOCTYPE html>\n<html>\n<head>\n  <title>We're sorry, but something went "
             b"wrong (500)</title>\n</head>\n<body>\n  <h1>We're sorry, but something went "
             b"wrong.</h1>\n</body>\n</html>\n")


def _json(status: int, obj: Any, headers: dict[str, str] | None = None) -> Reply:
    return json_reply(status, obj, headers, content_type=JSON_TYPE)


def _issue_of(req: Request) -> Any:
    """The `issue` object of a JSON body, or None."""
    try:
        return json.loads(req.body).get("issue")
    except (ValueError, AttributeError):
        return None



PRE = re.compile(r"<pre>\r?\n?(.*?)\r?\n?</pre>", re.DOTALL)


def shown(notes: str) -> str:
    """A note that is one <pre> block as Redmine (Textile) shows it: its content as it
    is; any other note as written (Textile: what it shows is its renderer's)."""
    whole = PRE.fullmatch(notes)
    return whole.group(1) if whole else notes


def markup(notes: str) -> str:
    """What of a note Textile reads as markup, and where Redmine looks for @mentions:
    all outside <pre> blocks (`Acts::Mentionable` removes `<pre>(.*?)</pre>` first)."""
    return PRE.sub("", notes).strip()

class FakeRedmine(ServerFake):
    kind = "redmine"
    refusal = "401"
    note_write = ("PUT", "/issues/")
    note_refusal = 422  # how it refuses a note for good: Redmine's validation errors
    missing_ticket = "999999"

    def __init__(self, *, api_key: str = "redmine-api-key",
                 login: tuple[str, str] = ("adminkit", "redmine-password")) -> None:
        super().__init__()
        self.api_key, self.login = api_key, login
        self.secret = api_key
        self.account = ("Adminkit Bot", login[0])
        self.issues: dict[int, dict[str, Any]] = {}
        self.hidden: set[int] = set()  # issues the API account may not see (403)
        self.may_create = True  # the role's "Add issues" in the project
        self.required_fields: list[str] = []  # required custom fields (never filled here)
        self.may_set_notes_private = True  # the role permission "Set notes as private"
        self.rest_enabled = True  # Administration > Settings > API > Enable REST web service
        # (from, to) status ids the role's workflow allows; None: every one (an admin's)
        self.transitions: set[tuple[int, int]] | None = None
        self.admin = False  # the API account is a Redmine administrator
        self.memberships: list[dict[str, Any]] = [  # the API account's, as Rest_Users shows
            {"id": 1, "project": {"id": 1, "name": "Helpdesk"},
             "roles": [{"id": 4, "name": "Developer"}]}]
        self.uploads: dict[str, dict[str, Any]] = {}
        self._ids = iter(range(100, 1_000_000))

    # -- what the contract suite asks of every ticket fake ----------------------------
    def deny_internal(self) -> None:
        self.may_set_notes_private = False

    def tickets_config(self, secret_ref: str) -> TicketsConfig:
        """The API account's access key (My account > API access key)."""
        return TicketsConfig(kind="redmine", url=self.url, token=secret_ref,
                             queue="helpdesk")

    def deny_create(self) -> None:
        self.may_create = False

    def require_more(self) -> str:
        """A custom field made required for the tracker (Administration > Custom fields)."""
        self.required_fields.append("Cost center")
        return "Cost center"

    def opened(self, ticket: str) -> tuple[str, str | None]:
        with self.lock:
            issue = self.issues[int(ticket)]
            return issue["subject"], issue.get("description")

    def create_ticket(self) -> str:
        return str(self.add_issue())

    def notes(self, ticket: str) -> list[StoredNote]:
        """Journals with notes: private notes are the internal ones."""
        return [StoredNote(str(j["id"]), shown(j["notes"]), internal=bool(j["private_notes"]))
                for j in self.notes_of(int(ticket))]

    # -- arranging --------------------------------------------------------------------
    def add_issue(self, subject: str = "Printer jammed", *, status_id: int = 1,
                  at: str = "2025-11-25T09:00:00Z") -> int:
        with self.lock:
            issue_id = next(self._ids)
            self.issues[issue_id] = {
                "id": issue_id, "project": {"id": 1, "name": "Helpdesk"},
                "tracker": {"id": 3, "name": "Support"}, "status_id": status_id,
                "priority": {"id": 2, "name": "Normal"},
                "author": {"id": 9, "name": "Jana Nováková"}, "subject": subject,
                "description": "The printer on floor 2 is jammed.",
                "custom_fields": [{"id": 1, "name": "Location", "value": "Floor 2"}],
                "created_on": at, "updated_on": at,
                "journals": [], "attachments": []}
        return issue_id

    def touch(self, issue_id: int, at: str) -> None:
        """The issue changed at `at` (its updated_on)."""
        with self.lock:
            self.issues[issue_id]["updated_on"] = at

    def add_journal(self, issue_id: int, notes: str, *, private_notes: bool = True) -> int:
        with self.lock:
            return self._journal(issue_id, notes, private_notes, [])

    def notes_of(self, issue_id: int) -> list[dict[str, Any]]:
        """Journals that carry a note (status changes alone are left out)."""
        with self.lock:
            return [dict(j) for j in self.issues[issue_id]["journals"] if j["notes"]]

    # -- answering --------------------------------------------------------------------
    def _error(self, req: Request, status: int, message: str) -> Reply:
        if status in PROXY_REASONS:
            return proxy_reply(status)
        if status == 401:
            return Reply(401, b"", {"WWW-Authenticate": 'Basic realm="Redmine API"'})
        if status == 422:
            return _json(422, {"errors": [message]})
        if status == 500:
            return Reply(500, RAILS_500, {"Content-Type": "text/html; charset=utf-8"})
        return Reply(status)

    def _authenticated(self, req: Request) -> bool:
        if self.credentials_revoked:
            return False
        key = req.header("x-redmine-api-key") or req.arg("key")
        if key is not None:
            return key == self.api_key
        login = req.basic_login()
        return login is not None and (login == self.login or login[0] == self.api_key)

    def _route(self, req: Request) -> Reply:
        if not self.rest_enabled:  # whatever the key: 403, empty body
            return Reply(403)
        if not self._authenticated(req):
            return self._error(req, 401, "")
        parts = req.path.strip("/").split("/")
        if req.method == "GET" and parts == ["issue_statuses.json"]:
            return _json(200, {"issue_statuses": STATUSES})
        if req.method == "GET" and parts == ["users", "current.json"]:
            return self._current_user(req)
        if req.method == "GET" and parts in (["projects", "1.json"], ["projects", "helpdesk.json"]):
            return _json(200, {"project": {"id": 1, "name": "Helpdesk",
                                           "identifier": "helpdesk", "status": 1}})
        if req.method == "GET" and len(parts) == 2 and parts[0] == "roles":
            return self._role(parts[1])
        if req.method == "POST" and parts == ["uploads.json"]:
            return self._upload(req)
        if req.method == "GET" and parts == ["issues.json"]:
            return self._search(req)
        if req.method == "POST" and parts == ["issues.json"]:
            return self._create(req)
        if len(parts) == 2 and parts[0] == "issues" and parts[1].endswith(".json"):
            ident = parts[1][:-len(".json")]
            issue = self.issues.get(int(ident)) if ident.isdigit() else None
            if issue is None:
                return Reply(404)
            if issue["id"] in self.hidden:
                return Reply(403)
            if req.method == "GET":
                return self._show(issue, req)
            if req.method == "PUT":
                return self._update(issue, req)
        return Reply(404)

    def _search(self, req: Request) -> Reply:
        """Rest_Issues' listing: `project_id`, `issue_id` (ids, `>=N`, `<=N`), `status_id`
        (open by default, `*` for all), `created_on`/`updated_on` with `>=` and a time,
        `cf_N`, `sort` (columns, `:desc`), `offset`, `limit` (at most 100); total_count of
        the filter."""
        found = [i for i in self.issues.values() if i["id"] not in self.hidden]
        status = req.arg("status_id") or "open"
        if status != "*":
            closed = {s["id"] for s in STATUSES if s["is_closed"]}
            found = [i for i in found if (i["status_id"] in closed) == (status == "closed")
                     or str(i["status_id"]) == status]
        wanted = req.arg("issue_id")
        if wanted:  # an integer filter: `N`, `N,M`, or `>=N` / `<=N`
            if wanted[:2] in (">=", "<="):
                if not wanted[2:].isdecimal():
                    return _json(422, {"errors": ["Issue is invalid"]})
                bound, above = int(wanted[2:]), wanted[0] == ">"
                found = [i for i in found if (i["id"] >= bound if above else i["id"] <= bound)]
            else:
                found = [i for i in found if str(i["id"]) in wanted.split(",")]
        for column in ("created_on", "updated_on"):
            value = req.arg(column)
            if value is not None:
                if not value.startswith(">="):
                    return _json(422, {"errors": [f"unsupported filter {column}"]})
                found = [i for i in found if i[column] >= value[2:]]
        for name, values in req.query.items():
            if name.startswith("cf_"):
                found = [i for i in found if any(str(cf["id"]) == name[3:]
                                                 and cf["value"] == values[0]
                                                 for cf in i["custom_fields"])]
        for column in reversed((req.arg("sort") or "id:desc").split(",")):
            name, _, order = column.partition(":")
            found.sort(key=lambda i, n=name: i[n], reverse=order == "desc")
        offset, limit = int(req.arg("offset") or 0), min(int(req.arg("limit") or 25), 100)
        shown = [{k: v for k, v in i.items() if k not in ("journals", "attachments",
                                                          "status_id")}
                 | {"status": self._status(i["status_id"])}
                 for i in found[offset:offset + limit]]
        return _json(200, {"issues": shown, "total_count": len(found), "offset": offset,
                           "limit": limit})

    def _create(self, req: Request) -> Reply:
        """Rest_Issues' creating: `project_id` (id or identifier) and `subject` needed,
        422 with Redmine's messages otherwise; 201 with the issue."""
        fields = _issue_of(req)
        if not isinstance(fields, dict):
            return _json(422, {"errors": ["issue is missing"]})
        if not self.may_create:  # no "Add issues" in the project: `head 403`
            return Reply(403)
        errors = [f"{name} cannot be blank" for name in self.required_fields]
        if str(fields.get("project_id")) not in ("1", "helpdesk"):
            errors.append("Project cannot be blank")
        if not str(fields.get("subject") or "").strip():
            errors.append("Subject cannot be blank")
        if errors:
            return _json(422, {"errors": errors})
        issue_id = self.add_issue(str(fields["subject"]))
        with self.lock:
            self.issues[issue_id]["description"] = fields.get("description")
            self.issues[issue_id]["author"] = API_USER
            shown = {k: v for k, v in self.issues[issue_id].items()
                     if k not in ("journals", "attachments", "status_id")}
        return _json(201, {"issue": {**shown, "status": self._status(1)}})

    def _current_user(self, req: Request) -> Reply:
        user: dict[str, Any] = {
            "id": API_USER["id"], "login": self.login[0], "admin": self.admin,
            "firstname": "Adminkit", "lastname": "Bot", "mail": "adminkit@example.com",
            "created_on": "2025-01-06T08:00:00Z", "last_login_on": "2025-11-25T08:00:00Z",
            "api_key": self.api_key,  # Redmine shows the key to its owner
            "custom_fields": []}
        if "memberships" in (req.arg("include") or "").split(","):
            user["memberships"] = [dict(m) for m in self.memberships]
        return _json(200, {"user": user})

    def _role(self, name: str) -> Reply:
        ident = name[:-len(".json")] if name.endswith(".json") else ""
        if not ident.isdigit() or int(ident) not in ROLES:
            return Reply(404)
        role_name, permissions = ROLES[int(ident)]
        if role_name == "Developer" and self.may_set_notes_private:
            permissions = [*permissions, "set_notes_private"]
        return _json(200, {"role": {"id": int(ident), "name": role_name, "assignable": True,
                                    "issues_visibility": "default",
                                    "time_entries_visibility": "all",
                                    "users_visibility": "all", "permissions": permissions}})

    def _status(self, status_id: int) -> dict[str, Any]:
        return next(s for s in STATUSES if s["id"] == status_id)

    def _show(self, issue: dict[str, Any], req: Request) -> Reply:
        shown = {k: v for k, v in issue.items() if k not in ("journals", "status_id")}
        shown["status"] = self._status(issue["status_id"])
        include = (req.arg("include") or "").split(",")
        if "journals" in include:
            shown["journals"] = [dict(j) for j in issue["journals"]]
        if "attachments" not in include:
            shown.pop("attachments")
        return _json(200, {"issue": shown})

    def _journal(self, issue_id: int, notes: str, private: bool,
                 details: list[dict[str, Any]]) -> int:
        journal_id = next(self._ids)
        self.issues[issue_id]["journals"].append({
            "id": journal_id, "user": API_USER, "notes": notes,
            "created_on": "2025-11-25T10:00:00Z", "private_notes": private, "details": details})
        return journal_id

    def _update(self, issue: dict[str, Any], req: Request) -> Reply:
        if req.content_type != "application/json":
            return _json(422, {"errors": ["Content-Type must be application/json"]})
        fields = _issue_of(req)
        if not isinstance(fields, dict):
            return _json(422, {"errors": ["issue is missing"]})
        details: list[dict[str, Any]] = []
        status_id = fields.get("status_id")
        if status_id is not None:
            if status_id not in [s["id"] for s in STATUSES]:
                return _json(422, {"errors": ["Status is not included in the list"]})
            if self.transitions is not None and \
                    (issue["status_id"], status_id) not in self.transitions:
                status_id = None  # no workflow transition: ignored without a word
            elif status_id != issue["status_id"]:
                details.append({"property": "attr", "name": "status_id",
                                "old_value": str(issue["status_id"]),
                                "new_value": str(status_id)})
        attached: list[dict[str, Any]] = []
        for upload in fields.get("uploads") or []:
            stored = self.uploads.get(upload.get("token", ""))
            if stored is None:
                return _json(422, {"errors": ["Attachments is invalid"]})
            attached.append({**stored, "filename": upload.get("filename", stored["filename"]),
                             "content_type": upload.get("content_type")})
        if status_id is not None:
            issue["status_id"] = status_id
        for attachment in attached:
            self.uploads.pop(attachment["token"])
            issue["attachments"].append(attachment)
            details.append({"property": "attachment", "name": str(attachment["id"]),
                            "new_value": attachment["filename"]})
        notes = fields.get("notes") or ""
        # Redmine drops private_notes silently without the permission: the note goes public
        private = bool(fields.get("private_notes")) and self.may_set_notes_private
        if notes or details:
            self._journal(issue["id"], notes, private if notes else False, details)
        return Reply(204)

    def _upload(self, req: Request) -> Reply:
        if req.header("content-type") != "application/octet-stream":
            return Reply(406)
        upload_id = next(self._ids)
        token = f"{upload_id}.{secrets.token_hex(32)}"
        self.uploads[token] = {"id": upload_id, "token": token,
                               "filename": req.arg("filename", ""), "data": req.body}
        return _json(201, {"upload": {"id": upload_id, "token": token}})

