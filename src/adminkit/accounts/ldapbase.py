"""What the AD and OpenLDAP backends share: searching, paging, groups, moves, writes.

Backends subclass `LdapDirectory` and supply how a user entry is read (`_user`) and
the operations whose semantics differ (enable, lock, expiry, passwords, reports).
Every value that reaches a filter goes through `escape_filter_chars`, every value
that reaches a DN through `rdn_value`; a group named with `=` is a DN only if it parses
as one under the directory's base (`as_dn`), otherwise a name.
"""

from __future__ import annotations

import contextlib
import functools
import string
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from adminkit.accounts.connection import Link, Outage
from adminkit.accounts.directory import GroupEntry, LoginLookup, SearchField, UserEntry
from adminkit.accounts.ldaperrors import result_error
from adminkit.accounts.settings import DirectoryConfig
from adminkit.core.config import PolicyConfig
from adminkit.core.errors import AdminkitError, ConfigError, ValidationError
from adminkit.core.secrets import Secret

if TYPE_CHECKING:
    import ldap3

PAGE = 500  # below Windows' MaxPageSize of 1000
CHUNK = 100  # logins per search in bulk lookups: filters stay a few KB
ALREADY_THERE = (20, 68)  # attributeOrValueExists, entryAlreadyExists
NOT_THERE = (16, 53)  # noSuchAttribute; AD answers 53 for a member that is not in the group
SEARCH_MAX = 256  # characters of search text: the longest value (Text) any command takes
RDN_SPECIALS = frozenset(',+"\\<>;=#\x00')  # a # anywhere: ldap3 refuses it unescaped


def first(attrs: dict[str, Any], name: str) -> Any:
    value = attrs.get(name)
    if isinstance(value, list):
        return value[0] if value else None
    return value


def values(attrs: dict[str, Any], name: str) -> list[Any]:
    value = attrs.get(name)
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def split_rdn(dn: str) -> tuple[str, str]:
    """`CN=O'Brien\\, Jr.,OU=Staff,...` -> (`CN=O'Brien\\, Jr.`, `OU=Staff,...`).

    A backslash escapes the next character (or starts a two-digit hex pair, whose
    digits are never a comma), so the first unescaped comma ends the RDN. ldap3's
    `to_dn` gets `\\\\,` (an escaped backslash, then the separator) wrong.
    """
    i = 0
    while i < len(dn):
        if dn[i] == "\\":
            i += 2
            continue
        if dn[i] == ",":
            return dn[:i], dn[i + 1:]
        i += 1
    return dn, ""


def rdn_value(text: str) -> str:
    """`text` as an RDN value, the RFC 4514 specials hex-escaped (`,` -> `\\2C`).

    Samba misparses a backslash-escaped comma at the end of a value (`CN=Eva \\,\\,` is
    stored as `CN=E`), and ldap3 splits `\\\\,` wrongly; the hex form reads alike everywhere.
    """
    out = [f"\\{ord(ch):02X}" if ch in RDN_SPECIALS else ch for ch in text]
    if out and out[0] == " ":
        out[0] = "\\20"
    if out and out[-1] == " ":
        out[-1] = "\\20"
    return "".join(out)


def unescape_value(value: str) -> str:
    """An RDN value as a server wrote it (`\\,` or `\\2C`, UTF-8 hex pairs) in plain text."""
    out = bytearray()
    i = 0
    while i < len(value):
        pair = value[i + 1:i + 3]
        if value[i] == "\\" and len(pair) == 2 and all(c in string.hexdigits for c in pair):
            out.append(int(pair, 16))
            i += 3
        elif value[i] == "\\" and i + 1 < len(value):
            out += value[i + 1].encode()
            i += 2
        else:
            out += value[i].encode()
            i += 1
    return out.decode("utf-8", errors="replace")


def hex_rdn(rdn: str) -> str:
    """A single-valued RDN read from a server, its value escaped again by `rdn_value`;
    a multi-valued one (`cn=a+uid=b`) is left as the server wrote it."""
    from ldap3.core.exceptions import LDAPInvalidDnError
    from ldap3.utils.dn import parse_dn

    with contextlib.suppress(LDAPInvalidDnError):
        if len(parse_dn(rdn)) > 1:
            return rdn
    attr, _, value = rdn.partition("=")
    return f"{attr.strip()}={rdn_value(unescape_value(value))}"


def hex_dn(dn: str) -> str:
    """A DN as a server wrote it, with every RDN value hex-escaped: Samba writes `\\,` but
    misreads its own `CN=Eva \\,\\,` when given it back. A DN without escapes stays."""
    if "\\" not in dn:
        return dn
    parts = []
    rest = dn
    while rest:
        rdn, rest = split_rdn(rest)
        parts.append(hex_rdn(rdn))
    return ",".join(parts)


def _dn_parts(dn: str) -> list[tuple[str, str]] | None:
    from ldap3.core.exceptions import LDAPInvalidDnError
    from ldap3.utils.dn import parse_dn

    try:
        return [(attr.strip().lower(), unescape_value(value.strip()).lower())
                for attr, value, _ in parse_dn(dn)]
    except LDAPInvalidDnError:
        return None


def as_dn(name: str, base: str) -> str | None:
    """`name` if it parses as a DN below `base` (a group given by DN), else None: then it
    is a name, looked up escaped. `*)(uid=*`, `jnovak=` or `x,ou=Domain Controllers` are
    names, never a search base that the server or ldap3 refuses with a raw error."""
    parts, under = _dn_parts(name), _dn_parts(base)
    if not parts or not under or len(parts) <= len(under):
        return None
    return name if parts[-len(under):] == under else None


def login_filters(logins: Iterable[str], *matches: tuple[str, str]
                  ) -> Iterator[tuple[set[str], list[tuple[str, str]], str]]:
    """For each CHUNK of distinct logins: (their casefolded keys, the (attribute, value)
    pairs to match, and the same as a filter `(|(attr=login)...)` with values escaped).

    `matches` are (attribute, text after the login) pairs, e.g. ("uid", "") or
    ("userPrincipalName", "@example.org").
    """
    unique = list(dict.fromkeys(logins))
    for i in range(0, len(unique), CHUNK):
        chunk = unique[i:i + CHUNK]
        pairs = [(attr, login + tail) for attr, tail in matches for login in chunk]
        terms = "".join(value_filter(attr, value, False) for attr, value in pairs)
        yield {login.casefold() for login in chunk}, pairs, f"(|{terms})"


def _norm_dn(dn: str) -> str:
    return ",".join(part.strip() for part in dn.casefold().split(","))


def value_filter(attr: str, text: str, wildcards: bool) -> str:
    """`(attr=text)` with text escaped; with `wildcards`, a `*` in text stays a wildcard."""
    from ldap3.utils.conv import escape_filter_chars

    if "\x00" in text:
        raise ValidationError("a search value may not contain a NUL character")
    if wildcards:
        escaped = "*".join(escape_filter_chars(part) for part in text.split("*"))
    else:
        escaped = escape_filter_chars(text)
    return f"({attr}={escaped})"


class LdapDirectory:
    kind = "ldap"
    login_attr = "uid"
    user_filter = "(objectClass=person)"
    group_filter = "(|(objectClass=group)(objectClass=groupOfNames)(objectClass=posixGroup))"
    name_attrs = ("cn", "displayName", "givenName", "sn")
    user_attrs: tuple[str, ...] = ("cn",)

    def __init__(self, config: DirectoryConfig, password: Secret) -> None:
        self.config = config
        self.link = Link(config, password, bind_reason=self._bind_reason)

    def close(self) -> None:
        self.link.close()

    def share_outage(self, outage: Outage) -> None:
        """The run's word on whether its directory can be opened (`connection.Outage`)."""
        self.link.outage = outage

    def forget_cached(self) -> None:
        """Before a new run on this connection (a serve worker keeps it): what earlier
        runs read and kept (protected groups' DNs, policies) is read afresh."""
        self._protected_dns = None

    def connected(self) -> bool:
        """Its connection is still open and bound: False once it was lost (the server
        restarted, closed it while idle). A serve worker then opens a new one for its next
        run, resolving the bind password afresh (it may have been rotated), instead of
        reconnecting with the password this object was opened with."""
        return self.link.open_and_idle()

    # -- to implement in backends -----------------------------------------------------
    def _user(self, attrs: dict[str, Any]) -> UserEntry:
        raise NotImplementedError

    def _bind_reason(self, result: dict[str, Any]) -> str | None:
        """Why the server refused the service account's bind, read from its message."""
        return None

    def _error(self, result: dict[str, Any], what: str) -> AdminkitError:
        """The error for a failed answer; backends add what their server's texts say."""
        return result_error(result, what)

    # -- low-level reading ------------------------------------------------------------
    def entries(self, base: str, flt: str, attrs: list[str] | tuple[str, ...], *,
                scope: str = "SUBTREE", limit: int = 0) -> Iterator[dict[str, Any]]:
        """Paged search; yields {"dn": ..., attr: values}. Stops after `limit` if set.

        A page's cookie is good only on the connection that gave it: if the connection
        is lost between pages, the search starts again on the new one, and the entries
        already yielded are skipped.
        """
        what = f"search under {base}"
        cookie: bytes | None = None
        cookie_conn: ldap3.Connection | None = None
        yielded: set[str] = set()
        while True:
            page = functools.partial(self._page, base=base, flt=flt, scope=scope,
                                     attrs=list(attrs), cookie=cookie, cookie_conn=cookie_conn)
            conn, result, response = self.link.run(what, page, resend=True)
            if result.get("result") not in (0, 32):
                raise self._error(result, what)
            for entry in response:
                if entry.get("type") != "searchResEntry" or entry["dn"] in yielded:
                    continue
                yielded.add(entry["dn"])
                yield {"dn": hex_dn(entry["dn"]), **entry["attributes"]}
                if limit and len(yielded) >= limit:
                    return
            controls = result.get("controls") or {}
            cookie = controls.get("1.2.840.113556.1.4.319", {}).get("value", {}).get("cookie")
            cookie_conn = conn
            if not cookie:
                return

    @staticmethod
    def _page(conn: ldap3.Connection, *, base: str, flt: str, scope: str, attrs: list[str],
              cookie: bytes | None, cookie_conn: ldap3.Connection | None
              ) -> tuple[ldap3.Connection, dict[str, Any], list[dict[str, Any]]]:
        """One page; a cookie from another connection is not sent: the search begins anew."""
        import ldap3

        scopes = {"SUBTREE": ldap3.SUBTREE, "LEVEL": ldap3.LEVEL, "BASE": ldap3.BASE}
        conn.search(base, flt, scopes[scope], attributes=attrs, paged_size=PAGE,
                    paged_cookie=cookie if conn is cookie_conn else None)
        return conn, dict(conn.result), list(conn.response or [])

    def read(self, dn: str, attrs: list[str] | tuple[str, ...]) -> dict[str, Any] | None:
        found = list(self.entries(dn, "(objectClass=*)", attrs, scope="BASE"))
        return found[0] if found else None

    def ping(self) -> str:
        if self.read(self.config.base_dn, ["1.1"]) is None:
            raise self._error({"result": 32}, f"read {self.config.base_dn}")
        return f"bound as {self.config.bind_user}, read {self.config.base_dn}"

    # -- users --------------------------------------------------------------------------
    def _users(self, flt: str, *, base: str | None = None, limit: int = 0) -> list[UserEntry]:
        return [self._user(a) for a in self.entries(base or self.config.base_dn,
                                                    f"(&{self.user_filter}{flt})",
                                                    self.user_attrs, limit=limit)]

    def find_user(self, login: str) -> UserEntry | None:
        found = self._users(value_filter(self.login_attr, login, False), limit=2)
        if len(found) > 1:
            raise ValidationError(f"more than one account has the login {login!r}")
        return found[0] if found else None

    # -- bulk lookups: one search per CHUNK logins, for users and for taken logins -------
    def _login_matches(self) -> tuple[tuple[str, str], ...]:
        return ((self.login_attr, ""),)

    def _user_logins(self, attrs: dict[str, Any]) -> set[str]:
        """The logins `find_user` finds this entry by (casefolded)."""
        return {str(v).casefold() for v in values(attrs, self.login_attr)}

    def _logins_held(self, attrs: dict[str, Any]) -> set[str]:
        """The logins this entry keeps a new account from getting."""
        return self._user_logins(attrs)

    def _is_user(self, attrs: dict[str, Any]) -> bool:
        """What `user_filter` selects, decided on an entry read with its objectClass."""
        raise NotImplementedError

    def _taken_base(self) -> str:
        """Where a login must be unique: the profile's base (AD: the whole domain)."""
        return self.config.base_dn

    def lookup_logins(self, logins: Sequence[str]) -> LoginLookup:
        found = LoginLookup()
        base = self._taken_base()
        same_base = _norm_dn(base) == _norm_dn(self.config.base_dn)
        attrs = [*self.user_attrs, "objectClass"]
        for keys, pairs, flt in login_filters(logins, *self._login_matches()):
            users: dict[str, list[UserEntry]] = {}
            answered = True
            found_entries = self.link.search_equal(f"search under {base}", base, pairs, attrs,
                                                   flt)
            if found_entries is None:
                found_entries = list(self.entries(base, flt, attrs))
            for entry in found_entries:
                held = keys & self._logins_held(entry)
                found.taken |= held
                answered = answered and bool(held)  # else the server matched differently
                if same_base and self._is_user(entry):
                    user = self._user(entry)
                    for key in keys & self._user_logins(entry):  # every uid it holds
                        users.setdefault(key, []).append(user)
            if not same_base:  # users only under the profile's base, like find_user
                users = {}
                for held_by in self.entries(self.config.base_dn,
                                            f"(&{self.user_filter}{flt})", self.user_attrs):
                    user = self._user(held_by)
                    for key in keys & self._user_logins(held_by):
                        users.setdefault(key, []).append(user)
            if answered:
                found.users.update({key: (users[key][0] if key in users else None)
                                    for key in keys if len(users.get(key, ())) <= 1})
        return found

    def get_user(self, dn: str) -> UserEntry | None:
        attrs = self.read(dn, self.user_attrs)
        return self._user(attrs) if attrs else None

    def search_users(self, text: str, *, field: SearchField = "any", wildcards: bool = False,
                     limit: int = 200) -> list[UserEntry]:
        if len(text) > SEARCH_MAX:
            raise ValidationError(f"search text of {len(text)} characters is too long: "
                                  f"at most {SEARCH_MAX}")
        attrs = {"login": (self.login_attr,), "mail": ("mail",), "name": self.name_attrs,
                 "any": (self.login_attr, "mail", *self.name_attrs)}[field]
        parts = "".join(value_filter(a, text, wildcards) for a in attrs)
        return self._users(f"(|{parts})", limit=limit)

    def list_users(self, base: str) -> list[UserEntry]:
        return self._users("", base=base)

    def read_attributes(self, user: UserEntry, names: list[str]) -> dict[str, list[str]]:
        attrs = self.read(user.dn, names) or {}
        return {name: [str(v) for v in values(attrs, name)] for name in names}

    def login_taken(self, login: str) -> bool:
        return bool(list(self.entries(self.config.base_dn,
                                      value_filter(self.login_attr, login, False), ["1.1"],
                                      limit=1)))

    # -- groups -------------------------------------------------------------------------
    def _group(self, attrs: dict[str, Any]) -> GroupEntry:
        return GroupEntry(dn=attrs["dn"], name=first(attrs, "cn") or attrs["dn"],
                          members=tuple(values(attrs, "member")),
                          description=first(attrs, "description"))

    def find_group(self, name: str) -> GroupEntry | None:
        group_attrs = ["cn", "member", "description", "objectClass", "memberUid"]
        if (dn := as_dn(name, self._taken_base())) is not None:
            attrs = self.read(dn, group_attrs)
            return self._group(attrs) if attrs else None
        flt = f"(&{self.group_filter}{value_filter('cn', name, False)})"
        found = list(self.entries(self.config.groups_ou, flt, group_attrs, limit=2)) \
            if self.config.groups_ou else []
        if not found:  # Domain Admins lives in CN=Users, Administrators in CN=Builtin
            found = list(self.entries(self.config.base_dn, flt, group_attrs, limit=2))
        if len(found) > 1:
            raise ValidationError(f"more than one group is named {name!r}; give its DN")
        return self._group(found[0]) if found else None

    def user_groups(self, user: UserEntry, *, nested: bool = False) -> list[GroupEntry]:
        groups = [self.find_group(dn) for dn in user.groups]
        return [g for g in groups if g is not None]

    def group_members(self, group: GroupEntry, *, nested: bool = False) -> list[UserEntry]:
        users = [self.get_user(dn) for dn in group.members]
        return [u for u in users if u is not None]

    # -- policy -------------------------------------------------------------------------
    _protected_dns: dict[str, str] | None = None

    def _protected_groups(self, policy: PolicyConfig) -> dict[str, str]:
        """Policy group names -> DNs, resolved once. A name that resolves to nothing is a
        configuration error: a guard that silently guards nothing is worse than none."""
        cache = self._protected_dns if self._protected_dns is not None else {}
        self._protected_dns = cache
        resolved: dict[str, str] = {}
        for name in policy.protected_groups:
            if name not in cache:
                group = self.find_group(name)
                if group is None:
                    raise ConfigError(
                        f"policy.protected_groups names {name!r}, but the directory has no "
                        "such group",
                        hint="fix the name (or give the group's DN) in the profile's policy")
                cache[name] = group.dn
            resolved[name] = cache[name]
        return resolved

    def group_protected_reason(self, group: GroupEntry, policy: PolicyConfig) -> str | None:
        """Is `group` a protected group, or nested (at any depth) inside one?

        Joining such a group grants what the protected group grants, so it is refused
        like the protected group itself. Walks memberOf upwards; cycles are cut.
        """
        protected = {dn.lower(): name for name, dn in self._protected_groups(policy).items()}
        seen: set[str] = set()
        frontier = [group.dn]
        while frontier:
            parents: list[str] = []
            for dn in frontier:
                key = dn.lower()
                if key in protected:
                    return (f"{group.name} is a protected group" if dn == group.dn else
                            f"{group.name} is nested inside the protected group "
                            f"{protected[key]}")
                if key in seen:
                    continue
                seen.add(key)
                parents += [str(p) for p in values(self.read(dn, ["memberOf"]) or {}, "memberOf")]
            frontier = parents
        return None

    # -- writing ------------------------------------------------------------------------
    def add(self, dn: str, object_classes: list[str], attrs: dict[str, Any], what: str) -> None:
        result = self.link.add(what, dn, object_classes, attrs)
        if result.get("result") != 0:
            raise self._error(result, what)

    def add_many(self, adds: Sequence[tuple[str, list[str], dict[str, Any], str]]
                 ) -> list[Exception | None]:
        """(dn, classes, attributes, what) pipelined on one connection; each add's error,
        or None where it was made."""
        results = self.link.add_many([(what, (dn, classes, attrs))
                                      for dn, classes, attrs, what in adds])
        return [result if isinstance(result, Exception)
                else None if result.get("result") == 0 else self._error(result, add[3])
                for add, result in zip(adds, results, strict=True)]

    def modify(self, dn: str, changes: dict[str, Any], what: str, *,
               tolerate: tuple[int, ...] = (), controls: Any = None) -> bool:
        """Apply `changes`; False if the server answered with a tolerated code. Sent again
        after a lost answer only if that is safe (`connection.resendable`)."""
        result = self.link.modify(what, dn, changes, tolerate=tolerate, controls=controls)
        if result.get("result") == 0:
            return True
        if result.get("result") in tolerate:
            return False
        raise self._error(result, what)

    def _member_values(self, group: GroupEntry, users: Sequence[UserEntry]
                       ) -> dict[str, list[str]]:
        """What the group's member attributes take for `users`: here their DNs."""
        return {"member": [u.dn for u in users]}

    def add_member(self, group: GroupEntry, user: UserEntry) -> None:
        """One value at a time, so that a value already there is not an error."""
        import ldap3

        for attr, vals in self._member_values(group, [user]).items():
            self.modify(group.dn, {attr: [(ldap3.MODIFY_ADD, vals)]},
                        f"add {user.login} to {group.name}", tolerate=ALREADY_THERE)

    def add_members(self, group: GroupEntry, users: Sequence[UserEntry]
                    ) -> dict[str, AdminkitError]:
        """All of `users` in one modify (a bulk run's rows); the users that could not be
        added, by DN, with why. A batch the server refuses as a whole (one of them is a
        member already, say) is done again one by one, so each failure is the right row's.
        """
        import ldap3

        if len(users) > 1:
            changes = {attr: [(ldap3.MODIFY_ADD, vals)]
                       for attr, vals in self._member_values(group, users).items()}
            with contextlib.suppress(AdminkitError):
                if self.modify(group.dn, changes, f"add {len(users)} members to {group.name}",
                               tolerate=ALREADY_THERE):
                    return {}
        return self._add_one_by_one(group, users)

    def add_members_many(self, joining: Sequence[tuple[GroupEntry, Sequence[UserEntry]]]
                         ) -> dict[tuple[str, str], AdminkitError]:
        """Each group's new members in one modify, as `add_members` does, the groups'
        modifies pipelined on one connection (a bulk unit waits for them once); the
        (group DN lowercased, user DN) pairs that could not be added, with why. A group
        whose modify did not plainly succeed (a member already there, a refusal, a lost
        connection) is done again one member at a time, so each failure is the right
        row's."""
        import ldap3

        modifies = [(f"add {len(users)} members to {group.name}", group.dn,
                     {attr: [(ldap3.MODIFY_ADD, vals)]
                      for attr, vals in self._member_values(group, users).items()},
                     ALREADY_THERE) for group, users in joining]
        outcomes = self.link.modify_many(modifies)
        failed: dict[tuple[str, str], AdminkitError] = {}
        for (group, users), outcome in zip(joining, outcomes, strict=True):
            code = outcome.get("result") if isinstance(outcome, dict) else None
            if code == 0 or (len(users) == 1 and code in ALREADY_THERE):
                continue
            for dn, error in self._add_one_by_one(group, users).items():
                failed[(group.dn.lower(), dn)] = error
        return failed

    def _add_one_by_one(self, group: GroupEntry, users: Sequence[UserEntry]
                        ) -> dict[str, AdminkitError]:
        failed: dict[str, AdminkitError] = {}
        for user in users:
            try:
                self.add_member(group, user)
            except AdminkitError as exc:
                failed[user.dn] = exc
        return failed

    def remove_member(self, group: GroupEntry, user: UserEntry) -> None:
        import ldap3

        self.modify(group.dn, {"member": [(ldap3.MODIFY_DELETE, [user.dn])]},
                    f"remove {user.login} from {group.name}", tolerate=NOT_THERE)

    def stored_dn(self, dn: str) -> str:
        """The DN as the server holds the entry written at `dn` (it may spell its escapes
        otherwise). A DN without escapes is held as written, up to the case and spaces
        that DN matching ignores: it is not read back (a bulk import's every row saves a
        search)."""
        if "\\" not in dn:
            return dn
        found = self.read(dn, ["1.1"])
        return str(found["dn"]) if found else dn

    def move(self, user: UserEntry, new_parent: str) -> str:
        rdn = hex_rdn(split_rdn(user.dn)[0])
        what = f"move {user.login} to {new_parent}"
        result = self.link.modify_dn(what, user.dn, rdn, new_parent)
        if result.get("result") != 0:
            raise self._error(result, what)
        return self.stored_dn(f"{rdn},{new_parent}")

    def set_attributes(self, user: UserEntry, new: dict[str, list[str]]) -> None:
        import ldap3

        changes = {name: [(ldap3.MODIFY_REPLACE, vals)] for name, vals in new.items()}
        self.modify(user.dn, changes, f"set {', '.join(new)} on {user.login}")

    def delete(self, user: UserEntry) -> None:
        what = f"delete {user.login}"
        result = self.link.delete(what, user.dn)
        if result.get("result") != 0:
            raise self._error(result, what)
