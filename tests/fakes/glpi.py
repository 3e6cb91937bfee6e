"""A protocol-level fake of GLPI's legacy REST API (`apirest.php`), for unit tests.

A real HTTP server on 127.0.0.1 that follows GLPI's documented requests and answers
(apirest.md: Init session, Kill session, Get full session, Get an item, Get sub items,
Add item(s), Update item(s), upload a document, Errors): a session token from
`initSession` with a user token or Basic login (and App-Token when one is set), the token
on every later call, errors as `["ERROR_CODE", "message"]` (a refused user token is 401
ERROR_GLPI_LOGIN_USER_TOKEN, a session token GLPI no longer knows 401
ERROR_SESSION_TOKEN_INVALID). Tickets, follow-ups and documents live in memory for
assertions; faults (401/429/5xx, expired sessions) can be ordered up. GLPI itself does not
rate-limit: a 429, 502, 503 or 504 is the proxy in front of it, with the proxy's page.
A follow-up to a closed ticket is refused 400 `ERROR_GLPI_ADD` (the right check fails);
a new ticket (`POST /Ticket` `{"input": {"name", "content", "type", "entities_id",
"itilcategories_id"}}` -> 201 `{"id", "message"}`) is refused 400 `ERROR_GLPI_ADD`
without the profile's right to create tickets, and with "Mandatory fields are not
filled" for a field the ticket template makes mandatory (`mandatory`);
with `php_notices` set, every successful answer starts with a PHP notice in HTML, as a
server with `display_errors` on sends it.

    with FakeGlpi() as glpi:
        ticket = glpi.add_ticket("Printer jammed")
        ... Glpi(profile_for(glpi.url)) ...
        assert glpi.followups_of(ticket)[0]["content"] == text
"""

from __future__ import annotations

import html
import json
import re
import secrets
from email import policy
from email.parser import BytesParser
from html.parser import HTMLParser
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

PREFIX = "/apirest.php"
RIGHT_MISSING = "You don't have permission to perform this action."
JSON_TYPE = "application/json; charset=UTF-8"
PHP_NOTICE = (b"<br />\n<b>Notice</b>:  Undefined index: users_id_recipient in "
              b"<b>/var/www/glpi/src/CommonITILObject.php</b> on line <b>1421</b><br />\n")



# GLPI 10's RichText::isRichTextHtmlContent: content holding one of these tags is HTML
RICH_TAGS = re.compile(r"<(a|b|em|i|img|span|strong|br|hr|blockquote|div|h[1-6]|p|pre|"
                       r"table|ul|ol)(\s+[^>]*)?>", re.IGNORECASE)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag + "".join(f" {k}" for k, _ in attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def tags(content: str) -> list[str]:
    """The HTML tags (with their attributes' names) GLPI 10 renders in a follow-up's
    content as adminkit sent it: none for plain text, which GLPI escapes."""
    if not RICH_TAGS.search(content):
        return []
    parser = _Tags()
    parser.feed(content)
    parser.close()
    return parser.tags


def shown(content: str) -> str:
    """A follow-up as GLPI 10 shows it, as text: rich-text HTML's text (a <pre> block's
    as it is); plain text as it is."""
    if not RICH_TAGS.search(content):
        return content
    parser = _Tags()
    parser.feed(content)
    parser.close()
    return "".join(parser.text)

class FakeGlpi(ServerFake):
    kind = "glpi"
    refusal = "ERROR_GLPI_LOGIN_USER_TOKEN"
    note_write = ("POST", f"{PREFIX}/ITILFollowup")
    note_refusal = 400  # how it refuses a note for good: ERROR_GLPI_ADD and the like
    missing_ticket = "999999"

    def __init__(self, *, user_token: str = "glpi-user-token",  # noqa: S107 - a fake's
                 app_token: str | None = None,
                 login: tuple[str, str] = ("adminkit", "glpi-password")) -> None:
        super().__init__()
        self.user_token, self.app_token, self.login = user_token, app_token, login
        self.secret = user_token
        self.account = (login[0],)  # a session names its user by login (glpiname)
        self.tickets: dict[int, dict[str, Any]] = {}
        self.hidden: set[int] = set()  # tickets the API account may not see
        self.followups: list[dict[str, Any]] = []
        self.documents: list[dict[str, Any]] = []
        self.sessions: set[str] = set()
        self.profile = "Technician"  # the active profile a session of the API account gets
        self.sessions_opened = 0
        self.sessions_killed = 0
        self.php_notices = False  # display_errors on: a notice before each good answer
        self.may_create = True  # the active profile's Ticket CREATE right
        self.mandatory: dict[str, str] = {}  # the ticket template's mandatory fields: label
        self._ids = iter(range(100, 1_000_000))

    # -- what the contract suite asks of every ticket fake ----------------------------
    def tickets_config(self, secret_ref: str) -> TicketsConfig:
        """The API user's token (My settings > Remote access keys)."""
        return TicketsConfig(kind="glpi", url=self.url, token=secret_ref)

    def create_ticket(self) -> str:
        return str(self.add_ticket())

    def deny_create(self) -> None:
        self.may_create = False

    def require_more(self) -> str:
        """The ticket template makes the location mandatory, which adminkit never sets."""
        self.mandatory["locations_id"] = "Location"
        return "Location"

    def opened(self, ticket: str) -> tuple[str, str | None]:
        with self.lock:
            found = self.tickets[int(ticket)]
            return found["name"], shown(found["content"])

    def notes(self, ticket: str) -> list[StoredNote]:
        """Follow-ups: private ones are internal."""
        return [StoredNote(str(f["id"]), shown(f["content"]), internal=f["is_private"] == 1)
                for f in self.followups_of(int(ticket))]

    def seen(self, method: str, path: str) -> list[Request]:
        """As ServerFake's, with `path` below apirest.php (`/initSession`)."""
        return super().seen(method, PREFIX + path)

    # -- arranging --------------------------------------------------------------------
    def add_ticket(self, name: str = "Printer jammed", *, status: int = 1,
                   category: str | None = "Printing") -> int:
        with self.lock:
            ticket_id = next(self._ids)
            self.tickets[ticket_id] = {
                "id": ticket_id, "entities_id": 0, "name": name, "date": "2025-11-25 09:00:00",
                "date_mod": "2025-11-25 09:00:00", "status": status, "content": "&lt;p&gt;help",
                "urgency": 3, "priority": 3, "type": 1, "_category": category,
                "itilcategories_id": 7 if category else 0}
        return ticket_id

    def add_followup(self, ticket_id: int, content: str, *, is_private: int = 1) -> int:
        with self.lock:
            return self._new_followup(ticket_id, content, is_private)

    def followups_of(self, ticket_id: int) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(f) for f in self.followups if f["items_id"] == ticket_id]

    def expire_sessions(self) -> None:
        """Every open session dies, as PHP's session garbage collector would do."""
        with self.lock:
            self.sessions.clear()

    # -- answering --------------------------------------------------------------------
    def _glpi_error(self, status: int, code: str, message: str) -> Reply:
        doc = f"{message}; view documentation in your browser at {self.url}{PREFIX}/#{code}"
        return json_reply(status, [code, doc], content_type=JSON_TYPE)

    def _error(self, req: Request, status: int, message: str) -> Reply:
        """An ordered-up failure: the proxy's page, PHP's empty 500, or GLPI's own 401."""
        if status in PROXY_REASONS:
            return proxy_reply(status)
        if status == 401 and req.path == f"{PREFIX}/initSession":
            return self._glpi_error(401, "ERROR_GLPI_LOGIN_USER_TOKEN",
                                    "parameter user_token seems invalid")
        if status == 401:
            return self._glpi_error(401, "ERROR_SESSION_TOKEN_INVALID",
                                    "session_token seems invalid")
        if status == 500:
            return Reply(500)
        return self._glpi_error(status, "ERROR", message)

    def _route(self, req: Request) -> Reply:
        if not req.path.startswith(PREFIX + "/"):
            return Reply(404, b"Not Found", {"Content-Type": "text/plain"})
        path = req.path[len(PREFIX):].rstrip("/")
        if self.app_token is not None:
            given = req.header("app-token") or req.arg("app_token")
            if not given:
                return self._glpi_error(400, "ERROR_APP_TOKEN_PARAMETERS_MISSING",
                                        "missing parameter app_token")
            if given != self.app_token:
                return self._glpi_error(400, "ERROR_WRONG_APP_TOKEN_PARAMETER",
                                        "parameter app_token seems wrong")
        if path == "/initSession" and req.method == "GET":
            return self._init_session(req)
        token = req.header("session-token") or req.arg("session_token")
        if not token:
            return self._glpi_error(400, "ERROR_SESSION_TOKEN_MISSING",
                                    "parameter session_token is missing or empty")
        if token not in self.sessions:
            return self._glpi_error(401, "ERROR_SESSION_TOKEN_INVALID",
                                    "session_token seems invalid")
        reply = self._session_call(req, path, token)
        if self.php_notices and reply.status < 300 and reply.body:
            reply.body = PHP_NOTICE + reply.body
        return reply

    def _init_session(self, req: Request) -> Reply:
        scheme, value = req.authorization()
        if scheme == "user_token" and value:
            if value != self.user_token or self.credentials_revoked:
                return self._glpi_error(401, "ERROR_GLPI_LOGIN_USER_TOKEN",
                                        "parameter user_token seems invalid")
        elif scheme == "Basic" and value:
            if req.basic_login() != self.login or self.credentials_revoked:
                return self._glpi_error(401, "ERROR_GLPI_LOGIN",
                                        "Incorrect username or password")
        else:
            return self._glpi_error(400, "ERROR_LOGIN_PARAMETERS_MISSING",
                                    "parameter(s) login, password or user_token are missing")
        token = secrets.token_hex(20)
        self.sessions.add(token)
        self.sessions_opened += 1
        return json_reply(200, {"session_token": token}, content_type=JSON_TYPE)

    def _session_call(self, req: Request, path: str, token: str) -> Reply:
        parts = path.strip("/").split("/")
        if req.method == "GET" and parts == ["killSession"]:
            self.sessions.discard(token)
            self.sessions_killed += 1
            return Reply(200)
        if req.method == "GET" and parts == ["getFullSession"]:
            return json_reply(200, {"session": self._php_session()}, content_type=JSON_TYPE)
        if parts[0] == "Ticket" and len(parts) >= 2:
            if not parts[1].isdigit():
                return self._glpi_error(400, "ERROR_BAD_ARRAY", "id must be an integer")
            ticket_id = int(parts[1])
            if len(parts) == 2 and req.method == "GET":
                return self._get_ticket(ticket_id, req)
            if len(parts) == 2 and req.method == "PUT":
                return self._update_ticket(ticket_id, req)
            if parts[2:] == ["ITILFollowup"] and req.method == "GET":
                return self._list_followups(ticket_id, req)
            if parts[2:] == ["ITILFollowup"] and req.method == "POST":
                return self._add_followup(req)
        if parts == ["ITILFollowup"] and req.method == "POST":
            return self._add_followup(req)
        if parts == ["Ticket"] and req.method == "POST":
            return self._add_ticket(req)
        if parts == ["Document"] and req.method == "POST":
            return self._add_document(req)
        return self._glpi_error(400, "ERROR_ITEMTYPE_NOT_FOUND_NOR_COMMONDBTM",
                                "resource not found or not an instance of CommonDBTM")

    def _php_session(self) -> dict[str, Any]:
        """A few of the $_SESSION keys GLPI fills at login (Session::init), as the API
        returns them; the real one holds many more."""
        profile = {"id": 6, "name": self.profile, "interface": "central",
                   "entities": [{"id": 0, "name": "Root entity", "is_recursive": 1}]}
        return {"valid_id": "fake", "glpi_currenttime": "2025-11-25 10:00:00",
                "glpiID": 7, "glpiname": self.login[0], "glpirealname": "Bot",
                "glpifirstname": "Adminkit", "glpifriendlyname": "Bot Adminkit",
                "glpiactiveprofile": profile, "glpiprofiles": {"6": profile},
                "glpiactive_entity": 0, "glpiactive_entity_name": "Root entity",
                "glpiactive_entity_recursive": 1, "glpicsrftokens": {"fake": 0}}

    def _visible(self, ticket_id: int) -> Reply | None:
        if ticket_id not in self.tickets:
            return self._glpi_error(404, "ERROR_ITEM_NOT_FOUND", "Item not found")
        if ticket_id in self.hidden:
            return self._glpi_error(401, "ERROR_RIGHT_MISSING", RIGHT_MISSING)
        return None

    def _get_ticket(self, ticket_id: int, req: Request) -> Reply:
        refused = self._visible(ticket_id)
        if refused:
            return refused
        ticket = {k: v for k, v in self.tickets[ticket_id].items() if not k.startswith("_")}
        if req.arg("expand_dropdowns") == "true":
            ticket["entities_id"] = "Root entity"
            ticket["itilcategories_id"] = self.tickets[ticket_id]["_category"] or 0
        return json_reply(200, ticket, content_type=JSON_TYPE)

    def _json_input(self, req: Request) -> dict[str, Any] | Reply:
        invalid = self._glpi_error(400, "ERROR_JSON_PAYLOAD_INVALID", "JSON payload seems invalid")
        if req.content_type != "application/json":
            return invalid
        try:
            payload = json.loads(req.body)
        except ValueError:
            return invalid
        value = payload.get("input") if isinstance(payload, dict) else None
        if not isinstance(value, dict):
            return self._glpi_error(400, "ERROR_BAD_ARRAY",
                                    "input parameter must be an array of objects")
        return value

    def _update_ticket(self, ticket_id: int, req: Request) -> Reply:
        fields = self._json_input(req)
        if isinstance(fields, Reply):
            return fields
        if ticket_id not in self.tickets:
            return self._glpi_error(400, "ERROR_GLPI_UPDATE", "Item not found")
        if ticket_id in self.hidden:
            return self._glpi_error(400, "ERROR_GLPI_UPDATE", RIGHT_MISSING)
        status = fields.get("status")
        if status is not None and status not in range(1, 7):
            return self._glpi_error(400, "ERROR_GLPI_UPDATE", "Invalid status")
        self.tickets[ticket_id].update({k: v for k, v in fields.items() if k in ("status",)})
        return json_reply(200, [{str(ticket_id): True, "message": ""}], content_type=JSON_TYPE)

    def _list_followups(self, ticket_id: int, req: Request) -> Reply:
        refused = self._visible(ticket_id)
        if refused:
            return refused
        start, end = 0, 49
        if "range" in req.query:
            first, sep, last = (req.arg("range") or "").partition("-")
            if not (sep and first.isdigit() and last.isdigit()):
                return self._glpi_error(400, "ERROR",
                                        "range must be in format : [start-end] with integers")
            start, end = int(first), int(last)
        rows = [f for f in self.followups if f["items_id"] == ticket_id]
        total = len(rows)
        if start > total:
            return self._glpi_error(400, "ERROR_RANGE_EXCEED_TOTAL",
                                    f"Provided range exceed total count of data: {total}")
        # GLPI 9.x serves the content as it stores it: HTML-escaped
        page = [{**f, "content": html.escape(f["content"], quote=False)}
                for f in rows[start:end + 1]]
        headers = {"Accept-Range": "ITILFollowup 1000"}
        status = 200
        if total:
            end = min(end, total - 1)
            headers["Content-Range"] = f"{start}-{end}/{total}"
            if end - start + 1 < total:
                status = 206
        return json_reply(status, page, headers, content_type=JSON_TYPE)

    def _new_followup(self, ticket_id: int, content: str, is_private: int) -> int:
        followup_id = next(self._ids)
        self.followups.append({"id": followup_id, "itemtype": "Ticket", "items_id": ticket_id,
                               "date": "2025-11-25 10:00:00", "users_id": 2,
                               "content": content, "is_private": is_private,
                               "requesttypes_id": 1})
        return followup_id

    def _add_followup(self, req: Request) -> Reply:
        fields = self._json_input(req)
        if isinstance(fields, Reply):
            return fields
        ticket_id = fields.get("items_id")
        if (fields.get("itemtype") != "Ticket" or not isinstance(ticket_id, int)
                or ticket_id not in self.tickets or ticket_id in self.hidden):
            return self._glpi_error(400, "ERROR_GLPI_ADD", RIGHT_MISSING)
        if self.tickets[ticket_id]["status"] == 6:  # closed: ITILFollowup::canCreateItem
            return self._glpi_error(400, "ERROR_GLPI_ADD", RIGHT_MISSING)
        content, private = fields.get("content"), fields.get("is_private", 0)
        if not isinstance(content, str) or not content or private not in (0, 1):
            return self._glpi_error(400, "ERROR_GLPI_ADD", "Invalid content or is_private")
        followup_id = self._new_followup(ticket_id, content, int(private))
        return json_reply(201, {"id": followup_id, "message": ""},
                          {"Location": f"{self.url}{PREFIX}/ITILFollowup/{followup_id}"},
                          content_type=JSON_TYPE)

    def _add_ticket(self, req: Request) -> Reply:
        fields = self._json_input(req)
        if isinstance(fields, Reply):
            return fields
        if not self.may_create:
            return self._glpi_error(400, "ERROR_GLPI_ADD", RIGHT_MISSING)
        name, content = fields.get("name"), fields.get("content")
        if not isinstance(content, str) or not content.strip():  # Ticket::prepareInputForAdd
            return self._glpi_error(400, "ERROR_GLPI_ADD", "Mandatory fields are not filled. "
                                    "Please correct: Description")
        lacking = [label for key, label in self.mandatory.items() if not fields.get(key)]
        if lacking:
            return self._glpi_error(400, "ERROR_GLPI_ADD", "Mandatory fields are not filled. "
                                    f"Please correct: {', '.join(lacking)}")
        if fields.get("type", 1) not in (1, 2):
            return self._glpi_error(400, "ERROR_GLPI_ADD", "Invalid type")
        ticket_id = self.add_ticket(str(name or ""), category=None)
        self.tickets[ticket_id].update({
            "content": html.escape(content), "type": fields.get("type", 1),
            "entities_id": fields.get("entities_id", 0),
            "itilcategories_id": fields.get("itilcategories_id", 0)})
        return json_reply(201, {"id": ticket_id, "message": ""},
                          {"Location": f"{self.url}{PREFIX}/Ticket/{ticket_id}"},
                          content_type=JSON_TYPE)

    def _add_document(self, req: Request) -> Reply:
        ctype = req.header("content-type") or ""
        if not ctype.startswith("multipart/form-data"):
            return self._glpi_error(400, "ERROR_BAD_ARRAY", "expected multipart/form-data")
        msg = BytesParser(policy=policy.HTTP).parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + req.body)
        manifest: dict[str, Any] | None = None
        files: dict[str, tuple[str | None, bytes, str]] = {}
        for part in msg.iter_parts():
            name = str(part.get_param("name", "", header="content-disposition"))
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            if name == "uploadManifest":
                manifest = json.loads(payload)
            elif name:
                files[name] = (part.get_filename(), payload, part.get_content_type())
        if manifest is None or not isinstance(manifest.get("input"), dict):
            return self._glpi_error(400, "ERROR_JSON_PAYLOAD_INVALID",
                                    "uploadManifest is missing")
        fields = manifest["input"]
        names = fields.get("_filename") or []
        uploaded = files.get("filename[0]")
        if not names or uploaded is None or uploaded[0] != names[0]:
            return self._glpi_error(400, "ERROR_GLPI_ADD",
                                    "the file in _filename was not sent")
        ticket_id = fields.get("items_id")
        if fields.get("itemtype") == "Ticket" and (ticket_id not in self.tickets
                                                   or ticket_id in self.hidden):
            return self._glpi_error(400, "ERROR_GLPI_ADD", RIGHT_MISSING)
        document_id = next(self._ids)
        self.documents.append({"id": document_id, "name": fields.get("name"),
                               "filename": uploaded[0], "data": uploaded[1],
                               "mime": uploaded[2], "itemtype": fields.get("itemtype"),
                               "items_id": ticket_id})
        return json_reply(201, {
            "id": document_id, "message": "Document move succeeded.",
            "upload_result": {"filename": [{"name": uploaded[0], "size": len(uploaded[1])}]}},
            {"Location": f"{self.url}{PREFIX}/Document/{document_id}"}, content_type=JSON_TYPE)

