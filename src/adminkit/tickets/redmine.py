"""Redmine over its REST API: a journal note with `private_notes` is the internal note.

Redmine answers a note (`PUT /issues/N.json`) with 204 No Content, so the new journal's
id is read back from `?include=journals` afterwards: the last journal whose notes are
exactly the text sent. If that read fails the note is still posted, and `add_note`
returns "" rather than an error (a retry would find the note by its marker anyway).

Redmine drops `private_notes` without a word when the account lacks the "Set notes as
private" permission, and the note then goes public (and is mailed to watchers). The
read-back notices this and raises `NotePublished`: the outbox records the note as
`published`, never as delivered. `ping` (and so `profile check`) fails ahead of it: the
account's roles in its projects, and whether they have it, unless the profile says
`allow_public_notes: true`.

Two more silences: with the REST API switched off Redmine answers 403 with an empty
body to every call, which is told apart from a hidden issue by asking who is signed in;
and a role without a workflow transition has its `status_id` ignored with a 204, so a
status change is read back.
"""

from __future__ import annotations

import logging
import mimetypes
from typing import TYPE_CHECKING, Any

from adminkit.core.config import Profile
from adminkit.core.errors import AdminkitError, AuthenticationFailed, ConnectionFailed, UsageError
from adminkit.tickets.base import (
    FoundNote,
    NotePublished,
    Rejected,
    RetryLater,
    Ticket,
    TicketRef,
    text_of,
)
from adminkit.tickets.http import (
    basic_auth,
    check,
    check_login,
    client,
    error_json,
    first_line,
    json_body,
    json_of,
    read_name,
    send,
)
from adminkit.tickets.markup import textile, textile_text
from adminkit.tickets.settings import ticket_settings

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("adminkit.tickets.redmine")
MISSING = (403, 404)  # Redmine answers 403 for an issue the account may not see or edit
PRIVATE_NOTES = "set_notes_private"  # the role permission "Set notes as private"
REST_HINT = ("an administrator must enable Administration > Settings > API > 'Enable REST "
             "web service'")
PUBLIC_HINT = ("give the account's role 'Set notes as private' (Administration > Roles and "
               "permissions), or set tickets.allow_public_notes: true to accept public notes")


def _errors(response: httpx.Response) -> str:
    """Redmine's validation errors (`{"errors": [...]}` with 422), joined for a message."""
    errors = error_json(response).get("errors")
    return "; ".join(str(e) for e in errors)[:300] if isinstance(errors, list) else ""


def _checked(response: httpx.Response, what: str) -> None:
    if response.status_code == 422:  # validation: the same request is refused again
        raise Rejected(f"{what}: Redmine refused it: {_errors(response) or 'HTTP 422'}")
    check(response, what, missing=MISSING)


def _number(ticket_id: str) -> int:
    """Redmine issue ids are numbers; anything else never reaches the server."""
    if not ticket_id.isdecimal():
        raise UsageError(f"{ticket_id!r} is not a Redmine issue number")
    return int(ticket_id)


def user_id(user: Any) -> str | None:
    """`redmine:9`: who a user is. A display name is not: Redmine lets every user change
    their own first and last name (My account) and never makes names unique."""
    ident = user.get("id") if isinstance(user, dict) else None
    if isinstance(ident, int) and not isinstance(ident, bool) and ident > 0:
        return f"redmine:{ident}"
    return None


def _objects(value: object) -> list[dict[str, Any]]:
    """The objects of a JSON list; none where the member is not a list."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _same(a: str, b: str) -> bool:
    return a.replace("\r\n", "\n").strip() == b.replace("\r\n", "\n").strip()


class Redmine:
    kind = "redmine"

    def __init__(self, profile: Profile) -> None:
        cfg = ticket_settings(profile)
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
        self.allow_public = cfg.allow_public_notes
        self.project = cfg.queue  # where `create` opens an issue
        self._identifiers: dict[str, str | None] = {}  # project path -> identifier, read once

    def close(self) -> None:
        self.http.close()

    def ping(self) -> str:
        """`GET /users/current.json?include=memberships`: who is signed in, and in which
        projects with which roles; then each of those roles (`/roles/N.json`, one call per
        role) for the "Set notes as private" permission, without which notes go public."""
        what = "Redmine: current user"
        r = send(lambda: self.http.get("/users/current.json",
                                       params={"include": "memberships"}), what)
        if r.status_code == 403 and not r.content:
            raise AuthenticationFailed(f"{what}: Redmine answered 403 with an empty body: its "
                                       "REST API is switched off", hint=REST_HINT)
        check_login(r, what, hint="tickets.token must be the account's API access key (My "
                                  "account), and Administration > Settings > API must "
                                  "enable the REST web service")
        user = json_body(r, what).get("user")
        if not isinstance(user, dict):
            raise ConnectionFailed(f"{what}: unexpected answer from Redmine")
        # The answer carries the account's api_key too: only the fields below are used.
        name = " ".join(str(user[k]) for k in ("firstname", "lastname") if user.get(k))
        login = str(user.get("login") or user.get("id") or "?")
        text = f"Redmine API: authenticated as {f'{name} ({login})' if name else login}"
        if user.get("admin"):
            return f"{text}, an administrator (may set notes private everywhere)"
        memberships = _objects(user.get("memberships"))
        if not memberships:  # what it may do then is the Non member role's: not readable
            return (f"{text}; warning: the account is a member of no project: whether its "
                    "notes can be private depends on the Non member role")
        warning = self._private_notes_warning(memberships)
        if warning and self.allow_public:
            return f"{text}; warning: {warning} (accepted: tickets.allow_public_notes)"
        if warning:
            raise ConnectionFailed(f"{text}, but it {warning}", hint=PUBLIC_HINT)
        return f"{text}, may set notes private in {len(memberships)} project(s)"

    def _private_notes_warning(self, memberships: list[dict[str, Any]]) -> str | None:
        """Projects where none of the account's roles may set notes private, in words."""
        roles: dict[int, bool] = {}
        for membership in memberships:
            for role in _objects(membership.get("roles")):
                if isinstance(role.get("id"), int):
                    roles[role["id"]] = False
        for role_id in roles:
            what = f"Redmine: role {role_id}"
            try:
                r = send(lambda role_id=role_id: self.http.get(f"/roles/{role_id}.json"),
                         what)
                _checked(r, what)
                role = json_body(r, what).get("role")
            except AdminkitError as exc:
                log.debug("%s: %s", what, exc.message)
                return "could not read the account's roles to check 'Set notes as private'"
            permissions = role.get("permissions") if isinstance(role, dict) else None
            roles[role_id] = isinstance(permissions, list) and PRIVATE_NOTES in permissions
        allowed = {role_id for role_id, may in roles.items() if may}
        public = sorted({str((_objects([m.get("project")]) or [{}])[0].get("name") or "?")
                         for m in memberships
                         if not any(role.get("id") in allowed
                                    for role in _objects(m.get("roles"))
                                    if isinstance(role.get("id"), int))})
        if not public:
            return None
        shown = ", ".join(public[:5]) + (f" and {len(public) - 5} more" if len(public) > 5 else "")
        return (f"may not set notes private in {shown}: its internal notes there would go "
                "public (role permission 'Set notes as private')")

    def _issue(self, ticket_id: str, *, journals: bool = False) -> dict[str, Any]:
        what = f"Redmine issue {ticket_id}"
        params = {"include": "journals"} if journals else {}
        r = send(lambda: self.http.get(f"/issues/{_number(ticket_id)}.json", params=params), what)
        self._check_issue(r, what)
        data = json_body(r, what)
        issue = data.get("issue")
        if not isinstance(issue, dict):
            raise ConnectionFailed(f"{what}: unexpected answer from Redmine")
        return issue

    def _check_issue(self, r: httpx.Response, what: str) -> None:
        """As `_checked`, but a bare 403 is told apart: the REST API switched off (then
        "who am I" is refused too), or an issue the account may not see."""
        if r.status_code == 403 and not r.content:
            me = send(lambda: self.http.get("/users/current.json"), what)
            if me.status_code == 403:
                raise AuthenticationFailed(f"{what}: Redmine answered 403 with an empty body "
                                           "to every call: its REST API is switched off",
                                           hint=REST_HINT)
        _checked(r, what)

    def _update(self, ticket_id: str, issue: dict[str, Any], what: str) -> None:
        r = send(lambda: self.http.put(f"/issues/{_number(ticket_id)}.json", json={"issue": issue}),
                 what)
        self._check_issue(r, what)
        if r.status_code != 204 and r.content:  # Redmine answers 204 No Content
            json_of(r, what)  # a proxy's page instead: say so with its first line
            if r.status_code != 200:
                raise ConnectionFailed(f"{what}: unexpected answer from Redmine (HTTP "
                                       f"{r.status_code}): {first_line(r)}")

    def journals(self, ticket_id: str) -> list[dict[str, Any]]:
        found = self._issue(ticket_id, journals=True).get("journals") or []
        if not isinstance(found, list):
            raise ConnectionFailed(f"Redmine issue {ticket_id}: unexpected answer from "
                                   "Redmine (journals)")
        return [j for j in found if isinstance(j, dict)]

    def issues(self, params: dict[str, str | int]) -> tuple[list[dict[str, Any]], int]:
        """One page of `GET /issues.json` (filters, `sort`, `offset`, `limit` as Redmine
        takes them; httpx encodes the operators): the issues and Redmine's total_count.
        What `adminkit watch` polls with."""
        what = "Redmine: search issues"
        r = send(lambda: self.http.get("/issues.json", params=params), what)
        self._check_issue(r, what)
        data = json_body(r, what)
        found, total = data.get("issues"), data.get("total_count")
        if not isinstance(found, list) or not isinstance(total, int):
            raise ConnectionFailed(f"{what}: unexpected answer from Redmine")
        return [i for i in found if isinstance(i, dict)], total

    def create(self, subject: str, text: str) -> str:
        """A new issue in the profile's project (tickets.queue: its identifier): the id
        Redmine gave it. A scheduled run's ticket; its notes follow through the outbox."""
        project = self.project
        if not project:
            raise UsageError("Redmine: no project to open an issue in",
                             hint="set tickets.queue to the project's identifier")
        what = f"Redmine project {project}: new issue"
        r = send(lambda: self.http.post("/issues.json", json={"issue": {
            "project_id": project, "subject": subject,
            "description": textile(text)}}), what)
        if r.status_code == 403:  # Redmine's bare `head :forbidden`
            raise Rejected(f"{what}: Redmine refused it (403): the account may not add "
                           "issues in the project", hint="give the account's role 'Add "
                           "issues' in the project (and the REST API must be enabled)")
        _checked(r, what)
        issue = json_body(r, what).get("issue")
        if r.status_code != 201 or not isinstance(issue, dict) or "id" not in issue:
            raise ConnectionFailed(f"{what}: unexpected answer from Redmine (HTTP "
                                   f"{r.status_code})")
        return str(issue["id"])

    # -- the protocol -----------------------------------------------------------------
    def add_note(self, ticket_id: str, text: str, *, internal: bool = True) -> str:
        """Post the note; return the new journal's id, read back (Redmine answers 204),
        and whether Redmine kept it private. Not found on the issue: try again later
        (the redelivery looks for it by its marker first)."""
        what = f"Redmine issue {ticket_id}: {'private' if internal else 'public'} note"
        text = textile(text)
        self._update(ticket_id, {"notes": text, "private_notes": internal}, what)
        try:
            journals = self.journals(ticket_id)
        except AdminkitError as exc:
            raise RetryLater(f"{what}: posted, but reading it back failed: {exc.message}") \
                from None
        for journal in reversed(journals):
            if _same(str(journal.get("notes") or ""), text):
                remote = str(journal.get("id", ""))
                if internal and not journal.get("private_notes") and not self.allow_public:
                    raise NotePublished(f"{what}: Redmine made the note public (journal "
                                        f"{remote}): the account may not set notes private",
                                        remote_id=remote, hint=PUBLIC_HINT)
                return remote
        raise RetryLater(f"{what}: Redmine answered, but the note is not on the issue")

    def notes(self, ticket_id: str) -> list[dict[str, Any]]:
        """The issue's notes, oldest first (`adminkit ticket show`, approvals): Redmine
        returns every journal in one answer; journals that only changed fields are left
        out. A note another user edited (Redmine 5: `updated_by`; "Edit notes" lets a
        role edit anyone's) keeps its author but is the editor's text: `unverified`."""
        out = []
        for journal in self.journals(ticket_id):
            if not journal.get("notes"):
                continue
            user, editor = journal.get("user"), journal.get("updated_by")
            note: dict[str, Any] = {
                "time": journal.get("created_on"),
                "author": user.get("name") if isinstance(user, dict) else None,
                "author_id": user_id(user), "internal": bool(journal.get("private_notes")),
                "body": textile_text(str(journal["notes"]))}
            if editor is not None and user_id(editor) != note["author_id"]:
                name = editor.get("name") if isinstance(editor, dict) else None
                note["unverified"] = (f"it was edited after it was written by "
                                      f"{name or 'someone'} ({user_id(editor) or 'no id'})")
            out.append(note)
        return out

    def find_note(self, ticket_id: str, marker: str) -> str | None:
        for journal in self.journals(ticket_id):
            if marker in str(journal.get("notes") or ""):
                return FoundNote(str(journal.get("id")), internal=None if self.allow_public
                                 else bool(journal.get("private_notes")))
        return None

    def get(self, ticket_id: str) -> Ticket:
        issue = self._issue(ticket_id)

        def name(key: str) -> str | None:
            value = issue.get(key)
            return str(value.get("name")) if isinstance(value, dict) else None

        fields: dict[str, Any] = {key: name(key) for key in
                                  ("tracker", "priority", "assigned_to", "category")}
        custom = issue.get("custom_fields")
        for cf in custom if isinstance(custom, list) else []:
            if isinstance(cf, dict) and "name" in cf:
                fields[str(cf["name"])] = cf.get("value")
        project = issue.get("project")
        project_id = project.get("id") if isinstance(project, dict) else None
        return Ticket(ref=TicketRef("redmine", ticket_id), subject=str(issue.get("subject", "")),
                      status=name("status") or "", queue=name("project"),
                      queue_id=text_of(project_id),
                      queue_names=tuple(n for n in [self._identifier(project_id)] if n),
                      requester=name("author"), fields=fields,
                      requester_id=user_id(issue.get("author")))

    def _identifier(self, project_id: object) -> str | None:
        """An issue names its project by id and name; profiles name it by identifier
        (`tickets.queue: helpdesk`). Read once per project; one the account may not see
        keeps its id and name."""
        if not isinstance(project_id, int):
            return None
        key = str(project_id)
        return read_name(self.http, f"/projects/{key}.json", f"Redmine project {key}",
                         "project", "identifier", cache=self._identifiers, checked=_checked)

    def statuses(self) -> dict[str, int]:
        """Status names (lower case) to ids, from `/issue_statuses.json`; read once."""
        if self._statuses is None:
            what = "Redmine: issue statuses"
            r = send(lambda: self.http.get("/issue_statuses.json"), what)
            self._check_issue(r, what)
            items = json_body(r, what).get("issue_statuses")
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
        what = f"Redmine issue {ticket_id}: status {status}"
        self._update(ticket_id, {"status_id": status_id}, what)
        now = self._issue(ticket_id).get("status")
        if not isinstance(now, dict) or now.get("id") != status_id:
            name = now.get("name") if isinstance(now, dict) else "?"
            raise Rejected(f"{what}: Redmine kept the status {name!r}: the account's role has "
                           "no workflow transition to it (Redmine ignores it silently)",
                           hint="allow the transition for the account's role and tracker "
                                "in Administration > Workflow")

    def attach(self, ticket_id: str, filename: str, data: bytes) -> None:
        """Upload the bytes for a token, then attach the token to the issue."""
        what = f"Redmine issue {ticket_id}: attach {filename}"
        r = send(lambda: self.http.post("/uploads.json", params={"filename": filename},
                                        content=data,
                                        headers={"Content-Type": "application/octet-stream"}),
                 what)
        self._check_issue(r, what)
        upload = json_body(r, what).get("upload")
        if not isinstance(upload, dict) or not upload.get("token"):
            raise ConnectionFailed(f"{what}: no upload token in Redmine's answer")
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        self._update(ticket_id, {"uploads": [{"token": upload["token"], "filename": filename,
                                              "content_type": content_type}]}, what)
