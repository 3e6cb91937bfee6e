"""Active Directory over LDAPS: users are `user` objects keyed by sAMAccountName.

AD keeps account state in bits and 100-ns counters rather than readable attributes:
`userAccountControl` (disabled, password never expires), `lockoutTime` (stays set
after a lockout has run out), `accountExpires` / `pwdLastSet` / `lastLogonTimestamp`
(FILETIME, 100 ns since 1601 UTC). This module turns them into `UserEntry` fields
and back. Samba has no SDProp, so protection (adminCount, nested membership of
Domain Admins & co.) is checked here directly, never trusted to `adminCount` alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from adminkit.accounts.directory import (
    GroupEntry,
    NewUser,
    PasswordPolicy,
    ReportKind,
    UserEntry,
)
from adminkit.accounts.ldapbase import (
    LdapDirectory,
    as_dn,
    first,
    hex_rdn,
    rdn_value,
    split_rdn,
    unescape_value,
    value_filter,
    values,
)
from adminkit.accounts.ldaperrors import result_error
from adminkit.core.config import PolicyConfig
from adminkit.core.errors import (
    ActionFailed,
    AdminkitError,
    ValidationError,
)
from adminkit.core.secrets import Secret, redact

UF_ACCOUNTDISABLE = 0x2
UF_LOCKOUT = 0x10  # in msDS-User-Account-Control-Computed (the stored UAC does not keep it)
UF_NORMAL_ACCOUNT = 0x200
UF_DONT_EXPIRE_PASSWD = 0x10000
IN_CHAIN = "1.2.840.113556.1.4.1941"  # LDAP_MATCHING_RULE_IN_CHAIN: nested membership
BIT_AND = "1.2.840.113556.1.4.803"  # LDAP_MATCHING_RULE_BIT_AND
NEVER = 0x7FFFFFFFFFFFFFFF  # accountExpires "never" (0 means never too)
DAY = 864_000_000_000  # one day in 100-ns units
EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
SAM_FORBIDDEN = frozenset('"/\\[]:;|=,+*?<>@')
SAM_MAX = 20  # Windows refuses more; Samba takes 21 and beyond
_NOT_IN_SCHEMA = re.compile(r"attribute '([^']{1,80})' .*not found in the schema")
REPORT_DAYS: dict[str, int] = {"inactive": 90, "password-expiring": 14}

USER_ATTRS = (
    "sAMAccountName", "userPrincipalName", "cn", "givenName", "sn", "displayName", "mail",
    "description", "userAccountControl", "msDS-User-Account-Control-Computed", "lockoutTime",
    "accountExpires", "lastLogonTimestamp", "pwdLastSet", "memberOf", "whenCreated",
)
GROUP_ATTRS = ("cn", "sAMAccountName", "member", "description", "objectClass")
DOMAIN_ATTRS = ("minPwdLength", "pwdProperties", "pwdHistoryLength", "maxPwdAge",
                "lockoutThreshold", "lockoutDuration", "objectSid")


def check_login(login: str) -> None:
    """What Windows refuses in a sAMAccountName (Samba accepts some of it, or answers
    with the generic 0000202F that also means "UPN taken")."""
    bad = sorted({ch for ch in login if ch in SAM_FORBIDDEN or ord(ch) < 32})
    if bad:
        shown = " ".join(repr(ch) for ch in bad)
        raise ValidationError(f"login {login!r}: AD does not allow {shown} in a logon name")
    if len(login) > SAM_MAX:
        raise ValidationError(f"login {login!r} is longer than AD's {SAM_MAX} characters")
    if not login.strip(" ") or login.endswith("."):
        raise ValidationError(f"login {login!r}: AD does not allow it to be blank or "
                              "to end with a dot")


def unicode_pwd(password: str) -> bytes:
    """AD takes a password only as the quoted string in UTF-16-LE."""
    return f'"{password}"'.encode("utf-16-le")


def to_filetime(moment: datetime) -> int:
    """100-ns intervals since 1601-01-01 UTC; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


def from_filetime(value: Any) -> datetime | None:
    """A FILETIME attribute as an aware UTC datetime; 0, "never" and junk give None."""
    try:
        ticks = int(value)
    except (TypeError, ValueError):
        return None
    if ticks <= 0 or ticks >= NEVER:
        return None
    try:
        return EPOCH + timedelta(microseconds=ticks // 10)
    except OverflowError:
        return None


def interval(value: Any) -> int | None:
    """A negative 100-ns domain interval (maxPwdAge, lockoutDuration) as positive ticks.

    None for "never" (0 or the most negative 64-bit value) and for a missing value.
    """
    try:
        ticks = int(value)
    except (TypeError, ValueError):
        return None
    if ticks == 0 or ticks <= -NEVER:
        return None
    return abs(ticks)


def generalized_time(moment: datetime) -> str:
    """whenCreated-style `YYYYMMDDHHMMSS.0Z` for a filter."""
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S.0Z")


def sid_bytes_with_rid(domain_sid: bytes, rid: int) -> bytes:
    """The binary SID of `rid` in the domain whose binary SID is `domain_sid`."""
    count = domain_sid[1]
    return (domain_sid[:1] + bytes([count + 1]) + domain_sid[2:8 + 4 * count]
            + rid.to_bytes(4, "little"))


# The groups AdminSDHolder guards (Microsoft's "protected accounts and groups"): Windows
# marks their members adminCount=1 (SDProp); Samba has no SDProp, so they are protected
# here by SID whatever the profile lists: an Account or Backup Operator can make himself
# a domain administrator.
BUILTIN_PROTECTED_RIDS = (544, 548, 549, 550, 551, 552)  # S-1-5-32-RID: Administrators,
# Account, Server, Print and Backup Operators, Replicator
DOMAIN_PROTECTED_RIDS = (512, 516, 518, 519, 521, 526, 527)  # Domain Admins, Domain
# Controllers, Schema and Enterprise Admins, Read-only DCs, Key and Enterprise Key Admins
BUILTIN_SID = b"\x01\x02" + (5).to_bytes(6, "big") + (32).to_bytes(4, "little")


def escape_bytes(raw: bytes) -> str:
    """Every byte as `\\hh`: the safe way to put a binary value (a SID) into a filter."""
    return "".join(f"\\{b:02x}" for b in raw)


def as_bytes(value: Any) -> bytes:
    """A binary attribute (objectSid): ldap3 without a schema hands over a str whenever the
    bytes happen to be valid UTF-8, so encode it back."""
    if isinstance(value, bytes):
        return value
    return value.encode("utf-8") if isinstance(value, str) else b""


def rid_of(sid: bytes) -> int | None:
    return int.from_bytes(sid[-4:], "little") if len(sid) >= 12 else None


def norm_dn(dn: str) -> str:
    """Case- and spacing-insensitive form of a DN, for comparing DNs from people and servers."""
    parts = []
    rest = dn.strip()
    while rest:
        rdn, rest = split_rdn(rest)
        attr, _, value = rdn.partition("=")
        parts.append(f"{attr.strip().lower()}={unescape_value(value.strip()).lower()}")
        rest = rest.strip()
    return ",".join(parts)


# AcceptSecurityContext "data NNN" codes of a failed AD bind
BIND_CODES = {
    "52e": "wrong password, or no such user",
    "525": "no such user",
    "530": "logon not permitted at this time",
    "531": "logon not permitted from this workstation",
    "532": "password expired",
    "533": "account disabled",
    "701": "account expired",
    "773": "password must be changed before first logon",
    "775": "account locked out",
}
# the extended error (WERROR) that starts AD's diagnostic message on a failed write
WRITE_CODES = {
    "0000052D": "the password does not meet the domain's policy (length, complexity or history)",
    "00002071": "that sAMAccountName is already taken",
    "0000202F": "the directory refused a value (invalid characters, or the "
                "userPrincipalName is taken)",
    "0000200D": "an attribute given several values takes only one",
    "00002095": "the target OU does not exist",
    "00002035": "the server refused the password encoding",
}
_DATA = re.compile(r"data ([0-9a-f]{3,4})", re.IGNORECASE)
_WERROR = re.compile(r"\b(0000[0-9A-F]{4})\b")


def bind_reason(result: dict[str, Any]) -> str | None:
    """The `data NNN` of AD's "AcceptSecurityContext error" in words."""
    match = _DATA.search(str(result.get("message") or ""))
    return BIND_CODES.get(match.group(1).lower()) if match else None


def write_detail(result: dict[str, Any]) -> str | None:
    """What AD's diagnostic message says beyond the LDAP code."""
    message = str(result.get("message") or "")
    werror = _WERROR.search(message)
    if werror and werror.group(1) in WRITE_CODES:
        return WRITE_CODES[werror.group(1)]
    if "check_password_restrictions" in message:
        return "the password does not meet the domain's policy"
    return None


def ad_error(result: dict[str, Any], what: str) -> AdminkitError:
    """`result_error`, plus the AD answers whose LDAP code alone misleads: 20 for a second
    value of a single-valued attribute, 16 for an attribute the schema lacks, and the
    missing parent (32 on add, 80 `other` on a Samba rename)."""
    message = str(result.get("message") or "")
    if "SINGLE-VALUE" in message or "0000200D" in message:
        return ValidationError(f"{what}: an attribute given more than one value takes only one")
    unknown = _NOT_IN_SCHEMA.search(message)
    if unknown:
        return ValidationError(f"{what}: the directory has no attribute {unknown.group(1)!r}",
                               hint="check the spelling (LDAP names, e.g. telephoneNumber)")
    if "parent does not exist" in message:
        return ActionFailed(f"{what}: no such entry (the OU or container does not exist)",
                            hint="check the OU's DN")
    return result_error(result, what, detail=write_detail(result))


@dataclass(frozen=True)
class _Domain:
    """What the domain object says, read once per connection."""

    dn: str
    sid: bytes
    policy: PasswordPolicy
    max_pwd_age: int | None  # ticks; None: passwords never expire
    lockout_duration: int | None  # ticks; None: locked until an administrator unlocks


class ActiveDirectory(LdapDirectory):
    kind = "ad"
    login_attr = "sAMAccountName"
    user_filter = "(&(objectCategory=person)(objectClass=user))"
    group_filter = "(objectClass=group)"
    user_attrs = USER_ATTRS

    _domain_cache: _Domain | None = None
    _primary_groups: dict[int, str | None] | None = None
    _held_groups: dict[str, str] | None = None

    def forget_cached(self) -> None:
        super().forget_cached()
        self._domain_cache, self._primary_groups, self._held_groups = None, None, None

    # -- AD's answers and its two writes that differ ---------------------------------------
    def _bind_reason(self, result: dict[str, Any]) -> str | None:
        return bind_reason(result)

    def _error(self, result: dict[str, Any], what: str) -> AdminkitError:
        return ad_error(result, what)

    def move(self, user: UserEntry, new_parent: str) -> str:
        """Keep the RDN, change the parent. Samba answers a missing target with 80 `other`
        (00002095 "parent does not exist"), Windows with 32: both say so plainly here."""
        rdn = hex_rdn(split_rdn(user.dn)[0])
        what = f"move {user.login} to {new_parent}"
        result = self.link.modify_dn(what, user.dn, rdn, new_parent)
        tagged = f"({user.login})"
        name = user.display_name or user.login
        if result.get("result") == 68 and not name.endswith(tagged):
            # a namesake holds the CN there (the quarantine OU, say): as on create
            rdn = f"CN={rdn_value(f'{name} {tagged}')}"
            result = self.link.modify_dn(what, user.dn, rdn, new_parent)
        if result.get("result") != 0:
            raise ad_error(result, what)
        return self.stored_dn(f"{rdn},{new_parent}")

    def delete(self, user: UserEntry) -> None:
        """A plain delete; an account with child objects (mobile devices) is refused by AD."""
        what = f"delete {user.login}"
        result = self.link.delete(what, user.dn)
        if result.get("result") == 66:  # notAllowedOnNonLeaf
            raise ActionFailed(f"{what}: the account has child objects "
                               "(e.g. ActiveSync devices)",
                               hint="remove them first, or have an administrator do a tree delete")
        if result.get("result") != 0:
            raise ad_error(result, what)

    # -- the domain ---------------------------------------------------------------------
    def _domain(self) -> _Domain:
        """The domain object's policy and SID, cached: they change rarely, reports need them
        on every entry."""
        if self._domain_cache is not None:
            return self._domain_cache
        dn: str | None = None
        _, found = self.link.search("read the directory's root DSE", "", "(objectClass=*)",
                                    "BASE", ["defaultNamingContext"])
        for entry in found:
            if entry.get("type") == "searchResEntry":
                dn = first(entry["attributes"], "defaultNamingContext")
        if not dn:  # fall back to the DC= part of the base DN
            rest, dcs = self.config.base_dn, []
            while rest:
                rdn, rest = split_rdn(rest)
                if rdn.strip().lower().startswith("dc="):
                    dcs.append(rdn.strip())
            dn = ",".join(dcs)
        attrs = self.read(dn, DOMAIN_ATTRS)
        if attrs is None:
            raise ActionFailed(f"cannot read the domain object {dn}",
                               hint="the service account needs read access to the domain root")

        def num(name: str, default: int = 0) -> int:
            try:
                return int(first(attrs, name))
            except (TypeError, ValueError):
                return default

        max_age = interval(first(attrs, "maxPwdAge"))
        threshold = num("lockoutThreshold")
        policy = PasswordPolicy(
            min_length=num("minPwdLength"), complexity=bool(num("pwdProperties") & 1),
            history=num("pwdHistoryLength"),
            max_age_days=max_age // DAY if max_age else None,
            lockout_threshold=threshold or None)
        self._domain_cache = _Domain(dn=dn, sid=as_bytes(first(attrs, "objectSid")),
                                     policy=policy, max_pwd_age=max_age,
                                     lockout_duration=interval(first(attrs, "lockoutDuration")))
        return self._domain_cache

    def password_policy(self) -> PasswordPolicy:
        return self._domain().policy

    # -- reading users ------------------------------------------------------------------
    def _user(self, attrs: dict[str, Any]) -> UserEntry:
        uac = int(first(attrs, "userAccountControl") or 0)
        computed = first(attrs, "msDS-User-Account-Control-Computed")
        if computed is not None:
            locked = bool(int(computed) & UF_LOCKOUT)
        else:
            locked = self._locked_by_time(first(attrs, "lockoutTime"))
        pwd_last_set = int(first(attrs, "pwdLastSet") or 0)
        return UserEntry(
            dn=attrs["dn"], login=first(attrs, "sAMAccountName"),
            given_name=first(attrs, "givenName"), surname=first(attrs, "sn"),
            display_name=first(attrs, "displayName"), mail=first(attrs, "mail"),
            enabled=not uac & UF_ACCOUNTDISABLE, locked=locked,
            expires=from_filetime(first(attrs, "accountExpires")),
            last_logon=from_filetime(first(attrs, "lastLogonTimestamp")),
            password_changed=from_filetime(pwd_last_set),
            # AD ignores "must change" while "password never expires" is set
            must_change=pwd_last_set == 0 and not uac & UF_DONT_EXPIRE_PASSWD,
            groups=tuple(values(attrs, "memberOf")),
            description=first(attrs, "description"),
            attributes={"userAccountControl": uac,
                        "userPrincipalName": first(attrs, "userPrincipalName"),
                        "cn": first(attrs, "cn"), "whenCreated": first(attrs, "whenCreated"),
                        "passwordNeverExpires": bool(uac & UF_DONT_EXPIRE_PASSWD)})

    def _locked_by_time(self, lockout_time: Any) -> bool:
        """lockoutTime stays set after the lockout duration ran out: compare with the policy."""
        locked_at = int(lockout_time or 0)
        if locked_at <= 0:
            return False
        duration = self._domain().lockout_duration
        if duration is None:
            return True
        return locked_at + duration > to_filetime(datetime.now(UTC))

    def get_user(self, dn: str) -> UserEntry | None:
        """Only a user: a DN that names a group or an OU gives None."""
        found = list(self.entries(dn, self.user_filter, self.user_attrs, scope="BASE"))
        return self._user(found[0]) if found else None

    def login_taken(self, login: str) -> bool:
        """sAMAccountName is unique in the whole domain (users, groups, computers), and the
        UPN a new account would get must be free too."""
        flt = value_filter("sAMAccountName", login, False)
        if self.config.upn_suffix:
            upn = value_filter("userPrincipalName", f"{login}@{self.config.upn_suffix}", False)
            flt = f"(|{flt}{upn})"
        return bool(list(self.entries(self._domain().dn, flt, ["1.1"], limit=1)))

    def _login_matches(self) -> tuple[tuple[str, str], ...]:
        upn = self.config.upn_suffix
        return (("sAMAccountName", ""), *((("userPrincipalName", f"@{upn}"),) if upn else ()))

    def _logins_held(self, attrs: dict[str, Any]) -> set[str]:
        held = {str(first(attrs, "sAMAccountName") or "").casefold()}
        upn = str(first(attrs, "userPrincipalName") or "").casefold()
        suffix = f"@{self.config.upn_suffix}".casefold() if self.config.upn_suffix else None
        if suffix and upn.endswith(suffix):
            held.add(upn.removesuffix(suffix))
        return held

    def _is_user(self, attrs: dict[str, Any]) -> bool:
        """(&(objectCategory=person)(objectClass=user)): users, not computers or contacts."""
        classes = {str(c).casefold() for c in values(attrs, "objectClass")}
        return "user" in classes and "computer" not in classes

    def _taken_base(self) -> str:
        return self._domain().dn

    # -- groups -------------------------------------------------------------------------
    def _group(self, attrs: dict[str, Any]) -> GroupEntry:
        return GroupEntry(dn=attrs["dn"],
                          name=first(attrs, "cn") or first(attrs, "sAMAccountName") or attrs["dn"],
                          members=tuple(values(attrs, "member")),
                          description=first(attrs, "description"))

    def find_group(self, name: str) -> GroupEntry | None:
        """By DN, or by cn / sAMAccountName anywhere in the domain: Domain Admins lives in
        CN=Users and Administrators in CN=Builtin, not in the profile's groups OU."""
        if (dn := as_dn(name, self._domain().dn)) is not None:
            found = list(self.entries(dn, self.group_filter, GROUP_ATTRS, scope="BASE"))
            return self._group(found[0]) if found else None
        match = f"(|{value_filter('cn', name, False)}" \
                f"{value_filter('sAMAccountName', name, False)})"
        found = list(self.entries(self._domain().dn, f"(&{self.group_filter}{match})",
                                  GROUP_ATTRS, limit=10))
        if len(found) > 1 and self.config.groups_ou:
            suffix = "," + norm_dn(self.config.groups_ou)
            preferred = [g for g in found if norm_dn(g["dn"]).endswith(suffix)]
            found = preferred if len(preferred) == 1 else found
        if len(found) > 1:
            raise ValidationError(f"more than one group is named {name!r}; give its DN")
        return self._group(found[0]) if found else None

    def user_groups(self, user: UserEntry, *, nested: bool = False) -> list[GroupEntry]:
        """Groups the user is in (read fresh), through nesting if asked. The primary group
        (Domain Users) is left out: it is not a `member` value and cannot be left."""
        from ldap3.utils.conv import escape_filter_chars

        rule = f":{IN_CHAIN}:" if nested else ""
        flt = f"(&{self.group_filter}(member{rule}={escape_filter_chars(user.dn)}))"
        return [self._group(a) for a in self.entries(self._domain().dn, flt, GROUP_ATTRS)]

    def group_members(self, group: GroupEntry, *, nested: bool = False) -> list[UserEntry]:
        """Users in the group (paged), through nested groups if asked; users whose primary
        group it is are included too, since AD lists them in no `member` value."""
        from ldap3.utils.conv import escape_filter_chars

        rule = f":{IN_CHAIN}:" if nested else ""
        flt = f"(memberOf{rule}={escape_filter_chars(group.dn)})"
        rid = self._group_rid(group.dn)
        if rid is not None:
            flt = f"(|{flt}(primaryGroupID={rid}))"
        return self._users(flt, base=self._domain().dn)

    def _group_rid(self, dn: str) -> int | None:
        attrs = self.read(dn, ["objectSid"])
        return rid_of(as_bytes(first(attrs or {}, "objectSid")))

    # -- policy -------------------------------------------------------------------------
    def protected_reason(self, user: UserEntry, policy: PolicyConfig) -> str | None:
        """Checked against the server's current state, not the (maybe stale) entry: named
        accounts, adminCount / critical system objects, and membership of a protected group,
        nested or through the primary group. Samba has no SDProp, so adminCount alone lies."""
        from ldap3.utils.conv import escape_filter_chars

        attrs = self.read(user.dn, ["sAMAccountName", "userPrincipalName", "adminCount",
                                    "isCriticalSystemObject", "primaryGroupID"])
        if attrs is None:
            raise ValidationError(f"{user.login}: no entry at {user.dn} (moved or deleted?)")
        names = {(first(attrs, "sAMAccountName") or user.login).lower(), user.login.lower()}
        upn = first(attrs, "userPrincipalName")
        if upn:
            names.add(str(upn).lower())
        dn = norm_dn(attrs["dn"])
        for listed in policy.protected_accounts:
            if "=" in listed:
                if norm_dn(listed) == dn:
                    return f"listed in the profile's protected accounts ({listed})"
                continue
            # `SAMDOM\\svc-backup` (the down-level logon name) and ` svc-backup ` mean it too
            spelled = listed.strip().lower()
            if spelled in names or spelled.rpartition("\\")[2] in names:
                return f"listed in the profile's protected accounts ({listed})"
        if str(first(attrs, "adminCount") or "0") == "1":
            return "adminCount=1 (a member, now or once, of an administrative group)"
        if str(first(attrs, "isCriticalSystemObject") or "").upper() == "TRUE":
            return "a critical system object (built-in account)"
        protected = self._protected_groups(policy)
        if not protected:
            return None
        chain = "".join(f"(memberOf:{IN_CHAIN}:={escape_filter_chars(g)})"
                        for g in protected.values())
        if list(self.entries(attrs["dn"], f"(|{chain})", ["1.1"], scope="BASE")):
            for name, group_dn in protected.items():
                flt = f"(memberOf:{IN_CHAIN}:={escape_filter_chars(group_dn)})"
                if list(self.entries(attrs["dn"], flt, ["1.1"], scope="BASE")):
                    return f"member of {name} (directly or through a nested group)"
            return "member of a protected group"
        return self._primary_group_reason(first(attrs, "primaryGroupID"), protected)

    def _protected_groups(self, policy: PolicyConfig) -> dict[str, str]:
        """The profile's protected groups, and those AdminSDHolder guards (found by SID
        once a connection: names and places differ by language and by domain)."""
        listed = super()._protected_groups(policy)
        if self._held_groups is None:
            sids = [BUILTIN_SID + rid.to_bytes(4, "little") for rid in BUILTIN_PROTECTED_RIDS]
            domain = self._domain()
            if domain.sid:
                sids += [sid_bytes_with_rid(domain.sid, rid) for rid in DOMAIN_PROTECTED_RIDS]
            flt = "(|" + "".join(f"(objectSid={escape_bytes(sid)})" for sid in sids) + ")"
            self._held_groups = {str(first(e, "cn") or e["dn"]): e["dn"]
                                 for e in self.entries(domain.dn, flt, ["cn"])}
        known = {norm_dn(dn) for dn in listed.values()}
        return {**listed, **{name: dn for name, dn in self._held_groups.items()
                             if norm_dn(dn) not in known}}

    def _primary_group_reason(self, primary_id: Any, protected: dict[str, str]) -> str | None:
        """A primary group appears in no member/memberOf value, so it needs its own check."""
        from ldap3.utils.conv import escape_filter_chars

        try:
            rid = int(primary_id)
        except (TypeError, ValueError):
            return None
        if self._primary_groups is None:
            self._primary_groups = {}
        if rid not in self._primary_groups:
            sid = self._domain().sid
            group_dn = None
            if sid:
                flt = f"(objectSid={escape_bytes(sid_bytes_with_rid(sid, rid))})"
                found = list(self.entries(self._domain().dn, flt, ["1.1"], limit=1))
                group_dn = found[0]["dn"] if found else None
            self._primary_groups[rid] = group_dn
        group_dn = self._primary_groups[rid]
        if group_dn is None:
            return None
        for name, dn in protected.items():
            if norm_dn(dn) == norm_dn(group_dn):
                return f"{name} is its primary group"
        chain = "".join(f"(memberOf:{IN_CHAIN}:={escape_filter_chars(g)})"
                        for g in protected.values())
        if list(self.entries(group_dn, f"(|{chain})", ["1.1"], scope="BASE")):
            return f"its primary group {group_dn} is nested in a protected group"
        return None

    # -- reports ------------------------------------------------------------------------
    def report(self, kind: ReportKind, *, days: int | None = None) -> list[UserEntry]:
        """Server-side filters (paged), so a report of a large domain is one search."""
        if days is not None and days < 0:
            raise ValidationError(f"report {kind}: days must be 0 or more, not {days}")
        days = REPORT_DAYS.get(kind, 0) if days is None else days
        now = to_filetime(datetime.now(UTC))
        bit = f"userAccountControl:{BIT_AND}:="
        domain = self._domain()
        if kind == "disabled":
            return self._users(f"({bit}{UF_ACCOUNTDISABLE})")
        if kind == "locked":
            duration = domain.lockout_duration
            since = 1 if duration is None else max(1, now - duration)
            return [u for u in self._users(f"(lockoutTime>={since})") if u.locked]
        if kind == "inactive":
            cut = now - days * DAY
            created = generalized_time(datetime.now(UTC) - timedelta(days=days))
            return self._users(f"(|(&(lastLogonTimestamp>=1)(lastLogonTimestamp<={cut}))"
                               f"(&(!(lastLogonTimestamp>=1))(whenCreated<={created})))")
        if kind == "never-logged-in":
            flt = "(!(lastLogonTimestamp>=1))"
            if days:
                created = generalized_time(datetime.now(UTC) - timedelta(days=days))
                flt = f"(&{flt}(whenCreated<={created}))"
            return self._users(flt)
        if kind == "password-expiring":
            if domain.max_pwd_age is None:
                return []  # the domain's passwords never expire
            oldest = now - domain.max_pwd_age  # set before this: already expired
            return self._users(f"(pwdLastSet>={max(1, oldest + 1)})"
                               f"(pwdLastSet<={oldest + days * DAY})"
                               f"(!({bit}{UF_DONT_EXPIRE_PASSWD}))")
        raise ValidationError(f"unknown report {kind!r}",
                              hint="inactive, locked, disabled, password-expiring, "
                                   "never-logged-in")

    # -- writing ------------------------------------------------------------------------
    def create_user(self, user: NewUser) -> str:
        """One add with password and enable flag: Samba hashes once, no extra round trips.
        The DN returned is the one the server reports for the new entry."""
        check_login(user.login)
        dn = f"CN={rdn_value(user.display_name)},{user.ou}"
        uac = UF_NORMAL_ACCOUNT | (0 if user.enabled else UF_ACCOUNTDISABLE)
        suffix = self.config.upn_suffix
        attrs: dict[str, Any] = {
            "sAMAccountName": user.login,
            "givenName": user.given_name,
            "sn": user.surname,
            "displayName": user.display_name,
            "unicodePwd": unicode_pwd(user.password.reveal()),
            "userAccountControl": uac,
            **({"userPrincipalName": f"{user.login}@{suffix}"} if suffix else {}),
            **({"mail": user.mail} if user.mail else {}),
            **({"accountExpires": to_filetime(user.expires)} if user.expires else {}),
            **user.attributes,
        }
        # pwdLastSet=0 ("must change") goes in the same add, after the password value;
        # a later password write would clear it again.
        if user.must_change:
            attrs["pwdLastSet"] = 0
        classes = ["top", "person", "organizationalPerson", "user"]
        what = f"create {user.login} in {user.ou}"
        result = self.link.add(what, dn, classes, attrs)
        if result.get("result") == 68:
            # a namesake holds the CN (two Jan Nováks in one OU): the login, unique
            # in the domain, tells them apart
            dn = f"CN={rdn_value(f'{user.display_name} ({user.login})')},{user.ou}"
            result = self.link.add(what, dn, classes, attrs)
        if result.get("result") != 0:
            error = ad_error(result, what)
            raise self._password_hint(error) if isinstance(error, ValidationError) else error
        return self.stored_dn(dn)

    def _current_uac(self, user: UserEntry) -> int:
        attrs = self.read(user.dn, ["userAccountControl"])
        if attrs is None:
            raise ValidationError(f"{user.login}: no entry at {user.dn} (moved or deleted?)")
        return int(first(attrs, "userAccountControl") or 0)

    def set_enabled(self, user: UserEntry, enabled: bool) -> None:
        """Flip only the disable bit of the value on the server now; every other bit stays."""
        import ldap3

        uac = self._current_uac(user)
        new = uac & ~UF_ACCOUNTDISABLE if enabled else uac | UF_ACCOUNTDISABLE
        if new == uac:
            return
        verb = "enable" if enabled else "disable"
        self.modify(user.dn, {"userAccountControl": [(ldap3.MODIFY_REPLACE, [str(new)])]},
                    f"{verb} {user.login}")

    def unlock(self, user: UserEntry) -> None:
        """lockoutTime=0 is the one write AD accepts for it; it also clears badPwdCount."""
        import ldap3

        self.modify(user.dn, {"lockoutTime": [(ldap3.MODIFY_REPLACE, ["0"])]},
                    f"unlock {user.login}")

    def set_expiry(self, user: UserEntry, expires: datetime | None) -> None:
        import ldap3

        value = to_filetime(expires) if expires else 0
        self.modify(user.dn, {"accountExpires": [(ldap3.MODIFY_REPLACE, [str(value)])]},
                    f"set the expiry of {user.login}")

    def set_password(self, user: UserEntry, password: Secret, *, must_change: bool) -> None:
        """One modify, unicodePwd first and pwdLastSet after it (0: must change, -1: now), so
        the flag is never cleared by the password write and both happen or neither."""
        import ldap3

        if must_change and self._current_uac(user) & UF_DONT_EXPIRE_PASSWD:
            raise ValidationError(
                f"{user.login} has 'password never expires' set, so AD would ignore "
                "'must change at next logon'",
                hint="clear 'password never expires' first, or reset without must-change")
        changes = {"unicodePwd": [(ldap3.MODIFY_REPLACE, [unicode_pwd(password.reveal())])],
                   "pwdLastSet": [(ldap3.MODIFY_REPLACE, ["0" if must_change else "-1"])]}
        try:
            self.modify(user.dn, changes, f"reset the password of {user.login}")
        except ValidationError as exc:
            raise self._password_hint(exc) from None

    def _password_hint(self, exc: ValidationError) -> ValidationError:
        """Name the domain's actual rules next to AD's "does not meet the policy"."""
        if "password" not in exc.message:
            return exc
        said = str(self.link.result.get("message") or "")
        said = said.split("check_password_restrictions:", 1)[1].strip() \
            if "check_password_restrictions:" in said else ""
        try:
            p = self.password_policy()
        except AdminkitError:
            return exc
        rules = [f"at least {p.min_length} characters"]
        if p.complexity:
            rules.append("three of: upper case, lower case, digits, symbols; "
                         "not containing the login or display name")
        if p.history:
            rules.append(f"none of the last {p.history} passwords (own changes only)")
        hint = "the domain requires " + "; ".join(rules)
        if said:
            hint = f"the directory says: {redact(said)[:200]}; {hint}"
        return ValidationError(exc.message, hint=hint)
