"""Jira Service Management: internal comments through the servicedeskapi, the rest via REST v2.

On a service project a comment made through the platform API is public by default and is
mailed to the customer; the servicedeskapi's `{"public": false}` is the documented way to
write an internal note, so notes go there (`public: true` only when asked). Jira has no
"set status": a status is reached through a workflow transition, so `set_status` picks
the transition whose target status has the wanted name.

Auth: `user` + `password` is HTTP Basic (Jira Cloud: the account's e-mail and an API token
in `password`); `token` alone is a Bearer personal access token (Data Center).
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from adminkit.core.config import Profile
from adminkit.core.errors import ActionFailed, AuthenticationFailed, ConnectionFailed, UsageError
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
from adminkit.tickets.markup import jira_text, jira_wiki
from adminkit.tickets.settings import ticket_settings

if TYPE_CHECKING:
    import httpx

PAGE = 50  # comments per page; the servicedeskapi default, and below its cap


@dataclass(frozen=True)
class Paging:
    """How one of Jira's APIs pages a list: the offset and size parameters, the member
    that holds a page's items, and whether a page is the last (given the page and how
    many items were read so far)."""

    start: str
    size: str
    items: str
    last: Callable[[dict[str, Any], int], bool]


def _total_reached(page: dict[str, Any], read: int) -> bool:
    total = page.get("total")
    return not isinstance(total, int) or isinstance(total, bool) or read >= total


# the servicedeskapi's PagedDTO; the platform API's PageOfComments
SERVICE_DESK = Paging("start", "limit", "values",
                      lambda page, _read: page.get("isLastPage", True) is not False)
PLATFORM = Paging("startAt", "maxResults", "comments", _total_reached)
CREDENTIALS = ("Jira Cloud: user = the account's e-mail, password = a reference to an API "
               "token; Data Center: token = a reference to a personal access token")



def _check(response: httpx.Response, what: str, *, missing: tuple[int, ...]) -> None:
    """`check`, but a 403 that Jira's login guard sends (too many failed logins: a CAPTCHA
    must be solved in a browser, `X-Seraph-LoginReason: AUTHENTICATION_DENIED`) is refused
    credentials, not a ticket missing or hidden: every request gets it, for any ticket."""
    if (response.status_code == 403
            and "AUTHENTICATION_DENIED" in response.headers.get("X-Seraph-LoginReason", "")):
        raise AuthenticationFailed(f"{what}: Jira refuses the account until someone signs "
                                   "in as it in a browser and solves a CAPTCHA (too many "
                                   "failed logins) (403)",
                                   hint="sign in once in a browser as the account; check "
                                        "the profile's tickets credentials")
    check(response, what, missing=missing)


def person(user: Any) -> str | None:
    """Who a Jira user is: `jira:ACCOUNTID` on Cloud, `jira:KEY` on Data Center (the user
    key never changes; the username, `name`, an administrator may rename). Never the
    display name, each user's own to edit, nor the e-mail: Cloud hides it as the user's
    privacy settings say, and Atlassian names the accountId as what identifies a user."""
    if not isinstance(user, dict):
        return None
    ident = user.get("accountId")
    if ident in (None, "", "unknown"):  # "unknown": a deleted, corrupted record (Cloud)
        ident = None if "accountId" in user else user.get("key")
    return user_ref("jira", ident)


class Jira:
    kind = "jira"

    def __init__(self, profile: Profile) -> None:
        cfg = ticket_settings(profile)
        assert cfg is not None
        if cfg.user and cfg.password:
            auth = basic_auth(profile, cfg, "Jira API token")
        elif cfg.token:
            auth = f"Bearer {profile.secret(cfg.token, 'Jira personal access token').reveal()}"
        else:
            raise UsageError(f"profile {profile.name}: Jira needs tickets.user and "
                             "tickets.password, or tickets.token", hint=CREDENTIALS)
        self.http = client(profile, cfg, {"Authorization": auth, "Accept": "application/json"})
        self.allow_public = cfg.allow_public_notes
        self.new = cfg.new  # where `create` raises a request

    def close(self) -> None:
        self.http.close()

    def ping(self) -> str:
        """`GET /rest/api/2/myself`: the signed-in account (Cloud and Data Center alike)."""
        what = "Jira: current user"
        r = send(lambda: self.http.get("/rest/api/2/myself"), what)
        check_login(r, what, hint=CREDENTIALS)
        me = _json(r, what)
        # Cloud names an account by accountId (e-mail may be hidden); Data Center by name.
        shown = str(me.get("displayName") or me.get("name") or me.get("accountId") or "?")
        ident = me.get("emailAddress") or me.get("name") or me.get("accountId")
        who = f"{shown} ({ident})" if ident and ident != shown else shown
        inactive = ", but the account is deactivated" if me.get("active") is False else ""
        return f"Jira REST API: authenticated as {who}{inactive}"

    def person(self, ident: str) -> tuple[str, bool] | None:
        """(name, active) of the user `jira:ACCOUNTID` (Cloud) or `jira:KEY` (Data
        Center), from `GET /rest/api/2/user` (`adminkit approve` checks the approver still
        exists); None where neither form finds them, or the account may not see users."""
        prefix, _, user = ident.strip().partition(":")
        if prefix.casefold() != "jira" or not user:
            return None
        what = f"Jira: user {ident}"
        for param in ("accountId", "key"):  # Cloud knows only the first, Data Center the other
            r = send(partial(self.http.get, "/rest/api/2/user", params={param: user}), what)
            if r.status_code in (400, 403, 404):
                continue
            _check(r, what, missing=())
            data = _json(r, what)
            if person(data) == f"jira:{user}":
                return str(data.get("displayName") or user), data.get("active") is not False
        return None

    @staticmethod
    def _key(ticket_id: str) -> str:
        # The key goes into URL paths: only a well-formed key (HD-12) may.
        if not re.fullmatch(ID_PATTERNS["jira"], ticket_id):
            raise UsageError(f"{ticket_id!r} is not a Jira issue key", hint="like HD-12")
        return ticket_id

    def add_note(self, ticket_id: str, text: str, *, internal: bool = True) -> str:
        key = self._key(ticket_id)
        what = f"Jira {key}: {'internal' if internal else 'public'} comment"
        r = send(lambda: self.http.post(f"/rest/servicedeskapi/request/{key}/comment",
                                        json={"body": jira_wiki(text),
                                              "public": not internal}), what)
        # 404: no such request, not a service-desk request, or not visible;
        # 403: visible, but this account may not comment on it.
        _check(r, what, missing=(403, 404))
        comment = _json(r, what)
        remote = str(comment.get("id", ""))
        # "Customers can set comments to public visibility only": the answer says which.
        if internal and comment.get("public") is True and not self.allow_public:
            raise NotePublished(f"{what}: Jira made the comment public (comment {remote}): "
                                "the account is a customer of the service desk, not an agent",
                                remote_id=remote,
                                hint="make the account an agent of the service project, or "
                                     "set tickets.allow_public_notes: true")
        return remote

    def _pages(self, path: str, paging: Paging, what: str) -> list[dict[str, Any]]:
        """Every item of a paged list, page by page to the last, as `paging` names the
        API's fields."""
        found: list[dict[str, Any]] = []
        guard = PageGuard(what, PAGE)
        while True:
            r = send(partial(self.http.get, path, params={paging.start: len(found),
                                                          paging.size: PAGE}), what)
            _check(r, what, missing=(403, 404))
            page = _json(r, what)
            values = page.get(paging.items) or []
            if not isinstance(values, list):
                raise ConnectionFailed(f"{what}: unexpected answer from Jira "
                                       f"({paging.items} is not a list)")
            items = [c for c in values if isinstance(c, dict)]
            guard(items)
            found += items
            if not items or paging.last(page, len(found)):
                return found

    def comments(self, ticket_id: str) -> list[dict[str, Any]]:
        """Every comment on the request, public and internal, page by page to the last."""
        key = self._key(ticket_id)
        return self._pages(f"/rest/servicedeskapi/request/{key}/comment", SERVICE_DESK,
                           f"Jira {key}: read comments")

    def find_note(self, ticket_id: str, marker: str) -> str | None:
        for comment in self.comments(ticket_id):
            if marker in str(comment.get("body", "")):
                return FoundNote(str(comment.get("id")), internal=None if self.allow_public
                                 else comment.get("public") is False)
        return None

    def notes(self, ticket_id: str) -> list[dict[str, Any]]:
        """The request's comments, oldest first (`adminkit ticket show`, approvals).

        A comment someone other than its author edited keeps its `author`: its text is
        then the editor's, and it is `unverified` (an agent with "Edit All Comments" could
        otherwise turn an approver's comment into /approve). Only the platform API says
        who edited (`updateAuthor`); the servicedeskapi's comments do not."""
        editors = self._editors(ticket_id)
        out = []
        for c in self.comments(ticket_id):
            created, author = c.get("created"), c.get("author")
            note: dict[str, Any] = {
                "time": created.get("iso8601") if isinstance(created, dict) else None,
                "author": author.get("displayName") if isinstance(author, dict) else None,
                "author_id": person(author), "internal": c.get("public") is False,
                "body": jira_text(str(c.get("body", "")))}
            editor = editors.get(str(c.get("id")))
            if editor is not None and not isinstance(editor, dict):
                editor = {}  # an editor Jira could not describe: someone, no id
            if editor is not None and person(editor) != note["author_id"]:
                note["unverified"] = (f"it was edited after it was posted by "
                                      f"{editor.get('displayName') or 'someone'} "
                                      f"({person(editor) or 'no user id'})")
            out.append(note)
        return out

    def _editors(self, ticket_id: str) -> dict[str, Any]:
        """Each comment's `updateAuthor` (by comment id), from the platform API."""
        key = self._key(ticket_id)
        comments = self._pages(f"/rest/api/2/issue/{key}/comment", PLATFORM,
                               f"Jira {key}: read who edited its comments")
        return {str(c.get("id")): c.get("updateAuthor") for c in comments}

    def create(self, subject: str, text: str) -> str:
        """A new request (`POST /rest/servicedeskapi/request`) in tickets.new's service
        desk and request type, raised by the account: its key. A scheduled run's ticket."""
        new = self.new
        if new is None or new.service_desk is None or new.request_type is None:
            raise UsageError("Jira: no service desk and request type to raise a request in",
                             hint="set tickets.new.service_desk and tickets.new.request_type "
                                  "(the ids in the request type's URL)")
        what = f"Jira service desk {new.service_desk}: new request"
        body = {"serviceDeskId": str(new.service_desk), "requestTypeId": str(new.request_type),
                "requestFieldValues": {"summary": subject,
                                       "description": jira_wiki(text)}}
        r = send(lambda: self.http.post("/rest/servicedeskapi/request", json=body), what)
        if r.status_code in (400, 403, 404):  # a field the type needs; no right; no such desk
            reason = error_json(r).get("errorMessage") or f"HTTP {r.status_code}"
            raise Rejected(f"{what}: Jira refused it: {str(reason)[:300]}",
                           hint="the request type must need no field but summary and "
                                "description, and the account must be allowed to raise "
                                "requests in the service desk")
        _check(r, what, missing=())
        key = _json(r, what).get("issueKey")
        if r.status_code != 201 or not isinstance(key, str) \
                or not re.fullmatch(ID_PATTERNS["jira"], key):
            raise ConnectionFailed(f"{what}: unexpected answer from Jira (HTTP {r.status_code})")
        return key

    def get(self, ticket_id: str) -> Ticket:
        key = self._key(ticket_id)
        what = f"Jira {key}"
        r = send(lambda: self.http.get(f"/rest/api/2/issue/{key}", params={
            "fields": "summary,status,reporter,project,issuetype,priority,assignee"}), what)
        _check(r, what, missing=(403, 404))
        data = _json(r, what)
        fields = data.get("fields")
        f: dict[str, Any] = fields if isinstance(fields, dict) else {}

        def name(field: str, attr: str = "name") -> Any:
            value = f.get(field)
            return value.get(attr) if isinstance(value, dict) else value

        given = f.get("reporter")
        reporter: dict[str, Any] = given if isinstance(given, dict) else {}
        requester = next((str(v) for v in (reporter.get("emailAddress"),
                                           reporter.get("displayName"), reporter.get("name"))
                          if isinstance(v, str) and v), None)
        return Ticket(ref=TicketRef("jira", str(data.get("key") or key)),
                      subject=str(f.get("summary") or ""), status=str(name("status") or ""),
                      queue=name("project", "key"), requester=requester,
                      requester_id=person(reporter),
                      queue_id=text_of(name("project", "id")),
                      fields={"id": data.get("id"), "issuetype": name("issuetype"),
                              "priority": name("priority"),
                              "assignee": name("assignee", "displayName")})

    def set_status(self, ticket_id: str, status: str) -> None:
        key = self._key(ticket_id)
        what = f"Jira {key}: status {status}"
        r = send(lambda: self.http.get(f"/rest/api/2/issue/{key}/transitions"), what)
        _check(r, what, missing=(403, 404))
        transitions = _json(r, what).get("transitions") or []
        wanted = status.casefold()
        match = next((t for t in transitions
                      if str((t.get("to") or {}).get("name", "")).casefold() == wanted), None)
        if match is None:
            current = self.get(key).status
            if current.casefold() == wanted:
                return  # already there: nothing to do
            reachable = sorted({str((t.get("to") or {}).get("name")) for t in transitions})
            raise ActionFailed(f"Jira {key}: no workflow transition leads from {current!r} "
                               f"to {status!r}",
                               hint=f"reachable from here: {', '.join(reachable) or 'none'}")
        r = send(lambda: self.http.post(f"/rest/api/2/issue/{key}/transitions",
                                        json={"transition": {"id": str(match["id"])}}), what)
        if r.status_code == 400:  # a required transition field, a validator or a condition
            raise ActionFailed(f"{what}: Jira refused the transition {match.get('name')!r}: "
                               f"{r.text[:200]}")
        _check(r, what, missing=(403, 404))

    def attach(self, ticket_id: str, filename: str, data: bytes) -> None:
        key = self._key(ticket_id)
        what = f"Jira {key}: attach {filename}"
        ctype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        # Multipart uploads are XSRF-checked; this header is the documented opt-out.
        r = send(lambda: self.http.post(f"/rest/api/2/issue/{key}/attachments",
                                        files={"file": (filename, data, ctype)},
                                        headers={"X-Atlassian-Token": "no-check"}), what)
        _check(r, what, missing=(404,))
