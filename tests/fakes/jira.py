"""A Jira Service Management fake: the documented REST calls adminkit makes, over real HTTP.

What it follows (Atlassian's REST references for Jira Cloud platform v2 and the Jira
Service Management Cloud REST API):

- `POST /rest/servicedeskapi/request/{issueIdOrKey}/comment` with a CommentCreateDTO
  `{"body": str, "public": bool}` -> 201 CommentDTO; `public: false` is an internal comment.
- `GET /rest/servicedeskapi/request/{issueIdOrKey}/comment?start=&limit=` -> a PagedDTO
  `{"size", "start", "limit", "isLastPage", "values": [...]}` (public and internal by default).
- `GET /rest/api/2/issue/{key}?fields=a,b` -> `{"id", "key", "self", "fields": {...}}`.
- `GET /rest/api/2/issue/{key}/transitions` -> `{"transitions": [{"id", "name", "to": {...}}]}`;
  `POST` the same path with `{"transition": {"id": ...}}` -> 204.
- `POST /rest/api/2/issue/{key}/attachments`: multipart/form-data, part name `file`, and the
  header `X-Atlassian-Token: no-check` (without it the request is blocked: 403 "XSRF check
  failed") -> 200 with a list of attachments.
- `POST /rest/servicedeskapi/request` with a RequestCreateDTO `{"serviceDeskId",
  "requestTypeId", "requestFieldValues": {"summary", "description", ...}}` -> 201
  CustomerRequestDTO (`issueId`, `issueKey`, ...); the request type's required fields
  missing: 400; an unknown service desk: 404; an unknown request type: 400; an account
  without "permission to create requests in the specified service desk": 403.
- `GET /rest/api/2/issue/{key}/comment?startAt=&maxResults=` -> a PageOfComments
  `{"startAt", "maxResults", "total", "comments": [...]}`, each with `author`, `updateAuthor`
  (who last edited it; an edit keeps the author), `created`, `updated`, `jsdPublic`.
- `GET /rest/api/2/user?accountId=` (Cloud) / `?key=` or `?username=` (Data Center) -> the
  user as a comment's author shows it (`active` false once deactivated); 404 for nobody.
- `GET /rest/api/2/myself` -> the signed-in user: on Cloud `{"accountId", "accountType",
  "emailAddress", "displayName", "active", ...}` (the e-mail may be hidden); on Data Center
  (a personal access token here) `{"key", "name", "emailAddress", "displayName", "active"}`.
- Users (the comment's `author`, the issue's `reporter`): on Cloud a user is named by
  `accountId` (Atlassian's "Deprecation notice and migration guide ... user privacy":
  username and userKey are gone); `emailAddress` is left out when the user's profile
  visibility hides it, and `displayName` is the user's own to change. On Data Center
  (a personal access token here) a user has `key` (never changes), `name` (the
  username, which an administrator may rename), `emailAddress` and `displayName`.
- Errors: the platform answers `{"errorMessages": [...], "errors": {}}` (404 "Issue does not
  exist or you do not have permission to see it."); the servicedeskapi answers
  `{"errorMessage": ..., "i18nErrorMessage": {"i18nKey": ..., "parameters": []}}`.
  401 when not authenticated; 429 (and some 503s) carry Retry-After.

Auth: Basic `email:api_token` (Cloud) or `Bearer <personal access token>` (Data Center).
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import re
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from adminkit.tickets.settings import TicketsConfig
from tests.fakes.httpserver import BadRequest, Reply, Request, Routes, ServerFake, json_reply
from tests.fakes.ticketfake import StoredNote

# A small service-desk workflow: (transition id, transition name, target status).
TRANSITIONS = [("11", "Start work", "In Progress"), ("21", "Ask the customer",
               "Waiting for customer"), ("31", "Resolve this issue", "Resolved"),
               ("41", "Back to support", "Waiting for support")]


@dataclass(frozen=True)
class Person:
    """A Jira user, as Cloud and Data Center each name them."""

    account_id: str  # Cloud
    key: str  # Data Center: the user key, fixed at creation
    name: str  # Data Center: the username (renamable)
    email: str
    display_name: str
    email_visible: bool = True  # Cloud: the profile's e-mail visibility
    customer: bool = False  # a portal-only customer account (Cloud accountType "customer")
    active: bool = True  # False: deactivated (the person left)

    def json(self, base: str, *, data_center: bool) -> dict[str, Any]:
        if data_center:
            return {"self": f"{base}/rest/api/2/user?username={self.name}", "key": self.key,
                    "name": self.name, "emailAddress": self.email,
                    "displayName": self.display_name, "active": self.active,
                    "timeZone": "Europe/Prague", "avatarUrls": {}}
        out: dict[str, Any] = {
            "self": f"{base}/rest/api/2/user?accountId={self.account_id}",
            "accountId": self.account_id, "displayName": self.display_name,
            "active": self.active,
            "timeZone": "Europe/Prague", "avatarUrls": {},
            "accountType": "customer" if self.customer else "atlassian"}
        if self.email_visible:
            out["emailAddress"] = self.email
        return out


def person(login: str, display_name: str | None = None, *, account_id: str | None = None,
           email_visible: bool = True, customer: bool = False) -> Person:
    """A user whose e-mail is `login`@example.com; ids made from the login."""
    n = zlib.crc32(login.encode())
    return Person(account_id or f"5b10ac8d82e05b22{n:08x}", key=f"JIRAUSER{10000 + n % 10**5}",
                  name=login,
                  email=f"{login}@example.com", display_name=display_name or login.title(),
                  email_visible=email_visible, customer=customer)


BOT = Person("acc-bot", "JIRAUSER10100", "adminkit", "bot@example.com", "adminkit")


@dataclass
class Comment:
    id: str
    body: str
    public: bool
    created: str
    author: Person = BOT
    updated: str | None = None  # set by an edit (the platform API's `updated`)
    update_author: Person | None = None  # who last edited it (`updateAuthor`)


@dataclass
class Attachment:
    id: str
    filename: str
    data: bytes
    mime_type: str


@dataclass
class Issue:
    key: str
    id: str
    summary: str
    status: str
    reporter: Person
    project: str
    is_request: bool = True  # a service-desk request (servicedeskapi answers for it)
    comments: list[Comment] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)


NOFORMAT = re.compile(r"\{noformat\}\n?(.*?)\n?\{noformat\}", re.DOTALL)


def shown(body: str) -> str:
    """A body that is one {noformat} block as Jira shows it: its content as it is;
    any other body as written (it is wiki markup: what it shows is its renderer's)."""
    whole = NOFORMAT.fullmatch(body)
    return whole.group(1) if whole else body


def markup(body: str) -> str:
    """What of a comment's wiki text Jira reads as markup: all outside {noformat} blocks,
    and the mentions (`[~name]`) anywhere, which some versions mail wherever they stand."""
    return NOFORMAT.sub("", body).strip() + "".join(re.findall(r"\[~[^\]]*\]", body))


class FakeJira(ServerFake):
    kind = "jira"
    refusal = "401"
    note_write = ("POST", "/rest/servicedeskapi/request/")
    note_refusal = 400  # refused for good: a validator, or a field the request type lacks
    missing_ticket = "HD-404"

    def __init__(self, *, user: str = "bot@example.com",
                 api_token: str = "jira-api-token-1",  # noqa: S107 - a test credential
                 pat: str | None = None) -> None:
        self.user, self.api_token, self.pat = user, api_token, pat
        self.secret = api_token
        self.display_name = "Adminkit Bot"
        # A customer of the service desk, not an agent: "Customers can set comments to
        # public visibility only" (createRequestComment): `public: false` is made public.
        self.customer_only = False
        self.account = (self.display_name, user)
        # Too many failed logins: Basic auth is refused until the account solves a CAPTCHA
        # in a browser; every REST call answers 403 with X-Seraph-LoginReason:
        # AUTHENTICATION_DENIED (Atlassian, "Basic auth for REST APIs").
        self.captcha = False
        self.issues: dict[str, Issue] = {}
        self.people: dict[str, Person] = {}  # by accountId: every user the fake has shown
        self.max_page = 50  # the servicedeskapi's page size cap
        self.max_platform_page = 5000  # the platform API's cap on maxResults (comments)
        self._ids = itertools.count(10000)
        self._keys = itertools.count(100)
        # service desk id -> (project key, {request type id: its required fields})
        self.service_desks = {"1": ("HD", {"10": ["summary"]})}
        self.may_create = True
        self.descriptions: dict[str, str] = {}
        super().__init__()

    # -- what the contract suite asks of every ticket fake ----------------------------
    def deny_internal(self) -> None:
        self.customer_only = True

    def tickets_config(self, secret_ref: str) -> TicketsConfig:
        """Jira Cloud: the account's e-mail and an API token, HTTP Basic."""
        return TicketsConfig(kind="jira", url=self.url, user=self.user, password=secret_ref,
                             new={"service_desk": 1, "request_type": 10})

    def deny_create(self) -> None:
        self.may_create = False

    def require_more(self) -> str:
        """The request type asks for a field adminkit does not fill (a custom field)."""
        self.service_desks["1"][1]["10"].append("customfield_10050")
        return "customfield_10050"

    def opened(self, ticket: str) -> tuple[str, str | None]:
        with self.lock:
            description = self.descriptions.get(ticket)
            return self.issues[ticket].summary, \
                None if description is None else shown(description)

    def create_ticket(self) -> str:
        return self.issue(f"HD-{next(self._keys)}").key

    def notes(self, ticket: str) -> list[StoredNote]:
        """The comments as a person reads them (`shown`): a body that is one {noformat}
        block shows its content; any other is wiki markup, kept as it was written."""
        with self.lock:
            return [StoredNote(c.id, shown(c.body), internal=not c.public)
                    for c in self.issues[ticket].comments]

    # -- set-up and inspection ----------------------------------------------------
    def issue(self, key: str, summary: str = "Please unlock my account", *,
              status: str = "Waiting for support", reporter: str | Person = "anna@example.com",
              is_request: bool = True) -> Issue:
        if isinstance(reporter, str):
            login = reporter.split("@")[0]
            reporter = Person(f"acc-{reporter}", f"JIRAUSER2{len(self.issues):04d}", login,
                              reporter, login.title(), customer=True)
        self.people[reporter.account_id] = reporter
        issue = Issue(key, str(next(self._ids)), summary, status, reporter,
                      key.split("-")[0], is_request)
        self.issues[key] = issue
        return issue

    def comment(self, key: str, body: str, *, public: bool = False,
                author: Person = BOT, created: str | None = None) -> Comment:
        self.people[author.account_id] = author
        comment = Comment(str(next(self._ids)), body, public,
                          created or datetime.now(UTC).isoformat(), author)
        self.issues[key].comments.append(comment)
        return comment

    def edit(self, key: str, comment_id: str, body: str, *, by: Person) -> None:
        """`by` edits a comment (their own with "Edit Own Comments", anyone's with "Edit
        All Comments"): the body changes, the author stays, `updateAuthor` is `by`."""
        with self.lock:
            c = next(c for c in self.issues[key].comments if c.id == comment_id)
            c.body, c.updated, c.update_author = body, datetime.now(UTC).isoformat(), by

    # -- errors in Jira's two formats -----------------------------------------------
    def _error(self, req: Request, status: int, message: str) -> Reply:
        headers: dict[str, str] = {}
        if status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="protected-by-api-token"'
        if status == 429:
            reset = datetime.now(UTC) + timedelta(seconds=60)
            headers["X-RateLimit-Reset"] = reset.strftime("%Y-%m-%dT%H:%MZ")
            headers["RateLimit-Reason"] = "jira-burst-based"
        if req.path.startswith("/rest/servicedeskapi/"):
            return json_reply(status, {"errorMessage": message, "i18nErrorMessage": {
                "i18nKey": f"sd.fake.error.{status}", "parameters": []}}, headers)
        return json_reply(status, {"errorMessages": [message], "errors": {}}, headers)

    def _authenticated(self, req: Request) -> bool:
        if self.credentials_revoked:
            return False
        scheme, cred = req.authorization()
        if scheme == "Basic":
            return req.basic_login() == (self.user, self.api_token)
        return scheme == "Bearer" and self.pat is not None and cred == self.pat

    # -- routing ----------------------------------------------------------------------
    def _route(self, req: Request) -> Reply:
        if self.captcha and req.authorization()[0] == "Basic":
            return Reply(403, b"", {"X-Seraph-LoginReason": "AUTHENTICATION_DENIED",
                                    "X-Authentication-Denied-Reason":
                                        f"CAPTCHA_CHALLENGE; login-url={self.url}/login.jsp"})
        if not self._authenticated(req):
            return self._error(req, 401, "You are not authenticated. Authentication required "
                                          "to perform this operation.")
        if req.method == "GET" and req.path == "/rest/api/2/myself":
            return self._myself(req)
        routes: Routes = [
            ("POST", r"/rest/servicedeskapi/request", self._create_request),
            ("POST", r"/rest/servicedeskapi/request/([^/]+)/comment", self._add_comment),
            ("GET", r"/rest/servicedeskapi/request/([^/]+)/comment", self._comments),
            ("GET", r"/rest/api/2/user", self._user),
            ("GET", r"/rest/api/2/issue/([^/]+)", self._get_issue),
            ("GET", r"/rest/api/2/issue/([^/]+)/comment", self._platform_comments),
            ("GET", r"/rest/api/2/issue/([^/]+)/transitions", self._transitions),
            ("POST", r"/rest/api/2/issue/([^/]+)/transitions", self._do_transition),
            ("POST", r"/rest/api/2/issue/([^/]+)/attachments", self._attach),
        ]
        reply = self._dispatch(req, routes)
        if reply is None:
            return self._error(req, 404, f"null for uri: {req.path}")
        return reply

    def _myself(self, req: Request) -> Reply:
        if (req.header("authorization") or "").startswith("Bearer "):  # Data Center
            return json_reply(200, {"self": f"{self.url}/rest/api/2/user?username=adminkit",
                                    "key": "JIRAUSER10100", "name": "adminkit",
                                    "emailAddress": self.user, "displayName": self.display_name,
                                    "active": True, "timeZone": "Europe/Prague"})
        return json_reply(200, {"self": f"{self.url}/rest/api/2/user?accountId=acc-bot",
                                "accountId": "acc-bot", "accountType": "atlassian",
                                "emailAddress": self.user, "displayName": self.display_name,
                                "active": True, "timeZone": "Europe/Prague", "locale": "en_US"})

    def _user(self, req: Request) -> Reply:
        """`GET /rest/api/2/user`: Cloud by `accountId` (required; username and key are
        gone), Data Center by `key` or `username`; 404 for nobody."""
        if self._data_center(req):
            key, name = req.arg("key"), req.arg("username")
            if not (key or name):
                raise BadRequest("The username or key query parameter is required")
            found = next((p for p in self.people.values()
                          if (key and p.key == key) or (name and p.name == name)), None)
        else:
            account = req.arg("accountId")
            if not account:
                raise BadRequest("The query parameter 'accountId' is required")
            found = self.people.get(account)
        if found is None:
            return json_reply(404, {"errorMessages": ["Specified user does not exist or you "
                                                      "do not have required permissions"],
                                    "errors": {}})
        return json_reply(200, found.json(self.url, data_center=self._data_center(req)))

    def _issue(self, req: Request, key: str) -> Issue:
        issue = self.issues.get(key) or next(
            (i for i in self.issues.values() if i.id == key), None)
        if issue is None or (req.path.startswith("/rest/servicedeskapi/")
                             and not issue.is_request):
            if req.path.startswith("/rest/servicedeskapi/"):
                raise BadRequest("The request could not be found or you do not have "
                                 "permission to view it.", status=404)
            raise BadRequest("Issue does not exist or you do not have permission to see it.",
                             status=404)
        return issue

    @staticmethod
    def _data_center(req: Request) -> bool:
        return (req.header("authorization") or "").startswith("Bearer ")

    def _comment_dto(self, req: Request, c: Comment) -> dict[str, Any]:
        return {"id": c.id, "body": c.body, "public": c.public,
                "author": c.author.json(self.url, data_center=self._data_center(req)),
                "created": {"iso8601": c.created}, "_links": {"self": f"/comment/{c.id}"}}

    def _add_comment(self, req: Request, key: str) -> Reply:
        issue = self._issue(req, key)
        data = req.json()
        if not isinstance(data, dict) or set(data) - {"body", "public", "attachments"}:
            raise BadRequest(f"Unrecognized field(s) in CommentCreateDTO: {data!r}")
        body, public = data.get("body"), data.get("public")
        if not isinstance(body, str) or not body.strip():
            raise BadRequest("The comment body must not be empty.")
        if not isinstance(public, bool):
            raise BadRequest("The 'public' field must be a boolean.")
        public = public or self.customer_only
        comment = Comment(str(next(self._ids)), body, public, datetime.now(UTC).isoformat())
        issue.comments.append(comment)
        return json_reply(201, self._comment_dto(req, comment))

    def _create_request(self, req: Request) -> Reply:
        data = req.json()
        known = {"serviceDeskId", "requestTypeId", "requestFieldValues", "raiseOnBehalfOf",
                 "requestParticipants", "channel", "form", "isAdfRequest"}
        if not isinstance(data, dict) or set(data) - known:
            raise BadRequest(f"Unrecognized field(s) in RequestCreateDTO: {data!r}")
        desk = self.service_desks.get(str(data.get("serviceDeskId")))
        if desk is None:
            raise BadRequest("The service desk does not exist or you do not have permission "
                             "to access it.", status=404)
        if not self.may_create:
            raise BadRequest("You do not have permission to create requests in this service "
                             "desk.", status=403)
        required = desk[1].get(str(data.get("requestTypeId")))
        if required is None:
            raise BadRequest("The request type does not exist or you do not have permission "
                             "to access it.")
        values = data.get("requestFieldValues")
        if not isinstance(values, dict):
            raise BadRequest("requestFieldValues must be an object of field ids and values")
        missing = [f for f in required if not str(values.get(f) or "").strip()]
        if missing:
            raise BadRequest("Your request could not be created. Please check the fields have "
                             "been correctly filled in. " + "; ".join(
                                 f"{f}: This field is required." for f in missing))
        issue = self.issue(f"{desk[0]}-{next(self._keys)}", str(values["summary"]),
                           status="Waiting for support", reporter=BOT)
        self.descriptions[issue.key] = str(values.get("description") or "")
        return json_reply(201, {"issueId": issue.id, "issueKey": issue.key,
                                "requestTypeId": str(data["requestTypeId"]),
                                "serviceDeskId": str(data["serviceDeskId"]),
                                "currentStatus": {"status": issue.status},
                                "_links": {"self": f"{self.url}/rest/servicedeskapi/request/"
                                                   f"{issue.id}"}})

    def _comments(self, req: Request, key: str) -> Reply:
        issue = self._issue(req, key)
        try:
            start = int(req.arg("start", "0") or 0)
            limit = min(int(req.arg("limit", "50") or 50), self.max_page)
        except ValueError:
            raise BadRequest("start and limit must be integers") from None
        want_public = req.arg("public", "true") != "false"
        want_internal = req.arg("internal", "true") != "false"
        chosen = [c for c in issue.comments
                  if (c.public and want_public) or (not c.public and want_internal)]
        page = chosen[start:start + limit]
        return json_reply(200, {"size": len(page), "start": start, "limit": limit,
                                "isLastPage": start + len(page) >= len(chosen),
                                "values": [self._comment_dto(req, c) for c in page],
                                "_links": {"base": self.url}})

    def _platform_comments(self, req: Request, key: str) -> Reply:
        """`GET /rest/api/2/issue/{key}/comment?startAt=&maxResults=` -> a PageOfComments
        `{"startAt", "maxResults", "total", "comments": [...]}`; each comment has `author`,
        `updateAuthor` (the author until someone edits it), `created`, `updated` and, on a
        service project, `jsdPublic`. The servicedeskapi's CommentDTO has none of the
        edit's fields."""
        issue = self._issue(req, key)
        try:
            start = int(req.arg("startAt", "0") or 0)
            limit = min(int(req.arg("maxResults", "50") or 50), self.max_platform_page)
        except ValueError:
            raise BadRequest("startAt and maxResults must be integers") from None
        dc = self._data_center(req)
        page = issue.comments[start:start + limit]
        return json_reply(200, {"startAt": start, "maxResults": limit,
                                "total": len(issue.comments), "comments": [
            {"id": c.id, "body": c.body, "jsdPublic": c.public,
             "author": c.author.json(self.url, data_center=dc),
             "updateAuthor": (c.update_author or c.author).json(self.url, data_center=dc),
             "created": c.created, "updated": c.updated or c.created} for c in page]})

    def _get_issue(self, req: Request, key: str) -> Reply:
        issue = self._issue(req, key)
        every = {"summary": issue.summary,
                 "status": {"name": issue.status, "id": str(abs(hash(issue.status)) % 10000),
                            "statusCategory": {"key": "new"}},
                 "reporter": issue.reporter.json(self.url,
                                                 data_center=self._data_center(req)),
                 "project": {"key": issue.project, "name": f"{issue.project} service desk",
                             "id": str(10000 + sum(map(ord, issue.project)))},
                 "issuetype": {"name": "Service Request"}, "priority": {"name": "Medium"},
                 "assignee": None}
        wanted = (req.arg("fields") or "*all").split(",")
        fields = every if "*all" in wanted else {k: every[k] for k in wanted if k in every}
        return json_reply(200, {"id": issue.id, "key": issue.key,
                                "self": f"{self.url}/rest/api/2/issue/{issue.id}",
                                "fields": fields})

    def _transitions(self, req: Request, key: str) -> Reply:
        issue = self._issue(req, key)
        return json_reply(200, {"expand": "transitions", "transitions": [
            {"id": tid, "name": name, "hasScreen": False, "isGlobal": True,
             "to": {"name": target, "id": tid + "0", "statusCategory": {"key": "indeterminate"}}}
            for tid, name, target in TRANSITIONS if target != issue.status]})

    def _do_transition(self, req: Request, key: str) -> Reply:
        issue = self._issue(req, key)
        data = req.json()
        tid = data.get("transition", {}).get("id") if isinstance(data, dict) else None
        target = next((t for i, _, t in TRANSITIONS if i == str(tid) and t != issue.status),
                      None)
        if target is None:
            raise BadRequest(f"Transition id '{tid}' is not valid for this issue.")
        issue.status = target
        return Reply(204)

    def _attach(self, req: Request, key: str) -> Reply:
        issue = self._issue(req, key)
        if (req.header("x-atlassian-token") or "").lower() != "no-check":
            return Reply(403, b"XSRF check failed", {"Content-Type": "text/plain"})
        if req.content_type != "multipart/form-data":
            raise BadRequest("Attachments must be posted as multipart/form-data", status=415)
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {req.header('content-type')}\r\n\r\n".encode() + req.body)
        out = []
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") != "file":
                raise BadRequest("The multipart parameter with the attachments must be 'file'")
            filename = part.get_filename() or ""
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
            att = Attachment(str(next(self._ids)), filename, data, part.get_content_type())
            issue.attachments.append(att)
            out.append({"id": att.id, "filename": att.filename, "size": len(data),
                        "mimeType": att.mime_type, "content": f"{self.url}/att/{att.id}"})
        if not out:
            raise BadRequest("No file was attached")
        return json_reply(200, out)
