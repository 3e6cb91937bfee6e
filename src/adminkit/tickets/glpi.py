"""GLPI over its legacy REST API (`apirest.php`): private follow-ups are the internal notes.

GLPI works in sessions: `initSession` trades the user token (or login and password)
for a session token that every later call carries. Sessions expire on the server
without notice, so a call answered `ERROR_SESSION_TOKEN_INVALID` opens a new session
and is sent once more; a second refusal is a real authentication failure.

Errors come as a JSON array `["ERROR_CODE", "message"]`. GLPI answers 401 both for bad
credentials and for missing rights (`ERROR_RIGHT_MISSING`); the latter on a ticket means
"no such ticket, or no right to see it", which retrying will not change. Any other coded
4xx is a refusal retrying cannot fix either: 400 `ERROR_GLPI_ADD` on a follow-up to a
closed ticket, or from a profile that may not add follow-ups, fails the note at once.

A PHP notice or warning printed before the JSON (`display_errors` on a misconfigured
server) does not make a successful answer a failure: the JSON after it is read.
"""

from __future__ import annotations

import html
import json
import logging
import re
from typing import TYPE_CHECKING, Any

from adminkit.core.config import Profile
from adminkit.core.errors import AuthenticationFailed, ConnectionFailed, UsageError
from adminkit.core.secrets import Secret
from adminkit.tickets.base import Rejected, Ticket, TicketNotFound, TicketRef, text_of
from adminkit.tickets.http import PageGuard, basic_auth, check, client, json_of, send
from adminkit.tickets.markup import glpi_html, glpi_text
from adminkit.tickets.settings import ticket_settings

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("adminkit.tickets.glpi")

# GLPI's CommonITILObject status numbers, and the words adminkit uses for them.
STATUS_WORDS = {1: "new", 2: "assigned", 3: "planned", 4: "pending", 5: "solved", 6: "closed"}
STATUS_NUMBERS = {word: number for number, word in STATUS_WORDS.items()} | {"processing": 2}
PAGE = 100  # follow-ups per request when looking for a marker (GLPI's default page is 50)
# Refusals of initSession that no retry will cure: wrong token, app token or client IP.
LOGIN_ERRORS = {"ERROR_GLPI_LOGIN", "ERROR_GLPI_LOGIN_USER_TOKEN", "ERROR_LOGIN_PARAMETERS_MISSING",
                "ERROR_LOGIN_WITH_CREDENTIALS_DISABLED", "ERROR_WRONG_APP_TOKEN_PARAMETER",
                "ERROR_APP_TOKEN_PARAMETERS_MISSING", "ERROR_NOT_ALLOWED_IP"}
JSON = {"Content-Type": "application/json"}  # GLPI asks for a Content-Type on every call
# PHP's messages (HTML `<b>Notice</b>:` or plain `PHP Warning:`), and where JSON may
# begin after them: at a line's start or after a `<br />`.
PHP_MESSAGE = re.compile(r"\b(Notice|Warning|Deprecated)\b(</b>)?:")
PHP_JSON_START = re.compile(r"(?:^|<br\s*/?>)\s*([\[{])", re.MULTILINE)


def api_url(url: str) -> str:
    """`https://glpi.example` or `https://glpi.example/apirest.php` both mean the API."""
    url = url.rstrip("/")
    return url if url.endswith(".php") else url + "/apirest.php"


def _number(ticket_id: str) -> int:
    """GLPI ticket ids are numbers; anything else never reaches the server."""
    if not ticket_id.isdecimal():
        raise UsageError(f"{ticket_id!r} is not a GLPI ticket number")
    return int(ticket_id)


def glpi_json(response: httpx.Response, what: str) -> Any:
    """The body as JSON, after any PHP notice GLPI printed before it; anything else that
    is not JSON names its first line."""
    try:
        return json_of(response, what)
    except ConnectionFailed:
        text = response.text
        for start in PHP_JSON_START.finditer(text):
            prefix = text[:start.start(1)]
            if PHP_MESSAGE.search(prefix):
                try:
                    data = json_of(response, what, text[start.start(1):])
                except ConnectionFailed:
                    continue
                log.warning("%s: GLPI printed a PHP notice before its answer", what)
                return data
        raise


def glpi_error(response: httpx.Response) -> tuple[str, str]:
    """(`ERROR_CODE`, message) from GLPI's error array, or ("", "") for another body."""
    try:
        body = glpi_json(response, "GLPI")
    except ConnectionFailed:
        return "", ""
    if isinstance(body, list) and body and isinstance(body[0], str):
        message = body[1] if len(body) > 1 and isinstance(body[1], str) else ""
        return body[0], message.split("; view documentation", 1)[0][:200]
    return "", ""


class Glpi:
    kind = "glpi"

    def __init__(self, profile: Profile) -> None:
        cfg = ticket_settings(profile)
        assert cfg is not None
        if not cfg.url:
            raise UsageError(f"profile {profile.name}: tickets.url is not set")
        if cfg.token:
            self._login = f"user_token {profile.secret(cfg.token, 'GLPI user token').reveal()}"
        elif cfg.user and cfg.password:
            self._login = basic_auth(profile, cfg, "GLPI password")
        else:
            raise UsageError(f"profile {profile.name}: GLPI needs tickets.token (a user token) "
                             "or user+password")
        headers = {"Accept": "application/json"}
        app_token = cfg.options.get("app_token")  # optional: GLPI's API client filter
        if app_token:
            try:
                headers["App-Token"] = profile.secret(str(app_token), "GLPI app token").reveal()
            except ValueError:  # the value itself, not a reference: never echo it
                raise UsageError(f"profile {profile.name}: tickets.options.app_token must be a "
                                 "secret reference (env:, file:, keyring: or prompt)") from None
        self.http = client(profile, cfg.model_copy(update={"url": api_url(cfg.url)}), headers)
        self._session: str | None = None
        self.new = cfg.new  # the entity, category and type `create` opens a ticket with

    # -- the session --------------------------------------------------------------------
    def _open_session(self) -> str:
        what = "GLPI: open a session"
        r = send(lambda: self.http.get("/initSession",
                                       headers={**JSON, "Authorization": self._login}), what)
        code, _ = glpi_error(r)
        if r.status_code == 401 or (r.status_code == 400 and code in LOGIN_ERRORS):
            raise AuthenticationFailed(f"{what}: GLPI refused the credentials ({code or 401})",
                                       hint="check tickets.token (the user's API token) and "
                                            "options.app_token in the profile")
        check(r, what)
        data = glpi_json(r, what)
        token = data.get("session_token") if isinstance(data, dict) else None
        if not token:
            raise ConnectionFailed(f"{what}: no session_token in GLPI's answer")
        Secret(str(token))  # known to `redact`: a session token is a credential too
        self._session = str(token)
        return self._session

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> httpx.Response:
        """One API call with the session token; an expired session is renewed once."""
        extra: dict[str, str] = kwargs.pop("headers", {})
        if "files" not in kwargs and "json" not in kwargs:
            extra = {**JSON, **extra}
        for attempt in range(2):
            headers = {**extra, "Session-Token": self._session or self._open_session()}

            def call(headers: dict[str, str] = headers) -> httpx.Response:
                return self.http.request(method, path, headers=headers, **kwargs)

            r = send(call, what)
            if glpi_error(r)[0] != "ERROR_SESSION_TOKEN_INVALID":
                return r
            self._session = None
            if attempt == 0:
                log.debug("GLPI session expired; opening a new one")
        raise AuthenticationFailed(f"{what}: GLPI refused a fresh session token")

    def _check(self, r: httpx.Response, what: str) -> None:
        """GLPI's answer to adminkit's errors: rights missing on a ticket is 'not found'."""
        if r.status_code < 400:
            check(r, what)  # a redirect is refused there; a success passes
            return
        code, message = glpi_error(r)
        if code == "ERROR_RIGHT_MISSING":
            raise TicketNotFound(f"{what}: no such ticket, or no right to see it ({code})")
        if code == "ERROR_ITEM_NOT_FOUND":
            raise TicketNotFound(f"{what}: no such ticket ({code})")
        if r.status_code in (401, 404, 429) or r.status_code >= 500 or not code:
            check(r, what)
        # A coded 4xx: GLPI understood and refused; the same request will be refused again.
        raise Rejected(f"{what}: GLPI {code}: {message}" if message
                       else f"{what}: GLPI {code} (HTTP {r.status_code})")

    def _refused(self, r: httpx.Response, ticket_id: str, what: str) -> None:
        """GLPI answers 400 ERROR_GLPI_ADD/UPDATE both for a missing ticket and for other
        refusals (a closed ticket, a profile without the right); asking for the ticket
        tells them apart."""
        if r.status_code == 400 and glpi_error(r)[0] in ("ERROR_GLPI_ADD", "ERROR_GLPI_UPDATE"):
            ticket = self._ticket(ticket_id)
            status = STATUS_WORDS.get(int(str(ticket.get("status"))), "") \
                if str(ticket.get("status", "")).isdecimal() else ""
            code, message = glpi_error(r)
            why = (f"the ticket is {status}" if status in ("solved", "closed") else
                   "the account's GLPI profile may not add this (a follow-up right?)")
            raise Rejected(f"{what}: GLPI {code}: {message or 'refused'} ({why})",
                           hint="reopen the ticket, or give the API account's profile the "
                                "right to add follow-ups")
        self._check(r, what)

    def close(self) -> None:
        try:
            if self._session:
                token, self._session = self._session, None
                self.http.get("/killSession", headers={**JSON, "Session-Token": token})
        except Exception as exc:  # noqa: BLE001 - logging out is a courtesy, never a failure
            log.debug("GLPI killSession failed: %s", type(exc).__name__)
        finally:
            self.http.close()

    # -- the protocol -----------------------------------------------------------------
    def ping(self) -> str:
        """Open a session (`initSession`: the credentials) and read it back
        (`getFullSession`): the login, the active profile and entity the API acts with."""
        what = "GLPI: read the session"
        r = self._call("GET", "/getFullSession", what)
        self._check(r, what)
        data = glpi_json(r, what)
        session = data.get("session") if isinstance(data, dict) else None
        if not isinstance(session, dict):
            raise ConnectionFailed(f"{what}: no session in GLPI's answer")
        # GLPI's own $_SESSION keys: glpiname is the login, glpiactiveprofile the profile
        login = str(session.get("glpiname") or session.get("glpiID") or "?")
        active = session.get("glpiactiveprofile")
        profile = active.get("name") if isinstance(active, dict) else None
        entity = session.get("glpiactive_entity_name")
        return (f"GLPI API: session opened as {login}"
                + (f", profile {profile}" if profile else "")
                + (f", entity {entity}" if entity else ""))

    def add_note(self, ticket_id: str, text: str, *, internal: bool = True) -> str:
        what = f"GLPI ticket {ticket_id}: {'private' if internal else 'public'} follow-up"
        body = {"input": {"itemtype": "Ticket", "items_id": _number(ticket_id),
                          "content": glpi_html(text), "is_private": 1 if internal else 0}}
        r = self._call("POST", "/ITILFollowup", what, json=body)
        self._refused(r, ticket_id, what)
        data = glpi_json(r, what)
        if not isinstance(data, dict) or not data.get("id"):
            raise ConnectionFailed(f"{what}: no follow-up id in GLPI's answer")
        return str(data["id"])

    def create(self, subject: str, text: str) -> str:
        """A new ticket (`POST /Ticket` in the session) with tickets.new's entity,
        ITIL category and type where given: its id. A scheduled run's ticket. GLPI
        refuses with 400 ERROR_GLPI_ADD both a profile without the right to create and
        a mandatory field of the ticket template left empty (its message says which)."""
        what = "GLPI: new ticket"
        fields: dict[str, Any] = {"name": subject, "content": glpi_html(text), "type": 2}
        new = self.new
        if new is not None:
            fields["type"] = 1 if new.type == "incident" else 2
            if new.entity is not None:
                fields["entities_id"] = new.entity
            if new.category is not None:
                fields["itilcategories_id"] = int(new.category)
        r = self._call("POST", "/Ticket", what, json={"input": fields})
        if r.status_code == 400 and glpi_error(r)[0] == "ERROR_GLPI_ADD":
            raise Rejected(f"{what}: GLPI refused it: {glpi_error(r)[1] or 'ERROR_GLPI_ADD'}",
                           hint="the account's GLPI profile needs the right to create "
                                "tickets (in the entity), and the ticket template's "
                                "mandatory fields must be given (tickets.new)")
        self._check(r, what)
        data = glpi_json(r, what)
        ident = data.get("id") if isinstance(data, dict) else None
        if r.status_code != 201 or not isinstance(ident, int) or isinstance(ident, bool) \
                or ident < 1:
            raise ConnectionFailed(f"{what}: unexpected answer from GLPI (HTTP "
                                   f"{r.status_code})")
        return str(ident)

    def followups(self, ticket_id: str) -> list[dict[str, Any]]:
        """Every follow-up on the ticket, page by page (GLPI returns 50 unless asked)."""
        what = f"GLPI ticket {ticket_id}: follow-ups"
        found: list[dict[str, Any]] = []
        start = 0
        guard = PageGuard(what, PAGE)
        while True:
            r = self._call("GET", f"/Ticket/{_number(ticket_id)}/ITILFollowup", what,
                           params={"range": f"{start}-{start + PAGE - 1}",
                                   "get_hateoas": "false"})
            self._check(r, what)
            page = glpi_json(r, what)
            if not isinstance(page, list):
                break
            guard(page)
            found.extend(item for item in page if isinstance(item, dict))
            total = _total(r.headers.get("Content-Range"))
            start += PAGE
            if len(page) < PAGE or (total is not None and start >= total):
                break
        return found

    def notes(self, ticket_id: str) -> list[dict[str, Any]]:
        """The ticket's follow-ups, oldest first, every page (`adminkit ticket show`)."""
        return [{"time": f.get("date"), "author": f.get("users_id"),
                 "internal": str(f.get("is_private")) == "1",
                 "body": glpi_text(str(f.get("content") or ""))}
                for f in self.followups(ticket_id)]

    def find_note(self, ticket_id: str, marker: str) -> str | None:
        # GLPI stores follow-ups HTML-escaped; the marker has no characters that change.
        for item in self.followups(ticket_id):
            if marker in html.unescape(str(item.get("content") or "")):
                return str(item.get("id"))
        return None

    def _ticket(self, ticket_id: str, *, expand: bool = True) -> dict[str, Any]:
        what = f"GLPI ticket {ticket_id}"
        r = self._call("GET", f"/Ticket/{_number(ticket_id)}", what,
                       params={"expand_dropdowns": "true" if expand else "false",
                               "get_hateoas": "false"})
        self._check(r, what)
        data = glpi_json(r, what)
        if not isinstance(data, dict):
            raise ConnectionFailed(f"{what}: unexpected answer from GLPI")
        return data

    def get(self, ticket_id: str) -> Ticket:
        data = self._ticket(ticket_id)
        status = str(data.get("status", ""))
        word = STATUS_WORDS.get(int(status), status) if status.isdecimal() else status
        category = data.get("itilcategories_id")  # the nearest thing GLPI has to a queue
        keep = ("id", "entities_id", "type", "urgency", "priority", "date", "date_mod")
        # expanded, the category is its name; its id (what `id:7` matches) is read apart
        category_id = self._ticket(ticket_id, expand=False).get("itilcategories_id") \
            if category not in (None, "", 0, "0") else None
        return Ticket(ref=TicketRef("glpi", ticket_id), subject=str(data.get("name") or ""),
                      status=word,
                      queue=str(category) if category not in (None, "", 0, "0") else None,
                      queue_id=text_of(category_id) if category_id not in (0, "0") else None,
                      fields={k: data[k] for k in keep if k in data})

    def set_status(self, ticket_id: str, status: str) -> None:
        word = status.strip().lower()
        number = int(word) if word.isdecimal() else STATUS_NUMBERS.get(word)
        if number not in STATUS_WORDS:
            raise UsageError(f"GLPI has no ticket status {status!r}",
                             hint="use " + ", ".join(STATUS_WORDS.values()) + " (or 1-6)")
        what = f"GLPI ticket {ticket_id}: status {STATUS_WORDS[number]}"
        r = self._call("PUT", f"/Ticket/{_number(ticket_id)}", what,
                       json={"input": {"status": number}})
        self._refused(r, ticket_id, what)

    def attach(self, ticket_id: str, filename: str, data: bytes) -> None:
        what = f"GLPI ticket {ticket_id}: attach {filename}"
        self._ticket(ticket_id)  # a missing ticket must not leave an orphan Document behind
        manifest = {"input": {"name": filename, "_filename": [filename],
                              "itemtype": "Ticket", "items_id": _number(ticket_id)}}
        files = {"uploadManifest": (None, json.dumps(manifest), "application/json"),
                 "filename[0]": (filename, data, "application/octet-stream")}
        r = self._call("POST", "/Document", what, files=files)
        self._refused(r, ticket_id, what)


def _total(content_range: str | None) -> int | None:
    """The count after the slash in GLPI's `Content-Range: 0-49/200`."""
    if not content_range or "/" not in content_range:
        return None
    tail = content_range.rsplit("/", 1)[1].strip()
    return int(tail) if tail.isdecimal() else None
