"""Redmine over its REST API: a journal note with `private_notes` is the internal note.

Redmine answers a note (`PUT /issues/N.json`) with 204 No Content, so the new journal's
id is read back from `?include=journals` afterwards: the last journal whose notes are
exactly the text sent. If that read fails the note is still posted, and `add_note`
returns "" rather than an error (a retry would find the note by its marker anyway).

Redmine drops `private_notes` without a word when the account lacks the "Set notes as
private" permission, and the note then goes public (and is mailed to watchers). The
read-back notices this and logs a warning; grant that permission to the API account.
"""

from __future__ import annotations

import logging
import mimetypes
from typing import TYPE_CHECKING, Any

from adminkit.core.config import Profile
from adminkit.core.errors import AdminkitError, ConnectionFailed, UsageError
from adminkit.tickets.base import Ticket, TicketRef
from adminkit.tickets.http import basic_auth, check, client, send

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("adminkit.tickets.redmine")
MISSING = (403, 404)  # Redmine answers 403 for an issue the account may not see or edit


def _errors(response: httpx.Response) -> str:
    """Redmine's validation errors (`{"errors": [...]}` with 422), joined for a message."""
    try:
        body = response.json()
    except ValueError:
        return ""
    errors = body.get("errors") if isinstance(body, dict) else None
    return "; ".join(str(e) for e in errors)[:300] if isinstance(errors, list) else ""


def _checked(response: httpx.Response, what: str) -> None:
    if response.status_code == 422:
        raise ConnectionFailed(f"{what}: Redmine refused it: {_errors(response) or 'HTTP 422'}")
    check(response, what, missing=MISSING)


def _number(ticket_id: str) -> int:
    """Redmine issue ids are numbers; anything else never reaches the server."""
    if not ticket_id.isdecimal():
        raise UsageError(f"{ticket_id!r} is not a Redmine issue number")
    return int(ticket_id)


def _same(a: str, b: str) -> bool:
    return a.replace("\r\n", "\n").strip() == b.replace("\r\n", "\n").strip()


class Redmine:
    kind = "redmine"

    def __init__(self, profile: Profile) -> None:
        cfg = profile.tickets
        assert cfg is not None
        headers = {"Accept": "application/json"}
        if cfg.token:
            headers["X-Redmine-API-Key"] = profile.secret(cfg.token, "Redmine API key").reveal()
        elif cfg.user and cfg.password:
            headers["Authorization"] = basic_auth(profile, cfg, "Redmine password")
        else:
            raise UsageError(f"profile {profile.name}: Redmine needs tickets.token (an API key) "
                             "or user+password")
        self.http = client(profile, cfg, headers)
        self._statuses: dict[str, int] | None = None

    def close(self) -> None:
        self.http.close()

    def _issue(self, ticket_id: str, *, journals: bool = False) -> dict[str, Any]:
        what = f"Redmine issue {ticket_id}"
        params = {"include": "journals"} if journals else {}
        r = send(lambda: self.http.get(f"/issues/{_number(ticket_id)}.json", params=params), what)
        _checked(r, what)
        data = r.json()
        issue = data.get("issue") if isinstance(data, dict) else None
        if not isinstance(issue, dict):
            raise ConnectionFailed(f"{what}: unexpected answer from Redmine")
        return issue

    def _update(self, ticket_id: str, issue: dict[str, Any], what: str) -> None:
        r = send(lambda: self.http.put(f"/issues/{_number(ticket_id)}.json", json={"issue": issue}),
                 what)
        _checked(r, what)

    def journals(self, ticket_id: str) -> list[dict[str, Any]]:
        found = self._issue(ticket_id, journals=True).get("journals") or []
        return [j for j in found if isinstance(j, dict)]

    # -- the protocol -----------------------------------------------------------------
    def add_note(self, ticket_id: str, text: str, *, internal: bool = True) -> str:
        """Post the note; return the new journal's id, read back (Redmine answers 204)."""
        what = f"Redmine issue {ticket_id}: {'private' if internal else 'public'} note"
        self._update(ticket_id, {"notes": text, "private_notes": internal}, what)
        try:
            journals = self.journals(ticket_id)
        except AdminkitError as exc:
            log.debug("%s: posted, but reading its id back failed: %s", what, exc.message)
            return ""
        for journal in reversed(journals):
            if _same(str(journal.get("notes") or ""), text):
                if internal and not journal.get("private_notes"):
                    log.warning("%s: Redmine made the note public; give the API account the "
                                "'Set notes as private' permission", what)
                return str(journal.get("id", ""))
        return ""

    def find_note(self, ticket_id: str, marker: str) -> str | None:
        for journal in self.journals(ticket_id):
            if marker in str(journal.get("notes") or ""):
                return str(journal.get("id"))
        return None

    def get(self, ticket_id: str) -> Ticket:
        issue = self._issue(ticket_id)

        def name(key: str) -> str | None:
            value = issue.get(key)
            return str(value.get("name")) if isinstance(value, dict) else None

        fields: dict[str, Any] = {key: name(key) for key in
                                  ("tracker", "priority", "assigned_to", "category")}
        for cf in issue.get("custom_fields") or []:
            if isinstance(cf, dict) and "name" in cf:
                fields[str(cf["name"])] = cf.get("value")
        return Ticket(ref=TicketRef("redmine", ticket_id), subject=str(issue.get("subject", "")),
                      status=name("status") or "", queue=name("project"),
                      requester=name("author"), fields=fields)

    def statuses(self) -> dict[str, int]:
        """Status names (lower case) to ids, from `/issue_statuses.json`; read once."""
        if self._statuses is None:
            what = "Redmine: issue statuses"
            r = send(lambda: self.http.get("/issue_statuses.json"), what)
            _checked(r, what)
            data = r.json()
            items = data.get("issue_statuses") if isinstance(data, dict) else None
            self._statuses = {str(s["name"]).lower(): int(s["id"]) for s in items or []
                              if isinstance(s, dict) and "name" in s and "id" in s}
        return self._statuses

    def set_status(self, ticket_id: str, status: str) -> None:
        known = self.statuses()
        wanted = status.strip()
        status_id = int(wanted) if wanted.isdecimal() else known.get(wanted.lower())
        if status_id is None:
            raise UsageError(f"Redmine has no issue status {status!r}",
                             hint="known: " + ", ".join(sorted(known)) if known else None)
        self._update(ticket_id, {"status_id": status_id},
                     f"Redmine issue {ticket_id}: status {status}")

    def attach(self, ticket_id: str, filename: str, data: bytes) -> None:
        """Upload the bytes for a token, then attach the token to the issue."""
        what = f"Redmine issue {ticket_id}: attach {filename}"
        r = send(lambda: self.http.post("/uploads.json", params={"filename": filename},
                                        content=data,
                                        headers={"Content-Type": "application/octet-stream"}),
                 what)
        _checked(r, what)
        body = r.json()
        upload = body.get("upload") if isinstance(body, dict) else None
        if not isinstance(upload, dict) or not upload.get("token"):
            raise ConnectionFailed(f"{what}: no upload token in Redmine's answer")
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        self._update(ticket_id, {"uploads": [{"token": upload["token"], "filename": filename,
                                              "content_type": content_type}]}, what)
