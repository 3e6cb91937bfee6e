"""Microsoft Entra ID through Microsoft Graph: the `Directory` protocol in Graph's terms.

How the `Directory` notions map onto Entra:

- a user's `dn` is its object id; its `login` the UPN's part before the profile's domain
  (`upn_suffix`), or the whole UPN for another domain; `find_user` takes either;
- disabled is `accountEnabled: false`, and disabling also revokes the sign-in sessions
  (`revokeSignInSessions`), so a blocked user is out now, not at the next token refresh;
- a password reset is a `passwordProfile` (`forceChangePasswordNextSignIn`); Entra's
  cloud policy (8-256 characters, 3 of 4 classes) is the password policy;
- groups are joined and left by `members/$ref`; role-assignable groups and members of
  privileged directory roles are protected (roles seen through transitiveMemberOf);
- delete is soft (deleted items, restorable for 30 days); a hard delete purges it too;
- users synced from on-premises AD (`onPremisesSyncEnabled`) refuse what AD owns.

Values from people are data: a key in a path is percent-encoded, a value in `$filter` an
OData string literal (`'` doubled) inside a percent-encoded query. Writes go through the
transport's `$batch` gathering inside a run (entra_http.py). Graph is eventually
consistent: a user written a moment ago may be missing on the next read, so reads and
references after a write retry briefly; a create whose answer was lost looks the user
up before anything is sent again.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from adminkit.accounts.directory import (
    GroupEntry,
    LoginLookup,
    NewUser,
    PasswordPolicy,
    ReportKind,
    SearchField,
    UserEntry,
)
from adminkit.accounts.entra_errors import conflict, graph_error
from adminkit.accounts.entra_http import (
    LOST,
    Answer,
    BridgedGraph,
    LightGraph,
    Req,
    odata_string,
    segment,
    url,
)
from adminkit.accounts.entra_token import EntraSettings, TokenSource, settings_of
from adminkit.accounts.settings import DirectoryConfig
from adminkit.core.config import PolicyConfig
from adminkit.core.errors import (
    ActionFailed,
    AdminkitError,
    AuthenticationFailed,
    OutcomeUnknown,
    PolicyRefused,
    UsageError,
    ValidationError,
)
from adminkit.core.secrets import Secret
from adminkit.core.targets import Limits

if TYPE_CHECKING:
    from adminkit.core.bridge import AsyncBridge

log = logging.getLogger("adminkit.accounts")

USER_SELECT = ("id,userPrincipalName,displayName,givenName,surname,mail,mailNickname,"
               "accountEnabled,department,jobTitle,usageLocation,onPremisesSyncEnabled,"
               "lastPasswordChangeDateTime,createdDateTime,assignedLicenses,employeeId")
GROUP_SELECT = "id,displayName,description,isAssignableToRole,onPremisesSyncEnabled"
DELETED_SELECT = USER_SELECT + ",deletedDateTime,proxyAddresses"
# built-in directory roles whose members adminkit never touches (roleTemplateId)
PRIVILEGED_ROLES = {
    "62e90394-69f5-4237-9190-012177145e10": "Global Administrator",
    "e8611ab8-c189-46e8-94e1-60213ab1f814": "Privileged Role Administrator",
    "fe930be7-5e62-47db-91af-98c3a49a38b1": "User Administrator",
    "729827e3-9c14-49f7-bb1b-9608f156bbb8": "Helpdesk Administrator",
    "7be44c8a-adaf-4e2a-84d6-ab2649e08a13": "Privileged Authentication Administrator",
    "c4e39bd9-1100-46d3-8c65-fb160da0071f": "Authentication Administrator",
    "194ae4cb-b126-40b2-bd5b-6091b380977d": "Security Administrator",
    "29232cdf-9323-42fd-ade2-1d097af3e4de": "Exchange Administrator",
    "f28a1f50-f6e7-4571-818b-6a12f2af6b6c": "SharePoint Administrator",
    "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9": "Conditional Access Administrator",
    "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3": "Application Administrator",
    "158c047a-c907-4556-b7ef-446551a6b5f7": "Cloud Application Administrator",
    "3a2c62db-5318-420d-8d74-23affee5d9d5": "Intune Administrator",
    "966707d0-3269-4727-9be2-8c3a10f19b9d": "Password Administrator",
    "b0f54661-2d74-4c50-afa3-1ec803f12efe": "Billing Administrator",
}
# Directory-protocol attribute names (AD's) -> Graph user properties
ATTRIBUTES = {"title": "jobTitle", "jobtitle": "jobTitle", "department": "department",
              "telephonenumber": "businessPhones", "businessphones": "businessPhones",
              "mobile": "mobilePhone", "mobilephone": "mobilePhone",
              "physicaldeliveryofficename": "officeLocation", "officelocation": "officeLocation",
              "company": "companyName", "companyname": "companyName",
              "employeeid": "employeeId", "usagelocation": "usageLocation",
              "mail": "mail", "displayname": "displayName", "givenname": "givenName",
              "sn": "surname", "surname": "surname", "employeetype": "employeeType",
              "c": "country", "l": "city", "st": "state", "postalcode": "postalCode",
              "streetaddress": "streetAddress", "preferredlanguage": "preferredLanguage"}
IN_CHUNK = 15  # values in one `in (…)` clause
SETTLE = (0.2, 0.4, 0.8, 1.6, 3.2)  # waits for a write to reach every replica
RECENT = 30.0  # seconds after a write during which a 404 may be a replica lagging
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                  r"[0-9a-fA-F]{12}\Z")
SEARCH_MAX = 256
PAGES_MAX = 10_000  # pages of one listing: ~10 million rows; beyond, Graph is going round


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


class EntraDirectory:
    """One per tenant and run, shared by every worker (HTTP, not a bind)."""

    kind = "entra"
    needs_bridge = True  # directory_of hands it the run's event loop
    recycle_bin = True  # a delete is restorable (deleted items); account.delete knows
    concurrent_writes = 25  # a bulk unit's creates at once: they share $batch posts
    lacks: ClassVar[dict[str, str]] = {
        "expiry": "Entra ID accounts have no expiry date (disable it on the last day)",
        "lockout": "Entra ID's smart lockout ends by itself and Graph cannot clear it; a "
                   "blocked sign-in is lifted with `account enable`"}

    @staticmethod
    def target_of(config: DirectoryConfig) -> str:
        """The registry's key: limits apply per tenant, not per Graph endpoint."""
        return f"{config.url.rstrip('/')}#{config.base_dn}"

    @staticmethod
    def limits_for(config: DirectoryConfig, workers: int) -> Limits:
        return Limits(per_target=1, shared=max(64, workers))

    def __init__(self, config: DirectoryConfig, password: Secret,
                 bridge: AsyncBridge | None = None) -> None:
        self.config = config
        self.settings: EntraSettings = settings_of(config)
        self.tokens: TokenSource | None = None
        if bridge is not None:
            self.tokens = TokenSource(self.settings, password)
            self.graph: LightGraph | BridgedGraph = BridgedGraph(self.settings, self.tokens,
                                                                 bridge)
        else:
            self.graph = LightGraph(self.settings, password)
        self._written: dict[str, float] = {}  # casefolded UPN or id -> when written
        self._skus: list[dict[str, Any]] | None = None
        self._prefetched: dict[str, Answer] = {}  # answers read ahead, by relative URL

    # -- plumbing -------------------------------------------------------------------------
    def _call(self, req: Req, what: str, need: str, *,
              ok: Callable[[Answer], bool] = lambda a: a.ok) -> Answer:
        answer = self.graph.send(req)
        if not ok(answer):
            raise graph_error(answer, what, need)
        return answer

    def _recent(self, *keys: str) -> bool:
        now = time.monotonic()
        return any(now - self._written.get(k.casefold(), -RECENT) < RECENT for k in keys)

    def _wrote(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            self._written[key.casefold()] = now

    def _settled(self, req: Req, keys: Sequence[str]) -> Answer:
        """Send `req`; a 404 about an object written a moment ago is a replica that has
        not seen it yet: wait a little and ask again."""
        answer = self.graph.send(req)
        if answer.status == 404 and self._recent(*keys):
            for pause in SETTLE:
                time.sleep(pause)
                answer = self.graph.send(req)
                if answer.status != 404:
                    break
        return answer

    def _pages(self, first: str, what: str, need: str, *, eventual: bool = False,
               limit: int = 0) -> list[dict[str, Any]]:
        headers = {"ConsistencyLevel": "eventual"} if eventual else {}
        rows: list[dict[str, Any]] = []
        next_url: str | None = first
        seen: set[str] = set()
        while next_url:
            if next_url in seen:  # a next link already followed: Graph is going round
                raise ActionFailed(f"{what}: Graph sent a next page it had sent already; "
                                   "not followed again")
            seen.add(next_url)
            if len(seen) > PAGES_MAX:  # new next links without end: going round too
                raise ActionFailed(f"{what}: Graph sent more than {PAGES_MAX} pages; "
                                   "not followed further")
            answer = self._prefetched.pop(next_url, None) or self._call(
                Req("GET", next_url, headers=headers), what, need)
            rows += answer.body.get("value", [])
            if limit and len(rows) >= limit:
                return rows[:limit]
            link = answer.body.get("@odata.nextLink")
            next_url = self._relative(link) if link else None
        return rows

    def _relative(self, link: str) -> str:
        """@odata.nextLink is absolute; only the profile's Graph endpoint is followed."""
        base = self.settings.graph
        if not link.startswith(base + "/"):
            raise ActionFailed(f"Graph sent a next page outside {base}: not followed")
        return link[len(base):]

    def upn(self, login: str) -> str:
        return login if "@" in login else f"{login}@{self.settings.domain}"

    def _login(self, upn: str) -> str:
        local, _, domain = upn.partition("@")
        return local if domain.casefold() == self.settings.domain.casefold() else upn

    def _user(self, row: dict[str, Any]) -> UserEntry:
        sign_in = row.get("signInActivity") or {}
        last = max(filter(None, (_when(sign_in.get("lastSignInDateTime")),
                                 _when(sign_in.get("lastNonInteractiveSignInDateTime")))),
                   default=None)
        upn = str(row.get("userPrincipalName") or "")
        attributes = {"userPrincipalName": upn, "mailNickname": row.get("mailNickname"),
                      "department": row.get("department"), "jobTitle": row.get("jobTitle"),
                      "usageLocation": row.get("usageLocation"),
                      "onPremisesSyncEnabled": bool(row.get("onPremisesSyncEnabled")),
                      "assignedLicenses": [lic.get("skuId") for lic in
                                           row.get("assignedLicenses") or []],
                      "createdDateTime": row.get("createdDateTime")}
        return UserEntry(dn=str(row["id"]), login=self._login(upn),
                         given_name=row.get("givenName"), surname=row.get("surname"),
                         display_name=row.get("displayName"), mail=row.get("mail"),
                         enabled=bool(row.get("accountEnabled", True)), last_logon=last,
                         password_changed=_when(row.get("lastPasswordChangeDateTime")),
                         attributes=attributes)

    @staticmethod
    def _group(row: dict[str, Any]) -> GroupEntry:
        return GroupEntry(dn=str(row["id"]), name=str(row.get("displayName") or row["id"]),
                          description=row.get("description"))

    # -- reading --------------------------------------------------------------------------
    def ping(self) -> str:
        self._call(Req("GET", url("/users", **{"$top": 1, "$select": "id"})), "reach Graph",
                   "read users")
        return f"Microsoft Graph {self.settings.graph}, tenant {self.settings.tenant_id}"

    def find_user(self, login: str) -> UserEntry | None:
        upn = self.upn(login)
        req = Req("GET", url(f"/users/{segment(upn)}", **{"$select": USER_SELECT}))
        if isinstance(self.graph, LightGraph) and not self._recent(upn):
            answer = self._prefetch(self.graph, req, upn)
            if answer.status in (LOST, 429, 503, 504):  # the batch did not do: ask alone
                answer = self._settled(req, [upn])
        else:
            answer = self._settled(req, [upn])
        if answer.status == 404:
            return None
        if answer.status == 400 and not self._recent(upn):
            return None  # a key Graph cannot even parse names no user
        if not answer.ok:
            raise graph_error(answer, f"read {upn}", "read users")
        return self._user(answer.body)

    def _prefetch(self, graph: LightGraph, req: Req, upn: str) -> Answer:
        """A read-only command reads a user and then, most likely, its groups, its roles
        and the tenant's licences (`account show`): one `$batch` instead of four
        requests. The relations are kept for the calls that follow, under their URLs."""
        relations = {rel: Req("GET", url(f"/users/{segment(upn)}/{rel}", **{"$top": 999}))
                     for rel in ("memberOf", "transitiveMemberOf")}
        extra = [*relations.values()] + ([Req("GET", "/subscribedSkus")]
                                         if self._skus is None else [])
        answer, *rest = graph.batch([req, *extra])
        if answer.ok and isinstance(answer.body, dict) and "id" in answer.body:
            uid = str(answer.body["id"])
            for rel, got in zip(relations, rest, strict=False):
                if got.ok and not got.body.get("@odata.nextLink"):
                    self._prefetched[url(f"/users/{segment(uid)}/{rel}",
                                         **{"$top": 999})] = got
            if len(rest) > len(relations) and rest[-1].ok:
                self._skus = rest[-1].body.get("value", [])
        return answer

    def get_user(self, dn: str) -> UserEntry | None:
        answer = self._settled(Req("GET", url(f"/users/{segment(dn)}",
                                               **{"$select": USER_SELECT})), [dn])
        if answer.status == 404:
            return None
        if not answer.ok:
            raise graph_error(answer, f"read user {dn}", "read users")
        return self._user(answer.body)

    def lookup_logins(self, logins: Sequence[str]) -> LoginLookup:
        """`userPrincipalName in (…)` of 15 UPNs a request, sent together as `$batch`."""
        wanted = {self.upn(login).casefold(): login.casefold() for login in logins}
        upns = sorted(wanted)
        reqs = [Req("GET", url("/users", **{
            "$filter": "userPrincipalName in (" + ",".join(map(odata_string, chunk)) + ")",
            "$select": USER_SELECT, "$top": 999}))
            for chunk in (upns[k:k + IN_CHUNK] for k in range(0, len(upns), IN_CHUNK))]
        found = LoginLookup()
        for answer in self.graph.send_many(reqs) if reqs else []:
            if not answer.ok:
                raise graph_error(answer, "look up logins", "read users")
            for row in answer.body.get("value", []):
                key = str(row.get("userPrincipalName", "")).casefold()
                if key in wanted:
                    found.users[wanted[key]] = self._user(row)
                    found.taken.add(wanted[key])
        for login in wanted.values():
            found.users.setdefault(login, None)
        return found

    def search_users(self, text: str, *, field: SearchField = "any", wildcards: bool = False,
                     limit: int = 200) -> list[UserEntry]:
        if len(text) > SEARCH_MAX:
            raise ValidationError(f"search text of {len(text)} characters is too long: "
                                  f"at most {SEARCH_MAX}")
        if any(ord(ch) < 32 for ch in text):
            raise ValidationError("search text may not contain control characters")
        props = {"login": ["userPrincipalName"], "mail": ["mail"],
                 "name": ["displayName", "givenName", "surname"],
                 "any": ["userPrincipalName", "mail", "displayName", "givenName",
                         "surname"]}[field]
        clause, advanced = _text_clause(text, wildcards)
        terms = []
        for prop in props:
            value = clause[1]
            if prop == "userPrincipalName" and clause[0] == "eq":
                value = self.upn(value)
            terms.append(f"{prop} eq {odata_string(value)}" if clause[0] == "eq"
                         else f"{clause[0]}({prop},{odata_string(value)})")
        params: dict[str, Any] = {"$filter": " or ".join(terms), "$select": USER_SELECT,
                                  "$top": min(max(limit, 1), 999)}
        if advanced:
            params["$count"] = "true"
        rows = self._pages(url("/users", **params), f"search for {text!r}", "read users",
                           eventual=advanced, limit=limit)
        return [self._user(r) for r in rows]

    def list_users(self, base: str) -> list[UserEntry]:
        return [self._user(r) for r in self._pages(
            url("/users", **{"$select": USER_SELECT, "$top": 999}), "list users",
            "read users")]

    def login_taken(self, login: str) -> bool:
        return self.find_user(login) is not None

    def read_attributes(self, user: UserEntry, names: list[str]) -> dict[str, list[str]]:
        props = {name: ATTRIBUTES.get(name.casefold(), name) for name in names}
        for prop in props.values():
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", prop):
                raise ValidationError(f"{prop!r} is not a Graph user property")
        answer = self._call(Req("GET", url(f"/users/{segment(user.dn)}",
                                           **{"$select": ",".join(sorted(set(props.values())))})),
                            f"read {user.login}", "read users")
        out: dict[str, list[str]] = {}
        for name, prop in props.items():
            value = answer.body.get(prop)
            out[name] = ([] if value is None else [str(v) for v in value]
                         if isinstance(value, list) else [str(value)])
        return out

    def find_group(self, name: str) -> GroupEntry | None:
        if GUID.match(name):
            answer = self.graph.send(Req("GET", url(f"/groups/{name}",
                                                    **{"$select": GROUP_SELECT})))
            if answer.status == 404:
                return None
            if not answer.ok:
                raise graph_error(answer, f"read group {name}", "read groups")
            return self._group(answer.body)
        rows = self._pages(url("/groups", **{"$filter": f"displayName eq {odata_string(name)}",
                                              "$select": GROUP_SELECT}),
                           f"find group {name!r}", "read groups")
        if len(rows) > 1:
            raise ValidationError(f"{len(rows)} groups are named {name!r}",
                                  hint="name the group by its object id")
        return self._group(rows[0]) if rows else None

    def _group_row(self, group: GroupEntry) -> dict[str, Any]:
        body: dict[str, Any] = self._call(
            Req("GET", url(f"/groups/{segment(group.dn)}", **{"$select": GROUP_SELECT})),
            f"read group {group.name}", "read groups").body
        return body

    def _member_of(self, object_id: str, kind: str, *, nested: bool) -> list[dict[str, Any]]:
        relation = "transitiveMemberOf" if nested else "memberOf"
        return self._pages(url(f"/{kind}/{segment(object_id)}/{relation}",
                               **{"$top": 999}), f"read the groups of {object_id}",
                           "read groups")

    def user_groups(self, user: UserEntry, *, nested: bool = False) -> list[GroupEntry]:
        return [self._group(r) for r in self._member_of(user.dn, "users", nested=nested)
                if r.get("@odata.type") == "#microsoft.graph.group"]

    def group_members(self, group: GroupEntry, *, nested: bool = False) -> list[UserEntry]:
        relation = "transitiveMembers" if nested else "members"
        rows = self._pages(url(f"/groups/{segment(group.dn)}/{relation}",
                               **{"$top": 999}), f"read the members of {group.name}",
                           "read groups")
        users = [r for r in rows if r.get("@odata.type") == "#microsoft.graph.user"]
        return [u for u in (self.get_user(str(r["id"])) for r in users) if u is not None]

    def password_policy(self) -> PasswordPolicy:
        """Entra's cloud policy for every tenant: 8 to 256 characters, 3 of 4 classes."""
        return PasswordPolicy(min_length=8, complexity=True)

    def _listed(self, user: UserEntry, policy: PolicyConfig) -> str | None:
        upn = str(user.attributes.get("userPrincipalName") or self.upn(user.login))
        names = {user.login.casefold(), upn.casefold()}
        if names & {p.casefold() for p in policy.protected_accounts}:
            return "listed in the profile's protected accounts"
        return None

    @staticmethod
    def _privileged(holders: Sequence[dict[str, Any]]) -> str | None:
        """The privileged directory role among a principal's groups and roles."""
        for row in holders:
            role = PRIVILEGED_ROLES.get(str(row.get("roleTemplateId") or ""))
            if row.get("@odata.type") == "#microsoft.graph.directoryRole" and role:
                return f"member of the privileged directory role {role}"
        return None

    def protected_reason(self, user: UserEntry, policy: PolicyConfig) -> str | None:
        listed = self._listed(user, policy)
        if listed:
            return listed
        holders = self._member_of(user.dn, "users", nested=True)
        privileged = self._privileged(holders)
        if privileged:
            return privileged
        protected = {g.casefold() for g in policy.protected_groups}
        for row in holders:
            if str(row.get("displayName") or "").casefold() in protected:
                return f"member of the protected group {row.get('displayName')}"
        return None

    def group_protected_reason(self, group: GroupEntry, policy: PolicyConfig) -> str | None:
        row = self._group_row(group)
        if row.get("isAssignableToRole"):
            return (f"{group.name} is role-assignable: its members hold directory roles, "
                    "managed by a Privileged Role Administrator")
        if row.get("onPremisesSyncEnabled"):
            return (f"{group.name} is synced from on-premises Active Directory: change its "
                    "members there")
        protected = {g.casefold() for g in policy.protected_groups}
        if group.name.casefold() in protected:
            return f"{group.name} is a protected group"
        for holder in self._member_of(group.dn, "groups", nested=True):
            if str(holder.get("displayName") or "").casefold() in protected:
                return f"{group.name} is nested in the protected group {holder['displayName']}"
            if holder.get("@odata.type") == "#microsoft.graph.directoryRole":
                return f"{group.name} holds the directory role {holder.get('displayName')}"
        return None

    def report(self, kind: ReportKind, *, days: int | None = None) -> list[UserEntry]:
        if days is not None and days < 0:
            raise ValidationError(f"report {kind}: days must be 0 or more, not {days}")
        if kind == "disabled":
            return [self._user(r) for r in self._pages(
                url("/users", **{"$filter": "accountEnabled eq false", "$select": USER_SELECT,
                                 "$top": 999}), "report disabled accounts", "read users")]
        if kind in ("locked", "password-expiring"):
            raise UsageError(f"Entra ID has no {kind} report: "
                             + ("Graph does not show smart lockout" if kind == "locked"
                                else "cloud passwords do not expire unless a policy says so"))
        if kind not in ("inactive", "never-logged-in", "licensed"):
            raise ValidationError(f"unknown report {kind!r}")
        if kind == "licensed":
            return [u for u in self.list_users("") if u.attributes["assignedLicenses"]]
        wanted = 90 if days is None and kind == "inactive" else (days or 0)
        cut = datetime.now(UTC) - timedelta(days=wanted)
        rows = self._pages(url("/users", **{"$select": USER_SELECT + ",signInActivity",
                                            "$top": 999}),
                           f"report {kind} accounts", "read sign-ins")
        out = []
        for row in rows:
            entry = self._user(row)
            created = _when(row.get("createdDateTime")) or datetime.now(UTC)
            never = entry.last_logon is None and created <= cut
            idle = (entry.last_logon or created) <= cut
            if never if kind == "never-logged-in" else idle:
                out.append(entry)
        return out

    # -- writing --------------------------------------------------------------------------
    def _not_synced(self, user: UserEntry, what: str) -> None:
        if user.attributes.get("onPremisesSyncEnabled"):
            raise PolicyRefused(f"{user.login} is synced from on-premises Active Directory: "
                                f"{what} it there, not in Entra ID",
                                hint="the next sync would undo a change made here; use the "
                                     "AD profile of this customer")

    def _write(self, req: Req, what: str, need: str, keys: Sequence[str] = (),
               ok: Callable[[Answer], bool] = lambda a: a.ok) -> Answer:
        answer = self._settled(req, keys) if keys else self.graph.send(req)
        if not ok(answer):
            raise graph_error(answer, what, need)
        return answer

    def _body(self, values: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for name, value in values.items():
            prop = ATTRIBUTES.get(name.casefold())
            if prop is None:
                known = ", ".join(sorted(set(ATTRIBUTES.values())))
                raise ValidationError(f"{name!r} is not a user property adminkit sets in "
                                      "Entra ID", hint=f"known: {known}")
            if prop == "businessPhones":
                body[prop] = [value] if isinstance(value, str) else list(value)
            else:
                body[prop] = value
        return body

    def create_user(self, user: NewUser) -> str:
        upn = self.upn(user.login)
        if user.expires is not None:
            raise ValidationError("Entra ID accounts have no expiry date",
                                  hint="leave out the expiry (template expires_after_days)")
        extra = {k: v for k, v in user.attributes.items()
                 if k.casefold() not in ("homedirectory", "homedrive", "manager")}
        skipped = sorted(set(user.attributes) - set(extra) - {"manager"})
        if skipped:
            log.info("entra: %s do not exist in Entra ID; not set", ", ".join(skipped))
        body: dict[str, Any] = {
            "accountEnabled": user.enabled, "displayName": user.display_name,
            "givenName": user.given_name, "surname": user.surname,
            "mailNickname": user.login.split("@")[0], "userPrincipalName": upn,
            "passwordProfile": {"password": user.password.reveal(),
                                "forceChangePasswordNextSignIn": user.must_change},
            **self._body(extra)}
        if user.mail:
            body["mail"] = user.mail
        answer = self.graph.send(Req("POST", "/users", body))
        if answer.status == 201:
            uid = str(answer.body["id"])
            self._wrote(upn, uid)
        elif answer.status == LOST or answer.status >= 500 or (
                answer.status == 400 and conflict(answer) and self._recent(upn)):
            uid = self._created_meanwhile(upn, body)
        elif answer.status == 400 and conflict(answer):
            raise ValidationError(f"create {upn}: a user with this UPN exists already",
                                  hint="the login is taken; choose another")
        else:
            raise graph_error(answer, f"create {upn}", "write users")
        manager = user.attributes.get("manager")
        if manager:
            self.set_manager(uid, str(manager))
        return uid

    def _created_meanwhile(self, upn: str, body: dict[str, Any], *, resend: bool = True
                           ) -> str:
        """A create whose answer was lost (a timeout, a 5xx): did it happen? Look first
        (a new user may take seconds to show); only a user still missing after that is
        created again, once, and a conflict then means the first one did land."""
        self._wrote(upn)
        found = self.find_user(upn)
        if found is not None and found.display_name == body["displayName"] and \
                found.attributes.get("mailNickname") == body["mailNickname"]:
            return found.dn
        if found is None and resend:
            answer = self.graph.send(Req("POST", "/users", body))
            if answer.status == 201:
                uid = str(answer.body["id"])
                self._wrote(upn, uid)
                return uid
            if answer.status == 400 and conflict(answer):
                return self._created_meanwhile(upn, body, resend=False)
        raise OutcomeUnknown(f"create {upn}: the answer from Microsoft Graph was lost and "
                             "the user cannot be told apart yet; it may or may not exist",
                             hint="`account show` it in a minute before creating it again")

    def set_manager(self, user_id: str, manager: str) -> None:
        boss = self.find_user(manager)
        if boss is None:
            raise ValidationError(f"manager {manager!r}: no such user")
        ref = {"@odata.id": f"{self.settings.resource}/v1.0/users/{boss.dn}"}
        self._write(Req("PUT", f"/users/{segment(user_id)}/manager/$ref", ref),
                    f"set the manager of {user_id}", "write users", [user_id])

    def set_enabled(self, user: UserEntry, enabled: bool) -> None:
        verb = "enable" if enabled else "disable"
        self._not_synced(user, verb)
        self._write(Req("PATCH", f"/users/{segment(user.dn)}", {"accountEnabled": enabled}),
                    f"{verb} {user.login}", "write users", [user.dn])
        self._wrote(user.dn)
        if not enabled:
            self.revoke_sessions(user)

    def revoke_sessions(self, user: UserEntry) -> None:
        self._write(Req("POST", f"/users/{segment(user.dn)}/revokeSignInSessions"),
                    f"end the sign-in sessions of {user.login}", "revoke sessions",
                    [user.dn])

    def unlock(self, user: UserEntry) -> None:
        raise UsageError("Entra ID has no lockout to clear through Graph (smart lockout "
                         "ends by itself); to let a blocked user in, `account enable`")

    def set_expiry(self, user: UserEntry, expires: datetime | None) -> None:
        raise UsageError("Entra ID accounts have no expiry date",
                         hint="disable the account on its last day instead")

    def set_password(self, user: UserEntry, password: Secret, *, must_change: bool) -> None:
        self._not_synced(user, "reset the password of")
        body = {"passwordProfile": {"password": password.reveal(),
                                    "forceChangePasswordNextSignIn": must_change}}
        answer = self._settled(Req("PATCH", f"/users/{segment(user.dn)}", body), [user.dn])
        if not answer.ok:
            _, message, _ = answer.error()
            if answer.status == 400 and "password" in message.lower():
                raise ValidationError(f"reset the password of {user.login}: {message}")
            raise graph_error(answer, f"reset the password of {user.login}", "write users")

    def _member_req(self, group: GroupEntry, user: UserEntry) -> Req:
        return Req("POST", f"/groups/{segment(group.dn)}/members/$ref",
                   {"@odata.id": f"{self.settings.resource}/v1.0/directoryObjects/{user.dn}"})

    def add_member(self, group: GroupEntry, user: UserEntry) -> None:
        self._write(self._member_req(group, user), f"add {user.login} to {group.name}",
                    "write members", [user.dn],
                    ok=lambda a: a.ok or (a.status == 400 and conflict(a)))

    def add_members(self, group: GroupEntry, users: Sequence[UserEntry]
                    ) -> dict[str, AdminkitError]:
        """All at once: the transport sends them in `$batch` posts of 20."""
        reqs = [self._member_req(group, user) for user in users]
        answers = self._settled_many(reqs, [[user.dn] for user in users])
        return {user.dn: graph_error(answer, f"add {user.login} to {group.name}",
                                     "write members")
                for user, answer in zip(users, answers, strict=True)
                if not (answer.ok or (answer.status == 400 and conflict(answer)))}

    def _settled_many(self, reqs: Sequence[Req], keys: Sequence[Sequence[str]]
                      ) -> list[Answer]:
        """`_settled` for many requests: those answered 404 about a fresh object again."""
        answers = self.graph.send_writes(reqs)
        for pause in SETTLE:
            again = [k for k, a in enumerate(answers)
                     if a.status == 404 and self._recent(*keys[k])]
            if not again:
                break
            time.sleep(pause)
            for k, answer in zip(again, self.graph.send_writes([reqs[k] for k in again]),
                                 strict=True):
                answers[k] = answer
        return answers

    def remove_member(self, group: GroupEntry, user: UserEntry) -> None:
        self._write(Req("DELETE", f"/groups/{segment(group.dn)}/members/{segment(user.dn)}"
                                  "/$ref"),
                    f"remove {user.login} from {group.name}", "write members",
                    ok=lambda a: a.ok or a.status == 404)

    def move(self, user: UserEntry, new_parent: str) -> str:
        raise UsageError("Entra ID has no OUs to move an account to",
                         hint="use groups or administrative units")

    def set_attributes(self, user: UserEntry, values: dict[str, list[str]]) -> None:
        self._not_synced(user, "change")
        body = {}
        for name, vals in self._body(values).items():
            body[name] = (vals if name == "businessPhones"
                          else (vals[0] if vals else None) if isinstance(vals, list) else vals)
        self._write(Req("PATCH", f"/users/{segment(user.dn)}", body),
                    f"change {user.login}", "write users", [user.dn])

    def delete(self, user: UserEntry) -> None:
        """Soft: into deleted items, restorable for 30 days."""
        self._not_synced(user, "delete")
        self._write(Req("DELETE", f"/users/{segment(user.dn)}"), f"delete {user.login}",
                    "write users", [user.dn])

    def purge(self, user: UserEntry) -> None:
        """Remove a deleted user from deleted items: gone for good."""
        req = Req("DELETE", f"/directory/deletedItems/{segment(user.dn)}")
        answer = self.graph.send(req)
        for pause in SETTLE:  # deleted items may not list it yet
            if answer.status != 404:
                break
            time.sleep(pause)
            answer = self.graph.send(req)
        if not answer.ok:
            raise graph_error(answer, f"purge {user.login} from deleted items",
                              "restore users")

    # -- deleted items ------------------------------------------------------------------
    def deleted_users(self, login: str) -> list[UserEntry]:
        """The deleted users that were `login` (a UPN, its part before the profile's
        domain, or a deleted user's object id). In deleted items Entra puts the object id
        (no hyphens) in front of the UPN, so `eq` finds nothing: the UPN's end is asked
        for (`endswith`, an advanced query) and only `{id}{upn}` or the UPN itself kept."""
        if GUID.match(login):
            answer = self.graph.send(Req("GET", url(
                f"/directory/deletedItems/{segment(login)}", **{"$select": DELETED_SELECT})))
            if answer.status == 404:
                return []
            if not answer.ok:
                raise graph_error(answer, f"read deleted item {login}", "read users")
            kind = answer.body.get("@odata.type")
            return [self._deleted(answer.body)] if kind in (None, "#microsoft.graph.user") \
                else []
        upn = self.upn(login)
        if not upn.isascii():  # else a look-alike (KELVIN SIGN) casefolds into a real one
            raise ValidationError(f"{login!r} cannot be a user of Entra ID: a UPN is "
                                  "ASCII letters, digits and ' . - _ ! # ^ ~ only",
                                  hint="type the login as Entra has it, or the object id")
        rows = self._pages(url("/directory/deletedItems/microsoft.graph.user", **{
            "$filter": f"endswith(userPrincipalName,{odata_string(upn)})", "$count": "true",
            "$select": DELETED_SELECT, "$top": 999}), f"find {upn} in deleted items",
            "read users", eventual=True)
        return [self._deleted(r) for r in rows
                if _original_upn(r).casefold() == upn.casefold()]

    def _deleted(self, row: dict[str, Any]) -> UserEntry:
        entry = self._user({**row, "userPrincipalName": _original_upn(row)})
        entry.attributes.update(deletedUserPrincipalName=row.get("userPrincipalName"),
                                deletedDateTime=row.get("deletedDateTime"),
                                proxyAddresses=list(row.get("proxyAddresses") or []))
        return entry

    def deleted_user(self, login: str) -> UserEntry | None:
        found = self.deleted_users(login)
        if len(found) > 1:
            which = "; ".join(f"{u.dn} (deleted {u.attributes.get('deletedDateTime')})"
                              for u in found)
            raise ValidationError(f"{len(found)} deleted users were {self.upn(login)}: {which}",
                                  hint="name the one you mean by its object id")
        return found[0] if found else None

    def restore_refusal(self, user: UserEntry, policy: PolicyConfig) -> str | None:
        """Why a deleted user may not be restored, checked before Graph is asked.

        A restore gives back the roles and groups the user had, but Graph shows nothing
        of a deleted user's roles and groups (its relations answer 404 until it is
        back). What Graph documents instead: an app restores a user who holds an
        administrator role only if the app holds a higher one itself (else 403). So an
        app in no privileged role is safe to let Graph decide; an app that holds one
        would bring back a Global Administrator, and is refused unless the profile says
        `restore_privileged`."""
        listed = self._listed(user, policy)
        if listed:
            return listed
        if self.settings.restore_privileged:
            return None
        answer = self.graph.send(Req("GET", url(
            f"/servicePrincipals(appId={odata_string(self.settings.client_id)})"
            "/transitiveMemberOf", **{"$top": 999})))
        if not answer.ok:
            _, message, _ = answer.error()
            return ("a deleted user's roles cannot be read, and neither can this app's own "
                    f"directory roles ({answer.status}: {message}): adminkit cannot tell "
                    "whether Graph would restore (or purge) an administrator")
        privileged = self._privileged(answer.body.get("value", []))
        if privileged:
            return (f"a deleted user's roles cannot be read, and this app is a {privileged}"
                    ", so Graph would restore (or purge) an administrator too")
        return None

    def restore(self, user: UserEntry) -> list[str] | None:
        """Restore; a proxy address another user took meanwhile is dropped (Graph's
        autoReconcileProxyConflict), and the dropped ones returned. None: someone else
        restored it meanwhile (Graph answers 404, and the user is active again). An
        answer lost or failed (5xx) is settled by looking: the user active is restored."""
        req = Req("POST", f"/directory/deletedItems/{segment(user.dn)}/restore",
                  {"autoReconcileProxyConflict": True})
        answer = self.graph.send(req)
        if not answer.ok and answer.status not in (400, 403) and self.graph.send(Req(
                "GET", url(f"/users/{segment(user.dn)}", **{"$select": "id"}))).ok:
            if answer.status == 404:  # not in deleted items, and active: someone else's
                return None
            answer = Answer(200, {}, {})  # its answer lost or a 5xx, but the user is back
        if answer.status == 403:
            # The tenant refusing the app (exit 3), for one of two reasons Graph words
            # alike: a permission missing, or a user who held an administrator role.
            raise AuthenticationFailed(
                f"Microsoft Graph refused to restore {user.login}: the app lacks the "
                "application permission User.DeleteRestore.All, or the user held an "
                "administrator role (or was in a role-assignable group), which Graph "
                "restores only for an app that holds a higher administrator role",
                hint="grant the app User.DeleteRestore.All with admin consent; if the "
                     "app has it, a Privileged Role Administrator restores the user in "
                     "the Entra admin center")
        if answer.status == 400 and conflict(answer):
            upn = str(user.attributes.get("userPrincipalName") or self.upn(user.login))
            raise ValidationError(f"restore {user.login}: its UPN {upn} belongs to another "
                                  "user now, and Graph v1.0 restores a user only under its "
                                  "own UPN",
                                  hint="rename or delete the user who has the UPN now, then "
                                       "restore")
        if not answer.ok:
            raise graph_error(answer, f"restore {user.login}", "restore users")
        self._wrote(user.dn, self.upn(user.login))
        before = [str(a) for a in user.attributes.get("proxyAddresses") or []]
        if not before:
            return []
        back = self._settled(Req("GET", url(f"/users/{segment(user.dn)}",
                                            **{"$select": "id,proxyAddresses"})), [user.dn])
        if not back.ok:
            log.warning("entra: %s restored, but its addresses could not be read back",
                        user.login)
            return []
        kept = {str(a).casefold() for a in back.body.get("proxyAddresses") or []}
        return [a for a in before if a.casefold() not in kept]

    # -- licences -------------------------------------------------------------------------
    def skus(self) -> list[dict[str, Any]]:
        if self._skus is None:
            self._skus = self._call(Req("GET", "/subscribedSkus"), "read the tenant's licences",
                                    "read licences").body.get("value", [])
        return self._skus

    def sku(self, name: str) -> dict[str, Any]:
        """A subscribed SKU by part number (ENTERPRISEPACK) or id."""
        for sku in self.skus():
            if name.casefold() in (str(sku["skuPartNumber"]).casefold(),
                                   str(sku["skuId"]).casefold()):
                return sku
        known = ", ".join(sorted(str(s["skuPartNumber"]) for s in self.skus()))
        raise ValidationError(f"the tenant has no licence {name!r}", hint=f"it has: {known}")

    def sku_names(self, user: UserEntry) -> list[str]:
        names = {str(s["skuId"]): str(s["skuPartNumber"]) for s in self.skus()}
        return [names.get(str(s), str(s)) for s in user.attributes.get("assignedLicenses", [])]

    def assign_licenses(self, user: UserEntry, add: Sequence[str], remove: Sequence[str]
                        ) -> None:
        if add and not user.attributes.get("usageLocation"):
            raise ValidationError(f"{user.login} has no usage location, and Microsoft 365 "
                                  "licences may only be assigned to a user with one",
                                  hint=f"`adminkit account set {user.login} "
                                       "usageLocation=CZ` (the two-letter country code)")
        body = {"addLicenses": [{"skuId": s, "disabledPlans": []} for s in add],
                "removeLicenses": list(remove)}
        self._write(Req("POST", f"/users/{segment(user.dn)}/assignLicense", body),
                    f"change the licences of {user.login}", "write licences", [user.dn])

    def close(self) -> None:
        self.graph.close()


def _original_upn(row: dict[str, Any]) -> str:
    """A deleted user's UPN as it was: without the object id Entra put in front."""
    upn = str(row.get("userPrincipalName") or "")
    prefix = str(row.get("id") or "").replace("-", "")
    return upn[len(prefix):] if prefix and upn.casefold().startswith(prefix.casefold()) \
        and "@" in upn[len(prefix):] else upn


def _text_clause(text: str, wildcards: bool) -> tuple[tuple[str, str], bool]:
    """(operator, value) for a search text, and whether it is an advanced query. With
    wildcards Graph can do `x*` (startswith) and `*x` (endswith, advanced), no more."""
    if not wildcards or "*" not in text:
        return ("eq", text), False
    inner = text.strip("*")
    if not inner or "*" in inner or (text.startswith("*") and text.endswith("*")):
        raise ValidationError(f"Entra ID searches by prefix (abc*) or suffix (*abc), not "
                              f"{text!r}")
    if text.endswith("*"):
        return ("startswith", inner), False
    return ("endswith", inner), True
