"""An in-memory `Directory`, so the account actions' logic is tested in seconds.

It is no substitute for the lab's real servers (tests/integration/ keeps those tests); it
behaves like them where the actions depend on it, and is as strict as they are:

- DNs are built with RFC 4514 escaping (AD: `CN=<display name>,<ou>`, a namesake in the
  same OU gets `CN=<name> (<login>)`; OpenLDAP: `uid=<login>,<ou>`) and compared the way
  a server compares them (attribute names and values without case, escapes decoded).
- Logins match without case. AD: a login is unique in the domain and is taken by a user,
  a group's name or another account's UPN; OpenLDAP: by a user's uid (a group has none,
  and slapd without the unique overlay takes a second uid in another OU).
- A write to an entry that is not there, into an OU that is not there, of an attribute
  the schema lacks, or of a password the policy refuses fails with the error the real
  backend raises (the same adminkit error type, made by the backend's own translation
  of the LDAP answer). `deny_writes(dn)` makes an entry refuse writes, as an entry the
  service account has no rights on does (PolicyRefused).
- Protection is computed as ldapbase.py / ad.py / openldap.py compute it: listed
  accounts (login, UPN or DN), AD's adminCount, membership of a protected group through
  any depth of nesting, and a protected group's name that resolves to nothing is a
  ConfigError. Stricter than slapd in one place: adding a member DN that names no entry
  is refused (AD refuses it; slapd would store it).

Every write is logged in `writes` (an operation and a DN), so a check run can be shown
to have written nothing. One lock makes it safe for the runner's worker threads.
"""

from __future__ import annotations

import functools
import re
import string
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from ldap3.utils.dn import escape_rdn

from adminkit.accounts.ad import ad_error, check_login
from adminkit.accounts.directory import (
    Directory,
    GroupEntry,
    LoginLookup,
    NewUser,
    PasswordPolicy,
    ReportKind,
    SearchField,
    UserEntry,
)
from adminkit.accounts.ldapbase import split_rdn
from adminkit.accounts.ldapbase import unescape_value as _unescape
from adminkit.accounts.openldap import openldap_error
from adminkit.accounts.settings import DirectoryConfig
from adminkit.core.config import PolicyConfig
from adminkit.core.context import Context
from adminkit.core.errors import AdminkitError, ConfigError, ValidationError
from adminkit.core.run import Run
from adminkit.core.secrets import Secret

DnKey = tuple[tuple[str, str], ...]
F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

# The attributes the fake's schema knows (a real schema has more); AD takes one value of
# most of them, slapd's inetOrgPerson several of most.
SCHEMA = ("givenName", "sn", "displayName", "mail", "description", "title", "department",
          "telephoneNumber", "mobile", "physicalDeliveryOfficeName", "company", "employeeID",
          "homeDirectory", "homeDrive", "userPrincipalName", "otherTelephone")
MULTI_VALUED = {"ad": {"othertelephone"},
                "openldap": {"mail", "description", "title", "telephonenumber", "mobile",
                             "physicaldeliveryofficename", "othertelephone"}}
REPORT_DAYS = {"inactive": 90, "password-expiring": 14}
START = "Start-Pass.1"  # the password of users a test sets up


def config(kind: str = "ad", **changes: Any) -> DirectoryConfig:
    """A profile's directory section like the lab's, for AD or OpenLDAP."""
    if kind == "ad":
        base = "DC=samdom,DC=example,DC=com"
        ous = {"users_ou": f"OU=Staff,{base}", "groups_ou": f"OU=Groups,{base}",
               "quarantine_ou": f"OU=Quarantine,{base}", "upn_suffix": "samdom.example.com"}
    else:
        base = "dc=example,dc=org"
        ous = {"users_ou": f"ou=people,{base}", "groups_ou": f"ou=groups,{base}",
               "quarantine_ou": f"ou=disabled,{base}"}
    return DirectoryConfig(kind=kind, url="ldaps://memory.invalid:636", base_dn=base,
                           bind_user=f"cn=adminkit,{base}", password="env:MEMDIR_UNUSED",
                           **{**ous, **changes})


@functools.lru_cache(maxsize=4096)
def dn_key(dn: str) -> DnKey:
    """A DN in the form servers compare: names and values without case, escapes decoded."""
    parts: list[tuple[str, str]] = []
    rest = dn.strip()
    while rest:
        rdn, rest = split_rdn(rest)
        attr, eq, value = rdn.partition("=")
        if not eq or not attr.strip():
            raise ValidationError(f"not a valid DN: {dn!r}",
                                  hint="a DN looks like CN=Name,OU=Unit,DC=example,DC=com")
        parts.append((attr.strip().lower(), _unescape(value.strip()).casefold()))
        rest = rest.strip()
    return tuple(parts)


def _locked(method: F) -> F:
    @functools.wraps(method)
    def run(self: MemDirectory, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)
    return cast(F, run)


@dataclass
class MemUser:
    dn: str
    login: str
    password: Secret
    attrs: dict[str, list[str]] = field(default_factory=dict)  # by lower-case name
    enabled: bool = True
    locked: bool = False
    expires: datetime | None = None
    must_change: bool = False
    admin_count: bool = False  # AD: a member, now or once, of an administrative group
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    last_logon: datetime | None = None
    password_changed: datetime | None = None

    def first(self, name: str) -> str | None:
        found = self.attrs.get(name.lower())
        return found[0] if found else None


@dataclass
class MemGroup:
    dn: str
    name: str
    members: list[str] = field(default_factory=list)  # DNs of users and groups
    description: str | None = None


class MemDirectory:
    """The `Directory` protocol over dicts; `kind` ("ad" or "openldap") picks the rules."""

    def __init__(self, cfg: DirectoryConfig | None = None, *,
                 policy: PasswordPolicy | None = None) -> None:
        self.config = cfg or config()
        self.kind: str = self.config.kind
        ad = self.kind == "ad"
        self.policy = policy or PasswordPolicy(min_length=7 if ad else 8, complexity=ad,
                                               max_age_days=42 if ad else None)
        self.users: dict[DnKey, MemUser] = {}
        self.groups: dict[DnKey, MemGroup] = {}
        self.ous: set[DnKey] = set()
        self.denied: set[DnKey] = set()
        self.writes: list[tuple[str, str]] = []
        self.closed = 0
        self._lock = threading.RLock()
        cfg_ous = (self.config.base_dn, self.config.users_ou, self.config.groups_ou,
                   self.config.quarantine_ou)
        for ou in cfg_ous:
            if ou:
                self.add_ou(ou)

    # -- setting up a test's directory (not part of the protocol) -------------------------
    def add_ou(self, dn: str) -> str:
        self.ous.add(dn_key(dn))
        return dn

    def add_user(self, login: str, given_name: str = "Test", surname: str | None = None, *,
                 ou: str | None = None, password: str = START,
                 admin_count: bool = False, **fields: Any) -> str:
        """A user as an administrator made it; `fields` are NewUser's or MemUser's."""
        surname = surname or login.capitalize()
        new = {k: v for k, v in fields.items() if k in NewUser.__dataclass_fields__}
        new.setdefault("display_name", f"{given_name} {surname}")
        new.setdefault("must_change", False)
        dn = self.create_user(NewUser(login=login, given_name=given_name, surname=surname,
                                      password=Secret(password),
                                      ou=ou or self.config.users_ou or self.config.base_dn,
                                      **new))
        user = self.users[dn_key(dn)]
        user.admin_count = admin_count
        for name, value in fields.items():
            if name not in new:
                if name not in MemUser.__dataclass_fields__:
                    raise TypeError(f"add_user: no field {name!r}")
                setattr(user, name, value)
        self.writes.pop()  # setting up is not a write under test
        return dn

    def add_group(self, name: str, *members: str, ou: str | None = None) -> str:
        """A group holding `members` (DNs of users or groups)."""
        parent = ou or self.config.groups_ou or self.config.base_dn
        dn = f"{'CN' if self.kind == 'ad' else 'cn'}={escape_rdn(name)},{parent}"
        if dn_key(parent) not in self.ous or dn_key(dn) in self.groups:
            raise ValueError(f"cannot add group {dn}")
        if self.kind == "ad" and self._holders(name):
            raise ValueError(f"the sAMAccountName {name!r} is taken")
        self.groups[dn_key(dn)] = MemGroup(dn, name, list(members))
        return dn

    def deny_writes(self, dn: str) -> None:
        """Writes to `dn` fail as they do where the service account lacks the right."""
        self.denied.add(dn_key(dn))

    def entry(self, login: str) -> UserEntry:
        """The user holding `login`, read back; a test that expects one asserts it."""
        found = self.find_user(login)
        assert found is not None, f"no user {login}"
        return found

    def password_of(self, login: str) -> str:
        return self._stored(self.entry(login)).password.reveal()

    def members(self, group: str) -> set[str]:
        """The logins of a group's direct user members."""
        found = self.find_group(group)
        assert found is not None, f"no group {group}"
        return {u.login for u in self.group_members(found)}

    def group_names(self, login: str) -> set[str]:
        return {g.name for g in self.user_groups(self.entry(login))}

    def state(self) -> tuple[list[Any], list[Any]]:
        """Everything stored, in a form that compares: a check run leaves it equal."""
        with self._lock:
            users = sorted((u.dn, u.login, u.password.reveal(), sorted(u.attrs.items()),
                            u.enabled, u.locked, u.expires, u.must_change, u.password_changed)
                           for u in self.users.values())
            groups = sorted((g.dn, list(g.members)) for g in self.groups.values())
        return users, groups

    # -- internals ------------------------------------------------------------------------
    def _error(self, code: int, what: str, ad: str = "", slapd: str = "") -> AdminkitError:
        """The error the real backend makes of this LDAP answer (with the server's text)."""
        if self.kind == "ad":
            return ad_error({"result": code, "message": ad}, what)
        return openldap_error({"result": code, "message": slapd,
                            "description": {17: "undefinedAttributeType"}.get(code, "")}, what)

    def _write(self, op: str, key: DnKey, dn: str, what: str) -> None:
        if key in self.denied:
            raise self._error(50, what)
        self.writes.append((op, dn))

    def _stored(self, user: UserEntry, what: str = "") -> MemUser:
        found = self.users.get(dn_key(user.dn))
        if found is None:
            raise self._error(32, what or f"read {user.login}")
        return found

    def _group_at(self, group: GroupEntry, what: str) -> MemGroup:
        found = self.groups.get(dn_key(group.dn))
        if found is None:
            raise self._error(32, what)
        return found

    def _upn(self, user: MemUser) -> str | None:
        return user.first("userPrincipalName")

    def _holders(self, login: str) -> list[str]:
        """What keeps `login` from a new account: (AD) users, groups and UPNs holding it."""
        key = login.casefold()
        held = [u.dn for u in self.users.values() if u.login.casefold() == key]
        if self.kind == "ad":
            held += [g.dn for g in self.groups.values() if g.name.casefold() == key]
            suffix = f"@{self.config.upn_suffix}".casefold() if self.config.upn_suffix else None
            held += [u.dn for u in self.users.values()
                     if suffix and (self._upn(u) or "").casefold() == key + suffix]
        return held

    def _direct_groups(self, key: DnKey) -> list[MemGroup]:
        return [g for g in self.groups.values() if key in {dn_key(m) for m in g.members}]

    def _closure(self, key: DnKey) -> list[tuple[MemGroup, tuple[str, ...]]]:
        """Groups holding `key`, then their parents (breadth first, cycles cut), each with
        the names of the groups it was reached through."""
        seen: set[DnKey] = set()
        out: list[tuple[MemGroup, tuple[str, ...]]] = []
        pending: list[tuple[DnKey, tuple[str, ...]]] = [(key, ())]
        while pending:
            child, chain = pending.pop(0)
            for group in self._direct_groups(child):
                gkey = dn_key(group.dn)
                if gkey not in seen:
                    seen.add(gkey)
                    out.append((group, chain))
                    pending.append((gkey, (*chain, group.name)))
        return out

    def _user(self, user: MemUser) -> UserEntry:
        key = dn_key(user.dn)
        return UserEntry(
            dn=user.dn, login=user.login, given_name=user.first("givenName"),
            surname=user.first("sn"), display_name=user.first("displayName"),
            mail=user.first("mail"), enabled=user.enabled, locked=user.locked,
            expires=user.expires, last_logon=user.last_logon,
            password_changed=user.password_changed, must_change=user.must_change,
            groups=tuple(g.dn for g in self._direct_groups(key)),
            description=user.first("description"),
            attributes={"userPrincipalName": self._upn(user)} if self.kind == "ad" else {})

    def _group(self, group: MemGroup) -> GroupEntry:
        return GroupEntry(dn=group.dn, name=group.name, members=tuple(group.members),
                          description=group.description)

    def _check_password(self, password: Secret, login: str, what: str) -> None:
        value, p = password.reveal(), self.policy
        classes = sum(any(c in pool for c in value) for pool in (
            string.ascii_uppercase, string.ascii_lowercase, string.digits))
        classes += any(not c.isalnum() for c in value)
        weak = len(value) < p.min_length or (p.complexity and (
            classes < 3 or (len(login) >= 3 and login.casefold() in value.casefold())))
        if weak:
            raise self._error(19, what, "0000052D: Constraint violation - "
                                        "check_password_restrictions: the password is too weak",
                              "Password fails quality checking policy")

    def _check_attributes(self, values: dict[str, Any], what: str) -> dict[str, list[str]]:
        """Names as the schema spells them, values as lists; unknown or doubled: refused."""
        known = {name.lower(): name for name in SCHEMA}
        checked: dict[str, list[str]] = {}
        for name, value in values.items():
            if name.lower() not in known:
                raise self._error(17, what, f"attribute '{name}' on entry was not found in "
                                            "the schema!", f"{name}: attribute type undefined")
            vals = [str(v) for v in value] if isinstance(value, list) else [str(value)]
            if len(vals) > 1 and name.lower() not in MULTI_VALUED[self.kind]:
                raise self._error(19, what, f"attribute '{name}': SINGLE-VALUE attribute",
                                  f"attribute '{name}' cannot have multiple values")
            checked[name.lower()] = vals
        return checked

    # -- reading --------------------------------------------------------------------------
    def ping(self) -> str:
        return "in-memory directory"

    @_locked
    def find_user(self, login: str) -> UserEntry | None:
        found = [u for u in self.users.values() if u.login.casefold() == login.casefold()]
        if len(found) > 1:
            raise ValidationError(f"more than one account has the login {login!r}")
        return self._user(found[0]) if found else None

    @_locked
    def lookup_logins(self, logins: Sequence[str]) -> LoginLookup:
        found = LoginLookup()
        for key in dict.fromkeys(login.casefold() for login in logins):
            users = [u for u in self.users.values() if u.login.casefold() == key]
            if self._holders(key):
                found.taken.add(key)
            if len(users) <= 1:  # two holders: the lookup cannot answer for it
                found.users[key] = self._user(users[0]) if users else None
        return found

    @_locked
    def get_user(self, dn: str) -> UserEntry | None:
        found = self.users.get(dn_key(dn))
        return self._user(found) if found else None

    @_locked
    def search_users(self, text: str, *, field: SearchField = "any", wildcards: bool = False,
                     limit: int = 200) -> list[UserEntry]:
        if "\x00" in text:
            raise ValidationError("a search value may not contain a NUL character")
        parts = (re.escape(p) for p in (text.split("*") if wildcards else [text]))
        pattern = re.compile(".*".join(parts), re.IGNORECASE)
        names = {"login": (), "mail": ("mail",), "name": ("displayName", "givenName", "sn"),
                 "any": ("mail", "displayName", "givenName", "sn")}[field]
        found = []
        for user in self.users.values():
            values = [user.login] if field in ("login", "any") else []
            values += [v for n in names for v in user.attrs.get(n.lower(), [])]
            if any(pattern.fullmatch(v) for v in values):
                found.append(self._user(user))
        return found[:limit]

    @_locked
    def list_users(self, base: str) -> list[UserEntry]:
        key = dn_key(base)
        return [self._user(u) for k, u in self.users.items() if k[-len(key):] == key]

    @_locked
    def login_taken(self, login: str) -> bool:
        return bool(self._holders(login))

    @_locked
    def read_attributes(self, user: UserEntry, names: list[str]) -> dict[str, list[str]]:
        found = self.users.get(dn_key(user.dn))  # like a read of a gone entry: no values
        return {name: list(found.attrs.get(name.lower(), [])) if found else [] for name in names}

    @_locked
    def find_group(self, name: str) -> GroupEntry | None:
        if "=" in name:
            group = self.groups.get(dn_key(name))
            return self._group(group) if group else None
        found = [g for g in self.groups.values() if g.name.casefold() == name.casefold()]
        ou = dn_key(self.config.groups_ou or self.config.base_dn)
        below = [g for g in found if dn_key(g.dn)[-len(ou):] == ou]
        if self.kind == "openldap":  # slapd's backend looks in the groups OU only
            found = below
        elif len(found) > 1:  # AD looks domain-wide, preferring the groups OU's one
            found = below if len(below) == 1 else found
        if len(found) > 1:
            raise ValidationError(f"more than one group is named {name!r}; give its DN")
        return self._group(found[0]) if found else None

    @_locked
    def user_groups(self, user: UserEntry, *, nested: bool = False) -> list[GroupEntry]:
        key = dn_key(user.dn)
        if nested:
            return [self._group(g) for g, _ in self._closure(key)]
        return [self._group(g) for g in self._direct_groups(key)]

    @_locked
    def group_members(self, group: GroupEntry, *, nested: bool = False) -> list[UserEntry]:
        found: dict[DnKey, UserEntry] = {}
        seen: set[DnKey] = set()
        pending = [dn_key(group.dn)]
        while pending:
            held = self.groups.get(pending.pop(0))
            for member in held.members if held else []:
                key = dn_key(member)
                if key in self.users:
                    found.setdefault(key, self._user(self.users[key]))
                elif nested and key in self.groups and key not in seen:
                    seen.add(key)
                    pending.append(key)
        return list(found.values())

    def password_policy(self) -> PasswordPolicy:
        return self.policy

    def _protected_groups(self, policy: PolicyConfig) -> dict[DnKey, str]:
        """Policy group names by the key of the group they name; one that names no group is
        a ConfigError (a guard that silently guards nothing is worse than none)."""
        found = {name: self.find_group(name) for name in policy.protected_groups}
        missing = [name for name, group in found.items() if group is None]
        if missing:
            raise ConfigError(f"policy.protected_groups names {missing[0]!r}, but the "
                              "directory has no such group")
        return {dn_key(group.dn): name for name, group in found.items() if group is not None}

    @_locked
    def protected_reason(self, user: UserEntry, policy: PolicyConfig) -> str | None:
        """Read from the entry as it is now, not from the (maybe stale) `user`."""
        stored = self.users.get(dn_key(user.dn))
        if stored is None:
            raise ValidationError(f"{user.login}: no entry at {user.dn} (moved or deleted?)")
        names = {stored.login.casefold(), (self._upn(stored) or "").casefold()} - {""}
        for listed in (s.strip() for s in policy.protected_accounts if s.strip()):
            if listed.casefold() in names or ("=" in listed and
                                               dn_key(listed) == dn_key(stored.dn)):
                return (f"listed in the profile's protected accounts ({listed})"
                        if self.kind == "ad" else f"{stored.login} is a protected account")
        if self.kind == "ad" and stored.admin_count:
            return "adminCount=1 (a member, now or once, of an administrative group)"
        protected = self._protected_groups(policy)
        for group, via in self._closure(dn_key(stored.dn)):
            name = protected.get(dn_key(group.dn))
            if name is not None and self.kind == "ad":
                return f"member of {name} (directly or through a nested group)"
            if name is not None:
                path = f" (through {' > '.join(via)})" if via else ""
                return f"{stored.login} is a member of the protected group {group.name}{path}"
        return None

    @_locked
    def group_protected_reason(self, group: GroupEntry, policy: PolicyConfig) -> str | None:
        protected = self._protected_groups(policy)
        key = dn_key(group.dn)
        if key in protected:
            return f"{group.name} is a protected group"
        for parent, _ in self._closure(key):
            name = protected.get(dn_key(parent.dn))
            if name is not None:
                return f"{group.name} is nested inside the protected group {name}"
        return None

    @_locked
    def report(self, kind: ReportKind, *, days: int | None = None) -> list[UserEntry]:
        """AD's rules: inactive counts an account that never logged on by its age."""
        if days is not None and days < 0:
            raise ValidationError(f"report {kind}: days must be 0 or more, not {days}")
        now = datetime.now(UTC)
        span = timedelta(days=REPORT_DAYS.get(kind, 0) if days is None else days)
        cut, max_age = now - span, self.policy.max_age_days
        rules: dict[str, Callable[[MemUser], bool]] = {
            "disabled": lambda u: not u.enabled,
            "locked": lambda u: u.locked,
            "inactive": lambda u: (u.last_logon or u.created) <= cut,
            "never-logged-in": lambda u: u.last_logon is None and (not days or u.created <= cut),
            "password-expiring": lambda u: bool(
                max_age and u.password_changed and
                now < u.password_changed + timedelta(days=max_age) <= now + span),
        }
        if kind not in rules:
            raise ValidationError(f"unknown report {kind!r}")
        return [self._user(u) for u in self.users.values() if rules[kind](u)]

    # -- writing --------------------------------------------------------------------------
    @_locked
    def create_user(self, user: NewUser) -> str:
        what = f"create {user.login} in {user.ou}" if self.kind == "ad" else \
            f"create {user.login}"
        parent = dn_key(user.ou)
        if self.kind == "ad":
            check_login(user.login)
            dn = f"CN={escape_rdn(user.display_name)},{user.ou}"
            if dn_key(dn) in self.users or dn_key(dn) in self.groups:  # a namesake's CN
                dn = f"CN={escape_rdn(f'{user.display_name} ({user.login})')},{user.ou}"
        else:
            dn = f"uid={escape_rdn(user.login)},{user.ou}"
        key = dn_key(dn)
        if parent not in self.ous:
            raise self._error(32, what, "00002095: parent does not exist")
        if self.kind == "ad" and self._holders(user.login):
            raise self._error(19, what, "00002071: the sAMAccountName is in use")
        if key in self.users or key in self.groups:
            raise self._error(68, what)
        upn = f"{user.login}@{self.config.upn_suffix}" \
            if self.kind == "ad" and self.config.upn_suffix else None
        attrs = self._check_attributes(
            {"givenName": user.given_name, "sn": user.surname, "displayName": user.display_name,
             **({"mail": user.mail} if user.mail else {}),
             **({"userPrincipalName": upn} if upn else {}), **user.attributes}, what)
        self._check_password(user.password, user.login, what)
        self._write("create", key, dn, what)
        self.users[key] = MemUser(
            dn=dn, login=user.login, password=user.password, attrs=attrs, enabled=user.enabled,
            expires=user.expires, must_change=user.must_change,
            password_changed=None if user.must_change else datetime.now(UTC))
        return dn

    @_locked
    def set_enabled(self, user: UserEntry, enabled: bool) -> None:
        what = f"{'enable' if enabled else 'disable'} {user.login}"
        stored = self._stored(user, what)
        self._write("enable" if enabled else "disable", dn_key(stored.dn), stored.dn, what)
        stored.enabled = enabled

    @_locked
    def unlock(self, user: UserEntry) -> None:
        what = f"unlock {user.login}"
        stored = self._stored(user, what)
        self._write("unlock", dn_key(stored.dn), stored.dn, what)
        stored.locked = False

    @_locked
    def set_expiry(self, user: UserEntry, expires: datetime | None) -> None:
        what = f"set the expiry of {user.login}"
        stored = self._stored(user, what)
        self._write("expire", dn_key(stored.dn), stored.dn, what)
        stored.expires = expires

    @_locked
    def set_password(self, user: UserEntry, password: Secret, *, must_change: bool) -> None:
        what = f"reset the password of {user.login}"
        stored = self._stored(user, what)
        self._check_password(password, stored.login, what)
        self._write("password", dn_key(stored.dn), stored.dn, what)
        stored.password, stored.must_change = password, must_change
        stored.password_changed = None if must_change else datetime.now(UTC)

    @_locked
    def add_member(self, group: GroupEntry, user: UserEntry) -> None:
        what = f"add {user.login} to {group.name}"
        stored = self._group_at(group, what)
        if dn_key(user.dn) not in self.users:
            raise self._error(32, what)
        if dn_key(user.dn) in {dn_key(m) for m in stored.members}:
            return  # already there: tolerated, as the backends tolerate it
        self._write("add_member", dn_key(stored.dn), stored.dn, what)
        stored.members.append(user.dn)

    def add_members(self, group: GroupEntry, users: Sequence[UserEntry]
                    ) -> dict[str, AdminkitError]:
        """Each user on its own (where the backends end up when the server refuses the
        batch); the failures by DN."""
        outcomes = {user.dn: self._try_add(group, user) for user in users}
        return {dn: exc for dn, exc in outcomes.items() if exc is not None}

    def _try_add(self, group: GroupEntry, user: UserEntry) -> AdminkitError | None:
        try:
            self.add_member(group, user)
        except AdminkitError as exc:
            return exc
        return None

    @_locked
    def remove_member(self, group: GroupEntry, user: UserEntry) -> None:
        what = f"remove {user.login} from {group.name}"
        stored = self._group_at(group, what)
        kept = [m for m in stored.members if dn_key(m) != dn_key(user.dn)]
        if len(kept) != len(stored.members):  # not a member: tolerated
            self._write("remove_member", dn_key(stored.dn), stored.dn, what)
            stored.members = kept

    @_locked
    def move(self, user: UserEntry, new_parent: str) -> str:
        what = f"move {user.login} to {new_parent}"
        stored = self._stored(user, what)
        if dn_key(new_parent) not in self.ous:
            raise self._error(32, what, "00002095: parent does not exist")
        rdn, _ = split_rdn(stored.dn)
        dn = f"{rdn},{new_parent}"
        if dn_key(dn) in self.users and dn_key(dn) != dn_key(stored.dn) and self.kind == "ad":
            name = stored.first("displayName") or stored.login  # a namesake: as on create
            dn = f"CN={escape_rdn(f'{name} ({stored.login})')},{new_parent}"
        if dn_key(dn) in self.users and dn_key(dn) != dn_key(stored.dn):
            raise self._error(68, what)
        old = dn_key(stored.dn)
        self._write("move", old, stored.dn, what)
        for group in self.groups.values():  # linked attributes (AD), refint (slapd)
            group.members = [dn if dn_key(m) == old else m for m in group.members]
        del self.users[old]
        stored.dn = dn
        self.users[dn_key(dn)] = stored
        return dn

    @_locked
    def set_attributes(self, user: UserEntry, values: dict[str, list[str]]) -> None:
        what = f"set {', '.join(values)} on {user.login}"
        stored = self._stored(user, what)
        checked = self._check_attributes(dict(values), what)
        self._write("set", dn_key(stored.dn), stored.dn, what)
        for name, vals in checked.items():
            if vals:
                stored.attrs[name] = vals
            else:
                stored.attrs.pop(name, None)

    @_locked
    def delete(self, user: UserEntry) -> None:
        what = f"delete {user.login}"
        stored = self._stored(user, what)
        key = dn_key(stored.dn)
        self._write("delete", key, stored.dn, what)
        for group in self.groups.values():
            group.members = [m for m in group.members if dn_key(m) != key]
        del self.users[key]

    def close(self) -> None:
        self.closed += 1


@dataclass
class _Bound(Context):
    directory: Directory | None = None

    def connection(self, backend: str, target: str, open: Callable[[], T],
                   close: Callable[[T], None], *, limits: Any = None) -> T:
        if backend in ("ad", "openldap"):  # the directory kinds: this one answers
            return cast(T, self.directory)
        return super().connection(backend, target, open, close, limits=limits)

    def handover(self, run: Run) -> Context:
        taken = super().handover(run)
        return _Bound(run=taken.run, profile=taken.profile, targets=taken.targets,
                      bridge=taken.bridge, _resources=taken._resources,
                      _closers=taken._closers, directory=self.directory)


def bind(ctx: Context, directory: Directory) -> Context:
    """`ctx`'s run and profile, with every `directory_of()` answered by `directory`.

    The one place that knows how actions reach their directory: the connection the
    context's registry leases under (directory kind, URL) (see
    accounts.directory.directory_of). The context a bulk run's check pass hands over to
    its writes stays bound.
    """
    return _Bound(run=ctx.run, profile=ctx.profile, directory=directory)
