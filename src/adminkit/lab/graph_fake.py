"""A protocol-level fake of Microsoft Graph v1.0 and the identity platform, over HTTPS.

Microsoft Graph has no installable server, so tests and the lab run the real
msgraph-sdk, azure-identity and httpx against this: the documented requests, answers,
error bodies and quirks, not a kinder service. It serves, at one address,

- `/{tenant}/oauth2/v2.0/token` and the OpenID metadata (see graph_token.py);
- `/v1.0/...`: users (create, read by id or UPN, update, delete into deleted items,
  restore, hard delete, revokeSignInSessions, assignLicense, licenseDetails, manager),
  groups and their `members/$ref`, directory roles, memberOf / transitiveMemberOf,
  subscribedSkus, `$batch` (20 at most, relative URLs, `dependsOn` and 424, each item
  throttled on its own), `$filter` / `$select` / `$top` / `$search` / `$count` with the
  advanced-query rules (ConsistencyLevel: eventual), paging with `@odata.nextLink`;
- a write quota per app and tenant that answers 429 with `Retry-After` (whole seconds);
- eventual consistency: a new user is missing on reads for `tenant.lag` seconds;
- faults to inject (a status for the next matching requests, or a lost answer after
  the write was made).

Every request (and every item of a batch) is recorded with its parsed `$filter`.
"""

from __future__ import annotations

import json
import math
import random
import re
import secrets
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from adminkit.lab import graph_odata as odata
from adminkit.lab.graph_state import (
    GROUP_DEFAULT,
    ROLE_PROPS,
    SP_PROPS,
    USER_DEFAULT,
    USER_PROPS,
    WRITABLE_USER,
    Tenant,
    new_id,
    now_iso,
)
from adminkit.lab.graph_token import Issuer, OAuthError
from adminkit.lab.httpd import QuietThreadingHTTPServer

GRAPH = "https://graph.microsoft.com"
READ_USERS = ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All",
              "Directory.ReadWrite.All")
WRITE_USERS = ("User.ReadWrite.All", "Directory.ReadWrite.All")
READ_GROUPS = ("GroupMember.Read.All", "Group.Read.All", "Group.ReadWrite.All",
               "GroupMember.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
WRITE_MEMBERS = ("GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.ReadWrite.All")
READ_ROLES = ("RoleManagement.Read.Directory", "RoleManagement.ReadWrite.Directory",
              "Directory.Read.All", "Directory.ReadWrite.All")
READ_ORG = ("Organization.Read.All", "LicenseAssignment.Read.All", "Directory.Read.All",
            "Directory.ReadWrite.All")
WRITE_LICENSES = ("LicenseAssignment.ReadWrite.All", "User.ReadWrite.All",
                  "Directory.ReadWrite.All")
REVOKE = ("User.RevokeSessions.All", "User.ReadWrite.All", "Directory.ReadWrite.All")
DELETE_RESTORE = ("User.DeleteRestore.All", "User.ReadWrite.All", "Directory.ReadWrite.All")
READ_APPS = ("Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All",
             "Directory.ReadWrite.All")
# the restore action's parameters: autoReconcileProxyConflict (v1.0), newUserPrincipalName
# (documented in beta)
RESTORE_OPTIONS = frozenset({"autoReconcileProxyConflict", "newUserPrincipalName"})
UPN_LOCAL = re.compile(r"^[A-Za-z0-9'._!#^~-]{1,64}\Z")
NICKNAME_BAD = set('@()\\[]";:<>, ')
SYNCED = ("Unable to update the specified properties for on-premises mastered Directory "
          "Sync objects or objects currently undergoing migration.")
Reply = tuple[int, dict[str, str], Any]
# longest values of user properties (Graph's user resource); others: 256
MAX_LENGTH = {"givenName": 64, "surname": 64, "mailNickname": 64, "department": 64,
              "jobTitle": 128, "companyName": 64, "employeeId": 16, "usageLocation": 2}


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str,
                 details: list[dict[str, str]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details, self.headers = details, headers or {}

    def reply(self, client_request_id: str | None) -> Reply:
        body: dict[str, Any] = {"error": {
            "code": self.code, "message": self.message,
            "innerError": {"date": now_iso(), "request-id": new_id(),
                           "client-request-id": client_request_id or new_id()}}}
        if self.details:
            body["error"]["details"] = self.details
        return self.status, dict(self.headers), body


def _not_found(what: str) -> GraphError:
    return GraphError(404, "Request_ResourceNotFound",
                      f"Resource '{what}' does not exist or one of its queried "
                      "reference-property objects are not present.")


def _bad(message: str, code: str = "Request_BadRequest") -> GraphError:
    return GraphError(400, code, message)


@dataclass
class Logged:
    method: str
    path: str  # decoded, without /v1.0
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    filter: odata.Node | None = None
    status: int = 0
    in_batch: bool = False
    at: float = field(default_factory=time.monotonic)


@dataclass
class Fault:
    """Answer the next `times` requests matching (method, path prefix) with `status`
    (and `retry_after`), or, with `after_write`, make the write and lose its answer."""

    method: str
    path: str
    status: int
    times: int = 1
    retry_after: int | None = None
    after_write: bool = False


@dataclass
class Quota:
    """Writes per app and tenant: `limit` per `window` seconds, refilled continuously."""

    limit: int = 3000
    window: float = 150.0
    tokens: float = -1.0
    stamp: float = 0.0
    throttled: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> int | None:
        """None: go on; else the seconds to tell the client to wait."""
        with self.lock:
            now = time.monotonic()
            rate = self.limit / self.window
            if self.tokens < 0:
                self.tokens, self.stamp = float(self.limit), now
            self.tokens = min(float(self.limit), self.tokens + (now - self.stamp) * rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return None
            self.throttled += 1
            return max(1, math.ceil((1 - self.tokens) / rate))


class GraphFake:
    """State and routes; `serve()` puts it on HTTPS at 127.0.0.1."""

    def __init__(self, tenant: Tenant, *, latency: float = 0.0, batch_item: float = 0.0,
                 quota: Quota | None = None) -> None:
        self.tenant = tenant
        self.issuer = Issuer(tenant.tenant_id, GRAPH)
        self.latency, self.batch_item = latency, batch_item
        self.quota = quota or Quota()
        self.faults: list[Fault] = []
        self.log: list[Logged] = []
        self.base = ""  # https://127.0.0.1:PORT once served
        self._pages: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server: QuietThreadingHTTPServer | None = None
        self._rng = random.Random(7)

    # -- serving ------------------------------------------------------------------------
    def serve(self, cert: Path, key: Path, host: str = "127.0.0.1", port: int = 0) -> str:
        fake = self
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)

        class Handler(_Handler):
            graph = fake

        server = QuietThreadingHTTPServer((host, port), Handler)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self.base = f"https://{host}:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, name="graph-fake", daemon=True).start()
        return self.base

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def writes(self, method: str | None = None, path: str = "") -> list[Logged]:
        """Logged requests that reached a route (batch items included), not the $batch."""
        return [r for r in self.log if r.path != "/$batch" and r.path.startswith(path)
                and (method is None or r.method == method)]

    # -- one request --------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: dict[str, str], body: Any,
               *, in_batch: bool = False) -> Reply:
        url = urlsplit(target)
        path = unquote(url.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        entry = Logged(method, path.removeprefix("/v1.0"), query, headers, body,
                       in_batch=in_batch)
        with self._lock:
            self.log.append(entry)
        client_id = headers.get("client-request-id")
        try:
            status, out_headers, out = self._route(method, entry, headers, body)
        except GraphError as err:
            status, out_headers, out = err.reply(client_id)
        entry.status = status
        return status, out_headers, out

    def _fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.method == method and path.startswith(fault.path) and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def _route(self, method: str, entry: Logged, headers: dict[str, str],
               body: Any) -> Reply:
        path = entry.path
        if not entry.in_batch:
            token = self.issuer.check(headers.get("authorization"))
            if token is None:
                raise GraphError(401, "InvalidAuthenticationToken",
                                 "Access token is empty." if "authorization" not in headers
                                 else "Access token validation failure. Invalid audience.")
            headers["x-fake-roles"] = " ".join(sorted(token.roles))
            headers["x-fake-app"] = token.client_id
        fault = self._fault(method, path)
        if fault is not None and not fault.after_write:
            extra = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
            code = {429: "TooManyRequests", 503: "ServiceUnavailable",
                    504: "GatewayTimeout"}.get(fault.status, "UnknownError")
            raise GraphError(fault.status, code, "injected by the test", headers=extra)
        if path == "/$batch" and method == "POST":
            return self._batch(headers, body)
        if method != "GET":
            wait = self.quota.take()
            if wait is not None:
                raise GraphError(429, "TooManyRequests",
                                 "Too many requests. Please retry after the time in the "
                                 "Retry-After header.", headers={"Retry-After": str(wait)})
        with self.tenant.lock:
            reply = self._dispatch(method, path, entry, headers, body)
        if fault is not None:  # after_write: done, and the answer is lost
            raise GraphError(fault.status, "GatewayTimeout", "injected: the answer was lost")
        return reply

    def _need(self, headers: dict[str, str], allowed: tuple[str, ...]) -> None:
        roles = set(headers.get("x-fake-roles", "").split())
        if not roles & set(allowed):
            raise GraphError(403, "Authorization_RequestDenied",
                             "Insufficient privileges to complete the operation.")

    # -- $batch -------------------------------------------------------------------------
    def _batch(self, headers: dict[str, str], body: Any) -> Reply:
        items = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            raise _bad("Invalid batch payload format.", "BadRequest")
        if len(items) > 20:
            raise _bad("The number of requests in the batch exceeds the limit of 20.",
                       "BadRequest")
        ids = [str(i.get("id")) for i in items]
        if len(set(ids)) != len(ids):
            raise _bad("Batch request ids must be unique.", "BadRequest")
        for item in items:
            if not str(item.get("url", "")).startswith("/"):
                raise _bad("Invalid request: the url of every request in a batch must be "
                           "relative (e.g. /users).", "BadRequest")
        time.sleep(self.batch_item * len(items))
        statuses: dict[str, int] = {}
        answers = []
        for item in items:
            rid = str(item["id"])
            deps = [str(d) for d in item.get("dependsOn") or []]
            item_headers = {k.lower(): v for k, v in (item.get("headers") or {}).items()}
            item_headers["x-fake-roles"] = headers.get("x-fake-roles", "")
            item_headers["x-fake-app"] = headers.get("x-fake-app", "")
            if any(statuses.get(d, 599) >= 400 for d in deps):
                status, hdrs, out = GraphError(
                    424, "FailedDependency", "Failed Dependency").reply(None)
            else:
                status, hdrs, out = self.handle(str(item.get("method", "GET")).upper(),
                                                "/v1.0" + item["url"], item_headers,
                                                item.get("body"), in_batch=True)
            statuses[rid] = status
            answer: dict[str, Any] = {"id": rid, "status": status,
                                      "headers": {"Content-Type": "application/json", **hdrs}}
            if out is not None:
                answer["body"] = out
            answers.append(answer)
        self._rng.shuffle(answers)  # Graph answers in any order
        return 200, {}, {"responses": answers}

    # -- routes -------------------------------------------------------------------------
    def _dispatch(self, method: str, path: str, entry: Logged, headers: dict[str, str],
                  body: Any) -> Reply:
        parts = [p for p in path.split("/") if p]
        t = self.tenant
        if parts == ["users"]:
            if method == "GET":
                self._need(headers, READ_USERS)
                return self._list("users", list(t.users.values()), entry, headers)
            if method == "POST":
                self._need(headers, WRITE_USERS)
                return 201, {"Location": f"{GRAPH}/v1.0/users"}, self._create_user(body)
        if parts[:1] == ["users"] and len(parts) >= 2:
            return self._user_route(method, parts[1], parts[2:], entry, headers, body)
        if parts == ["groups"] and method == "GET":
            self._need(headers, READ_GROUPS)
            return self._list("groups", list(t.groups.values()), entry, headers)
        if parts[:1] == ["groups"] and len(parts) >= 2:
            return self._group_route(method, parts[1], parts[2:], entry, headers, body)
        if parts == ["directoryRoles"] and method == "GET":
            self._need(headers, READ_ROLES)
            return self._list("directoryRoles", list(t.roles.values()), entry, headers)
        if parts[:1] == ["directoryRoles"] and len(parts) == 3 and parts[2] == "members":
            self._need(headers, READ_ROLES)
            role = t.roles.get(parts[1])
            if role is None:
                raise _not_found(parts[1])
            return self._list("directoryObjects", self._objects(role["_members"]), entry,
                              headers)
        if parts == ["subscribedSkus"] and method == "GET":
            self._need(headers, READ_ORG)
            skus = [{**s, "consumedUnits": t.consumed(s["skuId"])} for s in t.skus.values()]
            return 200, {}, {"@odata.context": f"{GRAPH}/v1.0/$metadata#subscribedSkus",
                             "value": skus}
        if parts[:2] == ["directory", "deletedItems"] and len(parts) >= 3:
            return self._deleted_route(method, parts[2:], entry, headers, body)
        if len(parts) == 2 and parts[0].startswith("servicePrincipals(") and method == "GET" \
                and parts[1] in ("memberOf", "transitiveMemberOf"):
            return self._app_roles(parts, entry, headers)
        if parts[:1] == ["directoryObjects"] and len(parts) == 2 and method == "GET":
            self._need(headers, READ_USERS)
            found = t.object(parts[1])
            if found is None:
                raise _not_found(parts[1])
            return 200, {}, self._shape(found, None)
        raise _bad(f"Resource not found for the segment '{parts[0] if parts else ''}'.",
                   "BadRequest")

    def _app_roles(self, parts: list[str], entry: Logged, headers: dict[str, str]) -> Reply:
        """`/servicePrincipals(appId='…')/memberOf`: an app's directory roles and groups."""
        self._need(headers, READ_APPS)
        m = re.fullmatch(r"servicePrincipals\(appId='([^']*)'\)", parts[0])
        if m is None:
            raise _bad(f"Invalid object identifier '{parts[0]}'.", "Request_BadRequest")
        t = self.tenant
        sp = next((s for s in t.service_principals.values() if s["appId"] == m.group(1)),
                  None)
        if sp is None:
            raise _not_found(m.group(1))
        found = (t.member_of(sp["id"]) if parts[1] == "memberOf"
                 else t.transitive_member_of(sp["id"]))
        return self._list("directoryObjects", found, entry, headers)

    def _objects(self, ids: set[str]) -> list[dict[str, Any]]:
        t = self.tenant
        return [o for o in (t.object(i) for i in ids)
                if o is not None and (o.get("@odata.type") != "#microsoft.graph.user"
                                      or t.visible(o))]

    def _user(self, key: str) -> dict[str, Any]:
        user = self.tenant.user(key)
        if user is None:
            raise _not_found(key)
        return user

    def _user_route(self, method: str, key: str, rest: list[str], entry: Logged,
                    headers: dict[str, str], body: Any) -> Reply:
        t = self.tenant
        if not rest:
            if method == "GET":
                self._need(headers, READ_USERS)
                user = self._user(key)
                return 200, {}, self._entity("users", user, entry, headers)
            if method == "PATCH":
                self._need(headers, WRITE_USERS)
                self._patch_user(self._user(key), body, headers)
                return 204, {}, None
            if method == "DELETE":
                self._need(headers, WRITE_USERS)
                user = self._user(key)
                if user.get("onPremisesSyncEnabled"):
                    raise _bad(SYNCED)
                self._outranked(user, headers)
                t.soft_delete(user)
                return 204, {}, None
        user = self._user(key)
        action = rest[0]
        if action == "revokeSignInSessions" and method == "POST":
            self._need(headers, REVOKE)
            user["_sessions_revoked"] = time.time()
            return 200, {}, {"@odata.context": f"{GRAPH}/v1.0/$metadata#Edm.Boolean",
                             "value": True}
        if action == "assignLicense" and method == "POST":
            self._need(headers, WRITE_LICENSES)
            self._assign(user, body or {})
            return 200, {}, self._shape(user, None)
        if action == "licenseDetails" and method == "GET":
            self._need(headers, READ_USERS)
            rows = [{"id": new_id(), "skuId": lic["skuId"],
                     "skuPartNumber": t.skus[lic["skuId"]]["skuPartNumber"],
                     "servicePlans": t.skus[lic["skuId"]]["servicePlans"]}
                    for lic in user["assignedLicenses"] if lic["skuId"] in t.skus]
            return 200, {}, {"value": rows}
        if action in ("memberOf", "transitiveMemberOf") and method == "GET":
            self._need(headers, READ_USERS)
            found = (t.member_of(user["id"]) if action == "memberOf"
                     else t.transitive_member_of(user["id"]))
            return self._list("directoryObjects", found, entry, headers)
        if action == "manager":
            if rest[1:] == ["$ref"] and method == "PUT":
                self._need(headers, WRITE_USERS)
                ref = str((body or {}).get("@odata.id", ""))
                manager = t.user(ref.rstrip("/").rsplit("/", 1)[-1])
                if manager is None:
                    raise _not_found(ref)
                user["_manager"] = manager["id"]
                return 204, {}, None
            if method == "GET":
                if not user["_manager"]:
                    raise _not_found("manager")
                return 200, {}, self._shape(t.users[user["_manager"]], None)
        raise _bad(f"Resource not found for the segment '{action}'.", "BadRequest")

    def _group_route(self, method: str, key: str, rest: list[str], entry: Logged,
                     headers: dict[str, str], body: Any) -> Reply:
        t = self.tenant
        group = t.groups.get(key)
        if group is None:
            raise _not_found(key)
        if not rest and method == "GET":
            self._need(headers, READ_GROUPS)
            return 200, {}, self._entity("groups", group, entry, headers)
        if rest and rest[0] in ("members", "transitiveMembers") and method == "GET" \
                and len(rest) == 1:
            self._need(headers, READ_GROUPS)
            ids = set(group["_members"])
            if rest[0] == "transitiveMembers":
                todo = list(ids)
                while todo:
                    inner = t.groups.get(todo.pop())
                    for mid in inner["_members"] if inner else ():
                        if mid not in ids:
                            ids.add(mid)
                            todo.append(mid)
            return self._list("directoryObjects", self._objects(ids), entry, headers)
        if rest in (["memberOf"], ["transitiveMemberOf"]) and method == "GET":
            self._need(headers, READ_GROUPS)
            found = (t.member_of(group["id"]) if rest[0] == "memberOf"
                     else t.transitive_member_of(group["id"]))
            return self._list("directoryObjects", found, entry, headers)
        if rest == ["members", "$ref"] and method == "POST":
            self._need(headers, WRITE_MEMBERS)
            self._group_writable(group, headers)
            ref = str((body or {}).get("@odata.id", ""))
            if not ref.startswith(f"{GRAPH}/v1.0/directoryObjects/"):
                raise _bad("Invalid URL format specified in @odata.bind for members")
            member = ref.rsplit("/", 1)[-1]
            obj = t.object(member)
            if obj is None or (obj.get("@odata.type") == "#microsoft.graph.user"
                               and not t.visible(obj)):
                raise _not_found(member)
            if member in group["_members"]:
                raise _bad("One or more added object references already exist for the "
                           "following modified properties: 'members'.")
            group["_members"].add(member)
            return 204, {}, None
        if len(rest) == 3 and rest[0] == "members" and rest[2] == "$ref" \
                and method == "DELETE":
            self._need(headers, WRITE_MEMBERS)
            self._group_writable(group, headers)
            if rest[1] not in group["_members"] or t.object(rest[1]) is None:
                raise _not_found(rest[1])  # a deleted member is kept, but not reachable
            group["_members"].discard(rest[1])
            return 204, {}, None
        raise _bad(f"Resource not found for the segment '{rest[0] if rest else key}'.",
                   "BadRequest")

    def _group_writable(self, group: dict[str, Any], headers: dict[str, str]) -> None:
        if group.get("onPremisesSyncEnabled"):
            raise _bad(SYNCED)
        if group.get("isAssignableToRole"):
            self._need(headers, ("RoleManagement.ReadWrite.Directory",))

    def _deleted_route(self, method: str, rest: list[str], entry: Logged,
                       headers: dict[str, str], body: Any) -> Reply:
        t = self.tenant
        if rest[0] in ("microsoft.graph.user", "graph.user") and method == "GET":
            self._need(headers, READ_USERS)
            return self._list("directory/deletedItems/microsoft.graph.user",
                              list(t.deleted.values()), entry, headers)
        user = t.deleted.get(rest[0]) or t.deleted.get(rest[0].lower())  # ids: any case
        if user is None:
            raise _not_found(rest[0])
        if len(rest) == 1 and method == "GET":
            self._need(headers, READ_USERS)
            return 200, {}, self._entity("users", user, entry, headers)
        if len(rest) == 1 and method == "DELETE":
            self._need(headers, DELETE_RESTORE)
            del t.deleted[user["id"]]
            for holder in [*t.groups.values(), *t.roles.values()]:
                holder["_members"].discard(user["id"])
            return 204, {}, None
        if rest[1:] in (["restore"], ["microsoft.graph.restore"]) and method == "POST":
            self._need(headers, DELETE_RESTORE)
            return 200, {}, self._restore(user, body, headers)
        raise _bad("Unsupported request on deleted items.", "BadRequest")

    def _outranked(self, user: dict[str, Any], headers: dict[str, str]) -> None:
        """Graph (user: delete, restore): in app-only calls, User.ReadWrite.All is not
        enough for a user in an administrator role; the app must hold a higher role."""
        if self.tenant.administrator(user["id"]) and not self.tenant.app_outranks_admins(
                headers.get("x-fake-app", "")):
            raise GraphError(403, "Authorization_RequestDenied",
                             "Insufficient privileges to complete the operation.")

    def _restore(self, user: dict[str, Any], body: Any, headers: dict[str, str]
                 ) -> dict[str, Any]:
        """Back with everything it had (memberships, roles, licences) and its original
        UPN, as Graph restores a user: an app restores one that holds an administrator
        role only if the app itself holds a higher one; a UPN or proxy address taken
        meanwhile is a conflict (proxy addresses may be dropped instead, on request)."""
        t = self.tenant
        options = body if isinstance(body, dict) else {}
        for name in options:
            if name not in RESTORE_OPTIONS:
                raise _bad(f"Property '{name}' does not exist on type "
                           "'microsoft.graph.restore'.")
        self._outranked(user, headers)
        upn = str(options.get("newUserPrincipalName") or user["_upn"])
        if options.get("newUserPrincipalName"):
            self._check_upn(upn)
        elif t.upn_taken(upn):
            raise GraphError(400, "Request_BadRequest",
                             "Another object with the same value for property "
                             "userPrincipalName already exists.",
                             [{"code": "ObjectConflict", "target": "userPrincipalName"}])
        taken = {a.casefold() for u in t.users.values() for a in u["proxyAddresses"]}
        clash = [a for a in user["proxyAddresses"] if a.casefold() in taken]
        if clash and options.get("autoReconcileProxyConflict") is not True:
            raise GraphError(400, "Request_BadRequest",
                             "Another object with the same value for property "
                             "proxyAddresses already exists.",
                             [{"code": "ObjectConflict", "target": "proxyAddresses"}])
        user["proxyAddresses"] = [a for a in user["proxyAddresses"] if a not in clash]
        del t.deleted[user["id"]]
        user["userPrincipalName"], user["deletedDateTime"] = upn, None
        user.pop("_upn", None)
        t.users[user["id"]] = user
        return {"@odata.context": f"{GRAPH}/v1.0/$metadata#directoryObjects/$entity",
                **self._shape(user, None)}

    # -- writes -------------------------------------------------------------------------
    def _check_upn(self, upn: Any, but: str | None = None) -> str:
        if not isinstance(upn, str) or upn.count("@") != 1:
            raise _bad("Invalid value specified for property 'userPrincipalName' of "
                       "resource 'User'.")
        local, domain = upn.split("@")
        if not UPN_LOCAL.match(local) or local.startswith(".") or local.endswith(".") \
                or ".." in local:
            raise _bad("Property userPrincipalName is invalid.")
        if domain.casefold() not in {d.casefold() for d in self.tenant.domains}:
            raise _bad("The domain portion of the userPrincipalName property is invalid. You "
                       "must use one of the verified domain names in your organization.")
        if self.tenant.upn_taken(upn, but):
            raise GraphError(400, "Request_BadRequest",
                             "Another object with the same value for property "
                             "userPrincipalName already exists.",
                             [{"code": "ObjectConflict", "target": "userPrincipalName"}])
        return upn

    @staticmethod
    def _check_password(profile: Any) -> tuple[str, bool]:
        if not isinstance(profile, dict) or not isinstance(profile.get("password"), str):
            raise _bad("Invalid value specified for property 'passwordProfile' of resource "
                       "'User'.")
        password = profile["password"]
        classes = sum(1 for test in (str.islower, str.isupper, str.isdigit)
                      if any(test(ch) for ch in password))
        classes += any(not ch.isalnum() for ch in password)
        if not 8 <= len(password) <= 256 or classes < 3:
            raise _bad("The specified password does not comply with password complexity "
                       "requirements. Please provide a different password.")
        return password, bool(profile.get("forceChangePasswordNextSignIn", True))

    def _check_values(self, body: dict[str, Any]) -> None:
        for name, value in body.items():
            if name.startswith("@odata."):
                continue
            if name not in WRITABLE_USER:
                raise _bad(f"Property '{name}' does not exist on type 'microsoft.graph.user' "
                           "or is read-only.")
            if isinstance(value, str) and (len(value) > MAX_LENGTH.get(name, 256) or any(
                    ord(ch) < 32 for ch in value)):
                raise _bad(f"Invalid value specified for property '{name}' of resource "
                           "'User'.")
        nick = body.get("mailNickname")
        if nick is not None and (not isinstance(nick, str) or not nick or len(nick) > 64
                                 or set(nick) & NICKNAME_BAD or not nick.isascii()):
            raise _bad("Invalid value specified for property 'mailNickname' of resource "
                       "'User'.")

    def _create_user(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _bad("Empty Payload. JSON content expected.")
        for required in ("accountEnabled", "displayName", "mailNickname", "userPrincipalName",
                         "passwordProfile"):
            if body.get(required) in (None, ""):
                raise _bad(f"Invalid value specified for property '{required}' of resource "
                           "'User'.")
        self._check_values(body)
        upn = self._check_upn(body["userPrincipalName"])
        password, must = self._check_password(body["passwordProfile"])
        fields = {k: v for k, v in body.items()
                  if not k.startswith("@") and k not in ("passwordProfile",
                                                         "userPrincipalName", "displayName")}
        user = self.tenant.add_user(upn, body["displayName"], password=password, **fields)
        user["_must_change"] = must
        user["_visible_at"] = time.time() + self.tenant.lag
        return self._shape(user, None)

    def _patch_user(self, user: dict[str, Any], body: Any, headers: dict[str, str]) -> None:
        if not isinstance(body, dict) or not body:
            raise _bad("Empty Payload. JSON content expected.")
        self._check_values(body)
        if user.get("onPremisesSyncEnabled") and set(body) - {"usageLocation", "@odata.type"}:
            raise _bad(SYNCED)
        if "passwordProfile" in body:
            privileged = any(r["id"] in {h["id"] for h in self.tenant.transitive_member_of(
                user["id"])} for r in self.tenant.roles.values())
            if privileged:
                raise GraphError(403, "Authorization_RequestDenied",
                                 "Insufficient privileges to complete the operation.")
        if "userPrincipalName" in body:
            self._check_upn(body["userPrincipalName"], but=user["id"])
        if "passwordProfile" in body:
            password, must = self._check_password(body["passwordProfile"])
            user["_password"], user["_must_change"] = password, must
            user["lastPasswordChangeDateTime"] = now_iso()
        for name, value in body.items():
            if name != "passwordProfile" and not name.startswith("@"):
                user[name] = value

    def _assign(self, user: dict[str, Any], body: dict[str, Any]) -> None:
        t = self.tenant
        add = body.get("addLicenses")
        remove = body.get("removeLicenses")
        if not isinstance(add, list) or not isinstance(remove, list):
            raise _bad("Invalid value specified for property 'addLicenses' of resource "
                       "'assignLicense'.")
        for sku_id in [lic.get("skuId") for lic in add] + list(remove):
            if sku_id not in t.skus:
                raise _bad(f"License {sku_id} does not correspond to a valid company License.")
        if add and not user.get("usageLocation"):
            raise _bad("License assignment cannot be done for user with invalid usage "
                       "location.")
        have = {lic["skuId"] for lic in user["assignedLicenses"]}
        for sku_id in remove:
            if sku_id not in have:
                raise _bad(f"User does not have a corresponding license {sku_id}.")
        for lic in add:
            sku = t.skus[lic["skuId"]]
            if lic["skuId"] not in have and t.consumed(sku["skuId"]) >= \
                    sku["prepaidUnits"]["enabled"]:
                raise _bad(f"Subscription {sku['skuId']} does not have any available "
                           "licenses.")
        kept = [lic for lic in user["assignedLicenses"] if lic["skuId"] not in set(remove)]
        kept += [{"skuId": lic["skuId"], "disabledPlans": lic.get("disabledPlans") or []}
                 for lic in add if lic["skuId"] not in have]
        user["assignedLicenses"] = kept

    # -- reads --------------------------------------------------------------------------
    def _select(self, kind: str, query: dict[str, str], headers: dict[str, str]
                ) -> list[str] | None:
        raw = query.get("$select")
        if raw is None:
            return None
        names = [n.strip() for n in raw.split(",") if n.strip()]
        allowed = USER_PROPS if kind.endswith("user") or kind == "users" else None
        for name in names:
            if allowed is not None and name not in allowed:
                raise _bad(f"Could not find a property named '{name}' on type "
                           "'microsoft.graph.user'.")
        if "signInActivity" in names:
            self._need(headers, ("AuditLog.Read.All",))
            if not self.tenant.premium:
                raise GraphError(403, "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                                 "Neither tenant is B2C or tenant doesn't have premium "
                                 "license")
        return names

    @staticmethod
    def _shape(obj: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
        kind = obj.get("@odata.type", "")
        default = (USER_DEFAULT if kind.endswith("user") else
                   GROUP_DEFAULT if kind.endswith("group") else
                   SP_PROPS if kind.endswith("servicePrincipal") else ROLE_PROPS)
        names = select or default
        out = {"@odata.type": kind} if kind else {}
        out.update({n: obj.get(n) for n in names if not n.startswith("_")})
        out["id"] = obj["id"]
        return out

    def _entity(self, kind: str, obj: dict[str, Any], entry: Logged,
                headers: dict[str, str]) -> dict[str, Any]:
        select = self._select(kind, entry.query, headers)
        context = f"{GRAPH}/v1.0/$metadata#{kind}" + (
            f"({','.join(select)})" if select else "") + "/$entity"
        return {"@odata.context": context, **self._shape(obj, select)}

    def _list(self, kind: str, rows: list[dict[str, Any]], entry: Logged,
              headers: dict[str, str]) -> Reply:
        q = entry.query
        eventual = headers.get("consistencylevel", "").lower() == "eventual"
        counted = q.get("$count", "").lower() == "true"
        if counted and not eventual:
            raise _bad("$count is not currently supported without the ConsistencyLevel: "
                       "eventual header.", "Request_UnsupportedQuery")
        select = self._select(kind, q, headers)
        if kind == "users" or kind.endswith("microsoft.graph.user"):
            rows = [r for r in rows if self.tenant.visible(r)]
        if "$filter" in q:
            try:
                tree, ops = odata.parse(q["$filter"])
            except odata.FilterError as exc:
                raise _bad(f"Invalid filter clause: {exc}", "BadRequest") from None
            entry.filter = tree
            if odata.widest_in(tree) > odata.IN_MAX:
                raise _bad(f"Too many child clauses specified in search filter expression "
                           f"containing 'OR' operators: {odata.widest_in(tree)}. Max allowed: "
                           f"{odata.IN_MAX}.", "Request_UnsupportedQuery")
            if ops & odata.ADVANCED and not (eventual and counted):
                prop = sorted(odata.props(tree))[0]
                raise _bad(f"Unsupported or invalid query filter clause specified for "
                           f"property '{prop}' of resource 'User'.", "Request_UnsupportedQuery")
            for prop in odata.props(tree):
                if prop.startswith("signInActivity"):
                    self._select(kind, {"$select": "signInActivity"}, headers)
            rows = [r for r in rows if odata.matches(tree, r)]
        if "$search" in q:
            if not eventual:
                raise _bad("Request with $search query parameter only works through MSGraph "
                           "with a special request header: 'ConsistencyLevel: eventual'",
                           "Request_UnsupportedQuery")
            rows = [r for r in rows if _search(q["$search"], r)]
        try:
            top = int(q.get("$top", "100"))
        except ValueError:
            raise _bad("Invalid page size specified: '$top'.", "BadRequest") from None
        if not 1 <= top <= 999:
            raise _bad(f"Invalid page size specified: '{top}'. Must be between 1 and 999 "
                       "inclusive.", "Request_BadRequest")
        start = 0
        if "$skiptoken" in q:
            with self._lock:
                found = self._pages.get(q["$skiptoken"])
            if found is None:
                raise _bad("Invalid continuation token.", "Request_BadRequest")
            start = found
        page = rows[start:start + top]
        body: dict[str, Any] = {"@odata.context": f"{GRAPH}/v1.0/$metadata#{kind}",
                                "value": [self._shape(r, select) for r in page]}
        if counted:
            body["@odata.count"] = len(rows)
        if start + top < len(rows):
            token = secrets.token_urlsafe(12)
            with self._lock:
                self._pages[token] = start + top
            rest = "&".join(f"{k}={_q(v)}" for k, v in q.items() if k != "$skiptoken")
            body["@odata.nextLink"] = (f"{self.base}/v1.0{entry.path}?{rest}"
                                       f"{'&' if rest else ''}$skiptoken={token}")
        return 200, {}, body


def _q(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def _search(expr: str, row: dict[str, Any]) -> bool:
    """`"prop:words"` clauses joined by OR / AND: each word a prefix of a word there."""
    clauses = re.findall(r'"([A-Za-z]+):([^"]*)"|\b(AND|OR)\b', expr)
    result: bool | None = None
    joiner = "OR"
    for prop, words, op in clauses:
        if op:
            joiner = op
            continue
        have = re.split(r"[^\w]+", str(row.get(prop) or "").casefold())
        hit = all(any(h.startswith(w) for h in have)
                  for w in re.split(r"[^\w]+", words.casefold()) if w)
        result = hit if result is None else (result and hit if joiner == "AND"
                                             else result or hit)
    return bool(result)


class _Handler(BaseHTTPRequestHandler):
    graph: GraphFake
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-IIS/10.0"
    disable_nagle_algorithm = True  # headers and body go out at once, no delayed-ACK stall

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send(self, status: int, headers: dict[str, str], body: Any) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json;odata.metadata=minimal;"
                                             "odata.streaming=true;IEEE754Compatible=false;"
                                             "charset=utf-8")
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("request-id", new_id())
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        size = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(size) if size else b""

    def _any(self) -> None:
        fake = self.graph
        raw = self._body()
        path = urlsplit(self.path).path
        if path.startswith("/v1.0/") or path == "/v1.0":
            time.sleep(fake.latency)
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                self._send(*GraphError(400, "BadRequest", "Unable to read JSON request "
                                       "payload.").reply(None))
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            self._send(*fake.handle(self.command, self.path, headers, body))
            return
        self._identity(path, raw)

    def _identity(self, path: str, raw: bytes) -> None:
        fake = self.graph
        m = re.fullmatch(r"/([^/]+)/(v2\.0/\.well-known/openid-configuration|"
                         r"oauth2/v2\.0/token)", path)
        if m and m.group(2).startswith("v2.0") and self.command == "GET":
            self._send(200, {}, fake.issuer.openid_configuration(fake.base, m.group(1)))
            return
        if m and self.command == "POST":
            form = dict(parse_qsl(raw.decode(), keep_blank_values=True))
            try:
                out = fake.issuer.token(m.group(1), form, fake.base + path)
            except OAuthError as err:
                self._send(err.status, {}, err.body())
                return
            self._send(200, {"Cache-Control": "no-store"}, out)
            return
        if path == "/common/discovery/instance":
            host = urlsplit(fake.base).netloc
            self._send(200, {}, {"tenant_discovery_endpoint":
                                 f"{fake.base}/{{tenant}}/v2.0/.well-known/openid-configuration",
                                 "api-version": "1.1",
                                 "metadata": [{"preferred_network": host,
                                               "preferred_cache": host, "aliases": [host]}]})
            return
        self._send(404, {}, {"error": "not_found", "error_description": path})

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _any


def start(tenant: Tenant, tls_dir: Path, **kwargs: Any) -> GraphFake:
    """A fake serving `tenant` on 127.0.0.1 (a free port), with a CA of its own in
    `tls_dir` (ca.pem: hand it to the client)."""
    from adminkit.lab.smtp import make_tls

    if not (tls_dir / "ca.pem").is_file():
        make_tls(tls_dir)
    fake = GraphFake(tenant, **kwargs)
    fake.serve(tls_dir / "sink.pem", tls_dir / "sink.key")
    return fake

