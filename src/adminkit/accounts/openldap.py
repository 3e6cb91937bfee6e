"""OpenLDAP (slapd 2.5+): inetOrgPerson + posixAccount users, ppolicy for locks and resets.

How the `Directory` notions map onto slapd (the lab's slapd: docs/lab.md):

- disabled: the administrative lock `pwdAccountLockedTime: 000001010000Z` (ppolicy
  refuses every bind, with no expiry). A lock after failed binds holds a real time.
- locked: a real `pwdAccountLockedTime` still within the policy's `pwdLockoutDuration`
  (0 = until unlocked), or a `pwdAccountTmpLockoutEnd` in the future.
- expires: `pwdEndTime` (ppolicy 2.5 refuses binds after it); `shadowExpire` is read as
  a fallback and kept in step on shadowAccount entries.
- must change: `pwdReset: TRUE`; last logon: `authTimestamp` (slapo-lastbind) or
  `pwdLastSuccess` (ppolicy 2.6), when the server records one (only since it does:
  older logons count as none).
- groups: groupOfNames / groupOfUniqueNames (DNs) and posixGroup (`memberUid`, logins).

ppolicy traps handled here: slapd ignores every lock under a policy without
`pwdLockout: TRUE` (so such a disable is refused); any password change deletes the
administrative lock (so a reset re-applies it); only a DELETE of the failure lock, not
an empty REPLACE, also drops `pwdFailureTime` (so unlock deletes).

Values arrive as lists of strings (get_info=NONE): nothing relies on ldap3's schema.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Sequence
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
    NOT_THERE,
    LdapDirectory,
    as_dn,
    first,
    login_filters,
    rdn_value,
    value_filter,
    values,
)
from adminkit.accounts.ldaperrors import result_error
from adminkit.accounts.settings import DirectoryConfig
from adminkit.core.config import PolicyConfig
from adminkit.core.errors import (
    AdminkitError,
    ConnectionFailed,
    OutcomeUnknown,
    UsageError,
    ValidationError,
)
from adminkit.core.secrets import Secret

log = logging.getLogger("adminkit.accounts")

LOCKED_FOREVER = "000001010000Z"  # ppolicy: the administrative lock, never expires
RELAX = "1.3.6.1.4.1.4203.666.5.12"  # lets a `manage` holder change pwdFailureTime
LAST_BIND_ATTRS = ("authTimestamp", "pwdLastSuccess")  # slapo-lastbind, ppolicy 2.6
UID_BLOCK = 256  # most uidNumbers one connection reserves at once (one CAS each)
USER_CLASS = "inetorgperson"
DN_MEMBER_ATTR = {"groupofnames": "member", "groupofuniquenames": "uniqueMember"}
GROUP_CLASSES = {*DN_MEMBER_ATTR, "posixgroup"}  # posixGroup: logins in `memberUid`
POLICY_ATTRS = ["pwdMinLength", "pwdCheckQuality", "pwdInHistory", "pwdMaxAge",
                "pwdMaxFailure", "pwdLockout", "pwdLockoutDuration", "pwdCheckModule",
                "pwdUseCheckModule", "pwdMustChange"]
GROUP_ATTRS = ["cn", "member", "uniqueMember", "memberUid", "description", "objectClass",
               "entryUUID"]

# ppolicy's refusals (constraint violation, 19), by the text of its message (2.5/2.6)
PPOLICY_REFUSALS = {
    "not being changed": "the new password is the current one",
    "too young": "the password was changed too recently (pwdMinAge)",
    "too short": "the password is shorter than the policy's minimum",
    "too long": "the password is longer than the policy's maximum",
    "quality": "the password does not meet the directory's password policy",
    "history": "the password was used before (history)",
}

_GENTIME = re.compile(r"^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})?(\d{2})?(?:[.,](\d+))?"
                      r"(Z|[+-]\d{2}(?:\d{2})?)$")


def parse_time(text: str | None) -> datetime | None:
    """An LDAP GeneralizedTime as an aware UTC datetime; None if absent or not a real time."""
    if not text:
        return None
    match = _GENTIME.match(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, frac, zone = match.groups()
    try:
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute or 0),
                          int(second or 0), int((frac or "0")[:6].ljust(6, "0")), tzinfo=UTC)
    except ValueError:  # year 0000: the administrative lock, not a moment
        return None
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5] or 0))
        moment -= sign * offset
    return moment


def format_time(moment: datetime) -> str:
    """GeneralizedTime in UTC; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")


def ppolicy_detail(result: dict[str, Any]) -> str | None:
    """ppolicy says why it refused a password only in its message's text."""
    if result.get("result") != 19:
        return None
    message = str(result.get("message") or "").lower()
    return next((why for text, why in PPOLICY_REFUSALS.items() if text in message), None)


def openldap_error(result: dict[str, Any], what: str) -> AdminkitError:
    """The error for a failed answer from slapd: by its code, and ppolicy's reason."""
    return result_error(result, what, detail=ppolicy_detail(result))


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


class OpenLdapDirectory(LdapDirectory):
    kind = "openldap"
    login_attr = "uid"
    user_filter = "(objectClass=inetOrgPerson)"
    group_filter = ("(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)"
                    "(objectClass=posixGroup))")
    user_attrs: tuple[str, ...] = (
        "uid", "cn", "givenName", "sn", "displayName", "mail", "description", "objectClass",
        "uidNumber", "gidNumber", "homeDirectory", "entryUUID", "createTimestamp", "memberOf",
        "pwdAccountLockedTime", "pwdAccountTmpLockoutEnd", "pwdFailureTime", "pwdReset",
        "pwdChangedTime", "pwdEndTime", "pwdPolicySubentry", "shadowExpire", *LAST_BIND_ATTRS,
    )

    def __init__(self, config: DirectoryConfig, password: Secret) -> None:
        super().__init__(config, password)
        self._policies: dict[str, dict[str, Any]] = {}  # policy DN (lower) -> attributes
        self._default_policy_dn: str | None = None
        self._last_bind: str | None = None
        self._last_bind_known = False
        self._uuids: dict[str, str] = {}  # DN (lower) -> entryUUID
        self._classes: dict[str, set[str]] = {}  # group DN (lower) -> object classes
        self._uid_free: Iterator[int] = iter(())
        self._uid_block = 1
        self._uid_end: int | None = None  # where the counter stands after our last block

    def forget_cached(self) -> None:
        super().forget_cached()
        self._policies.clear()
        self._default_policy_dn = None
        self._last_bind, self._last_bind_known = None, False
        self._uuids.clear()
        self._classes.clear()

    # -- answers ------------------------------------------------------------------------
    def _error(self, result: dict[str, Any], what: str) -> AdminkitError:
        return openldap_error(result, what)

    # -- options ------------------------------------------------------------------------
    @property
    def placeholder(self) -> str:
        """The DN that keeps a groupOfNames valid when its last member leaves (refint_nothing)."""
        return str(self.config.options.get("placeholder_member")
                   or f"cn=nobody,{self.config.base_dn}")

    def _is_placeholder(self, dn: str) -> bool:
        return dn.replace(" ", "").lower() == self.placeholder.replace(" ", "").lower()

    # -- reading users ------------------------------------------------------------------
    def _user(self, attrs: dict[str, Any]) -> UserEntry:
        lock = first(attrs, "pwdAccountLockedTime")
        now = datetime.now(UTC)
        locked = False
        if lock and lock != LOCKED_FOREVER:
            since = parse_time(lock)
            duration = self._lockout_duration(first(attrs, "pwdPolicySubentry"))
            # ppolicy: a stamp in the future is not in effect yet; 0 lasts until unlocked
            locked = since is None or (since <= now and (
                duration == 0 or now < since + timedelta(seconds=duration)))
        tmp_end = parse_time(first(attrs, "pwdAccountTmpLockoutEnd"))
        locked = locked or (tmp_end is not None and now < tmp_end)
        expires = parse_time(first(attrs, "pwdEndTime"))
        shadow = _int(first(attrs, "shadowExpire"), -1)
        if expires is None and shadow >= 0:
            expires = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=shadow)
        last = next((t for a in LAST_BIND_ATTRS if (t := parse_time(first(attrs, a)))), None)
        return UserEntry(
            dn=attrs["dn"], login=first(attrs, "uid") or "",
            given_name=first(attrs, "givenName"), surname=first(attrs, "sn"),
            display_name=first(attrs, "displayName") or first(attrs, "cn"),
            mail=first(attrs, "mail"),
            enabled=lock != LOCKED_FOREVER, locked=locked, expires=expires, last_logon=last,
            password_changed=parse_time(first(attrs, "pwdChangedTime")),
            must_change=str(first(attrs, "pwdReset") or "").upper() == "TRUE",
            groups=tuple(values(attrs, "memberOf")),
            description=first(attrs, "description"),
            attributes={"uidNumber": first(attrs, "uidNumber"),
                        "gidNumber": first(attrs, "gidNumber"),
                        "homeDirectory": first(attrs, "homeDirectory"),
                        "entryUUID": first(attrs, "entryUUID"),
                        "objectClass": values(attrs, "objectClass"),
                        "pwdPolicySubentry": first(attrs, "pwdPolicySubentry"),
                        "failed_binds": len(values(attrs, "pwdFailureTime")),
                        "created": parse_time(first(attrs, "createTimestamp"))},
        )

    def _fresh(self, user: UserEntry, attrs: list[str]) -> dict[str, Any]:
        found = self.read(user.dn, attrs)
        if found is None:
            raise self._error({"result": 32}, f"read {user.login}")
        return found

    def _uuid(self, dn: str) -> str | None:
        """The entry's entryUUID (cached when found), the way to compare entries."""
        key = dn.lower()
        if key not in self._uuids:
            attrs = self.read(dn, ["entryUUID"])
            if not attrs or not first(attrs, "entryUUID"):
                return None
            self._uuids[key] = str(first(attrs, "entryUUID"))
        return self._uuids[key]

    # -- password policy ----------------------------------------------------------------
    def _policy_entries(self) -> list[dict[str, Any]]:
        return list(self.entries(self.config.base_dn, "(objectClass=pwdPolicy)",
                                 ["cn", *POLICY_ATTRS]))

    def default_policy_dn(self) -> str:
        """`options.ppolicy_default`, else the only pwdPolicy entry, else the one named default.

        slapd's `ppolicy_default` lives in its config, which a service account cannot read.
        """
        if self._default_policy_dn:
            return self._default_policy_dn
        configured = self.config.options.get("ppolicy_default")
        if configured:
            self._default_policy_dn = str(configured)
            return self._default_policy_dn
        found = self._policy_entries()
        for entry in found:
            self._policies[entry["dn"].lower()] = entry
        chosen = (found if len(found) == 1 else
                  [e for e in found if str(first(e, "cn") or "").lower() == "default"])
        if len(chosen) != 1:
            raise UsageError(
                f"cannot tell which of {len(found)} password policies under "
                f"{self.config.base_dn} is slapd's default",
                hint="set directory.options.ppolicy_default to the DN in slapd's "
                     "`ppolicy_default` (olcPPolicyDefault)")
        self._default_policy_dn = str(chosen[0]["dn"])
        return self._default_policy_dn

    def _policy(self, dn: str | None = None) -> dict[str, Any]:
        """A policy entry's attributes (cached); {} if it cannot be read."""
        dn = dn or self.default_policy_dn()
        key = dn.lower()
        if key not in self._policies:
            self._policies[key] = self.read(dn, POLICY_ATTRS) or {}
        return self._policies[key]

    def _lockout_enforced(self, subentry: str | None) -> bool | None:
        """Whether the policy has pwdLockout TRUE (None: unknown). Without it slapd
        ignores pwdAccountLockedTime, the administrative lock included."""
        try:
            attrs = self._policy(subentry)
        except UsageError:
            return None
        return str(first(attrs, "pwdLockout") or "").upper() == "TRUE" if attrs else None

    def _require_lockout(self, login: str, subentry: str | None) -> None:
        """Refuse a disable that slapd would silently ignore."""
        if self._lockout_enforced(subentry) is False:
            raise UsageError(
                f"cannot disable {login}: its password policy "
                f"({subentry or self.default_policy_dn()}) lacks pwdLockout: TRUE, so slapd "
                "would ignore the lock", hint="set pwdLockout: TRUE in that policy entry")

    def _lockout_duration(self, subentry: str | None) -> int:
        """Seconds a failure lock lasts (0: until unlocked); 0 when the policy is unknown."""
        try:
            return _int(first(self._policy(subentry), "pwdLockoutDuration"))
        except UsageError:
            return 0

    def password_policy(self) -> PasswordPolicy:
        attrs = self._policy()
        quality = _int(first(attrs, "pwdCheckQuality"))
        max_age = _int(first(attrs, "pwdMaxAge"))
        lockout = str(first(attrs, "pwdLockout") or "").upper() == "TRUE"
        return PasswordPolicy(
            # ppolicy enforces pwdMinLength only when it checks quality at all
            min_length=_int(first(attrs, "pwdMinLength")) if quality else 0,
            # beyond the length, quality means a checker module (pwdUseCheckModule in 2.6)
            complexity=bool(first(attrs, "pwdCheckModule"))
            or str(first(attrs, "pwdUseCheckModule") or "").upper() == "TRUE",
            history=_int(first(attrs, "pwdInHistory")),
            max_age_days=-(-max_age // 86400) if max_age else None,  # whole days, up
            lockout_threshold=(_int(first(attrs, "pwdMaxFailure")) or None) if lockout else None,
        )

    # -- last bind ----------------------------------------------------------------------
    def last_bind_attr(self) -> str | None:
        """Which attribute records successful binds here, or None.

        `options.last_bind_attr` decides if set ("none" disables); otherwise the service
        account's own entry tells: it has just bound, so a recording server stamped it.
        """
        if self._last_bind_known:
            return self._last_bind
        option = self.config.options.get("last_bind_attr")
        if option:
            self._last_bind = None if str(option).lower() == "none" else str(option)
        else:
            attrs = self.read(self.config.bind_user, list(LAST_BIND_ATTRS)) or {}
            self._last_bind = next((a for a in LAST_BIND_ATTRS if first(attrs, a)), None)
        self._last_bind_known = True
        return self._last_bind

    # -- reports ------------------------------------------------------------------------
    def report(self, kind: ReportKind, *, days: int | None = None) -> list[UserEntry]:
        now = datetime.now(UTC)
        if kind == "disabled":
            return self._users(f"(pwdAccountLockedTime={LOCKED_FOREVER})")
        if kind == "locked":
            found = self._users("(|(pwdAccountLockedTime=*)(pwdAccountTmpLockoutEnd=*))")
            return [u for u in found if u.locked]
        if kind in ("inactive", "never-logged-in"):
            attr = self.last_bind_attr()
            if attr is None:
                raise UsageError(
                    f"report {kind}: this directory records no last-bind time",
                    hint="enable slapo-lastbind (authTimestamp) on the database, or "
                         "set directory.options.last_bind_attr")
            if kind == "never-logged-in":
                return self._users(f"(!({attr}=*))")
            # inactive: logged on, but not since the cutoff (never-logged-in is its own)
            cutoff = format_time(now - timedelta(days=90 if days is None else days))
            return self._users(f"({attr}<={cutoff})")
        if kind == "password-expiring":
            return self._password_expiring(now, 14 if days is None else days)
        raise UsageError(f"unknown report {kind!r}")

    def _password_expiring(self, now: datetime, days: int) -> list[UserEntry]:
        """Passwords whose policy's pwdMaxAge ends them within `days` (not already expired).

        Without pwdChangedTime (slapd 2.5.13 stamps it on a password change, not on the
        add under the lab's policy) a password has no age to expire by: not listed.
        """
        ages = {e["dn"].lower(): _int(first(e, "pwdMaxAge")) for e in self._policy_entries()}
        default = _int(first(self._policy(), "pwdMaxAge"))
        if not default and not any(ages.values()):
            raise UsageError("report password-expiring: no password policy sets pwdMaxAge, "
                             "so passwords here never expire")
        horizon = now + timedelta(days=days)
        due = []
        for user in self._users("(pwdChangedTime=*)"):
            sub = user.attributes.get("pwdPolicySubentry")
            max_age = ages.get(sub.lower(), 0) if sub else default
            if max_age and user.password_changed:
                ends = user.password_changed + timedelta(seconds=max_age)
                if now < ends <= horizon:
                    due.append(user)
        return due

    def _is_user(self, attrs: dict[str, Any]) -> bool:
        return USER_CLASS in {str(c).casefold() for c in values(attrs, "objectClass")}

    # -- creating -----------------------------------------------------------------------
    def next_uid_number(self) -> int:
        """The next number of this connection's block, reserving a new block when it runs out.

        Blocks grow 1, 2, 4 ... UID_BLOCK: a single create takes one number, a bulk import
        one compare-and-swap per block. What a block has left when the run ends is not
        used (a gap in the numbers, never a number given twice).
        """
        number = next(self._uid_free, None)
        if number is None:
            start = self._reserve_uid_numbers(self._uid_block)
            self._uid_free = iter(range(start + 1, start + self._uid_block))
            self._uid_end = start + self._uid_block
            self._uid_block = min(self._uid_block * 2, UID_BLOCK)
            number = start
        return number

    def close(self) -> None:
        self._give_back_uid_numbers()
        super().close()

    def _give_back_uid_numbers(self) -> None:
        """What the last block has left goes back to the counter if nobody reserved
        since (compare-and-swap: the counter still stands at the block's end), so that a
        small import's block is not a gap of up to UID_BLOCK - 1 numbers every run (a
        site's uid range is often bounded). Only on a live connection: closing one that
        broke never waits for a reconnect; anything else leaves the gap."""
        import ldap3

        first, end = next(self._uid_free, None), self._uid_end
        self._uid_free, self._uid_end = iter(()), None
        counter = self.config.options.get("uid_counter_dn")
        if first is None or end is None or not counter or not self.link.open_and_idle():
            return
        try:
            self.modify(str(counter), {"uidNumber": [(ldap3.MODIFY_DELETE, [str(end)]),
                                                     (ldap3.MODIFY_ADD, [str(first)])]},
                        "give unused uidNumbers back", tolerate=(16,))
        except AdminkitError as exc:  # the numbers stay a gap: never given twice
            log.info("uidNumbers %d-%d stay unused: %s", first, end - 1, exc.message)

    def _size_uid_block(self, batch: int) -> None:
        """The next block for a batch of `batch` creates: one alone takes one number; a
        bulk unit's block holds four such units (a compare-and-swap is two ldap3
        round trips, each ~1 ms of the client's CPU), at most UID_BLOCK."""
        wanted = batch if batch < 2 else 4 * batch
        self._uid_block = max(self._uid_block, min(wanted, UID_BLOCK))

    def _reserve_uid_numbers(self, count: int) -> int:
        """Compare-and-swap on a counter entry: two racing creators never share a number."""
        import ldap3

        counter = self.config.options.get("uid_counter_dn")
        if not counter:
            raise UsageError("directory.options.uid_counter_dn is needed for posix accounts")
        while True:
            attrs = self.read(str(counter), ["uidNumber"])
            if attrs is None or first(attrs, "uidNumber") is None:
                raise UsageError(f"the uid counter {counter} is missing or has no uidNumber")
            number = int(first(attrs, "uidNumber"))
            # Delete-by-value fails with 16 if another creator took `number` first: retry.
            if self.modify(str(counter), {"uidNumber": [(ldap3.MODIFY_DELETE, [str(number)]),
                                                        (ldap3.MODIFY_ADD, [str(number + count)])]},
                           "take a uidNumber", tolerate=(16,)):
                return number

    def create_user(self, user: NewUser) -> str:
        """One add: cleartext password (ppolicy checks and hashes it), reset, lock, expiry."""
        dn, classes, attrs = self._new_entry(user)
        self.add(dn, classes, attrs, f"create {user.login}")
        return self.stored_dn(dn)

    def create_users(self, users: Sequence[NewUser]) -> list[str | Exception]:
        """Several accounts, their adds pipelined on one connection (`Link.add_many`):
        each one's DN, or the error that is its outcome, in order."""
        made: list[str | Exception | None] = [None] * len(users)
        adds: list[tuple[str, list[str], dict[str, Any], str]] = []
        self._size_uid_block(len(users))
        at: list[int] = []
        for k, user in enumerate(users):
            try:
                dn, classes, attrs = self._new_entry(user)
            except OutcomeUnknown as exc:  # a step before the add (its uidNumber): the
                # add was never sent, so the account was not made and its password not set
                made[k] = ConnectionFailed(f"create {user.login}: not sent, the account was "
                                           f"not made (before it: {exc.message})",
                                           hint=exc.hint)
                continue
            except Exception as exc:  # noqa: BLE001 - this account's outcome
                made[k] = exc
                continue
            adds.append((dn, classes, attrs, f"create {user.login}"))
            at.append(k)
        for k, add, error in zip(at, adds, self.add_many(adds), strict=True):
            if error is not None:
                made[k] = error
                continue
            try:
                made[k] = self.stored_dn(add[0])
            except AdminkitError:  # made (its password is set): the DN as it was written
                made[k] = add[0]
        return [m if m is not None else AssertionError("no outcome") for m in made]

    def _new_entry(self, user: NewUser) -> tuple[str, list[str], dict[str, Any]]:
        """The add that makes `user`: (dn, object classes, attributes)."""
        dn = f"uid={rdn_value(user.login)},{user.ou}"
        attrs: dict[str, Any] = {
            "uid": user.login, "cn": user.display_name, "givenName": user.given_name,
            "sn": user.surname, "displayName": user.display_name,
            "userPassword": user.password.reveal(),
            **({"mail": user.mail} if user.mail else {}),
        }
        classes = ["inetOrgPerson"]
        if self.config.options.get("uid_counter_dn"):
            classes.append("posixAccount")
            attrs.update(uidNumber=self.next_uid_number(),
                         gidNumber=int(self.config.options.get("default_gid", 100)),
                         homeDirectory=f"/home/{user.login}", loginShell="/bin/bash")
        if not user.enabled:
            self._require_lockout(user.login, user.attributes.get("pwdPolicySubentry"))
            attrs["pwdAccountLockedTime"] = LOCKED_FOREVER
        if user.must_change:
            attrs["pwdReset"] = "TRUE"
        if user.expires is not None:
            attrs["pwdEndTime"] = format_time(user.expires)
        attrs.update(user.attributes)
        return dn, classes, attrs

    # -- account state ------------------------------------------------------------------
    def set_enabled(self, user: UserEntry, enabled: bool) -> None:
        """Disable = the administrative lock; enable removes only that lock.

        Disabling replaces a failure lock (the attribute holds one value). Enabling never
        lifts a failure lock: deleting the exact value `000001010000Z` fails (tolerated)
        when the attribute holds a real time, so that stays for `unlock` to clear.
        slapd honours the lock only under a policy with pwdLockout TRUE: a disable under
        any other policy is refused rather than written and ignored.
        """
        import ldap3

        if not enabled:
            self._require_lockout(user.login, user.attributes.get("pwdPolicySubentry"))
        if enabled:
            self.modify(user.dn, {"pwdAccountLockedTime": [(ldap3.MODIFY_DELETE,
                                                            [LOCKED_FOREVER])]},
                        f"enable {user.login}", tolerate=NOT_THERE)
        else:
            self.modify(user.dn, {"pwdAccountLockedTime": [(ldap3.MODIFY_REPLACE,
                                                            [LOCKED_FOREVER])]},
                        f"disable {user.login}")

    def unlock(self, user: UserEntry) -> None:
        """Lift a failure lock and clear the failure count, keeping a disable.

        The lock goes with a MODIFY_DELETE of its value: ppolicy then drops
        `pwdFailureTime` too (a REPLACE with no values does not, and the next bad
        password would relock). Deleting by value leaves a concurrent disable alone.
        A failure count below the threshold (no lock yet) is NO-USER-MODIFICATION:
        it is cleared with the Relax control where the service account has `manage`
        on it, and otherwise left to expire with the next successful bind.
        """
        import ldap3

        what = f"unlock {user.login}"
        counters = ["pwdAccountLockedTime", "pwdFailureTime", "pwdAccountTmpLockoutEnd"]
        for _attempt in range(3):
            attrs = self._fresh(user, counters)
            lock = first(attrs, "pwdAccountLockedTime")
            if lock and lock != LOCKED_FOREVER:
                if not self.modify(user.dn, {"pwdAccountLockedTime": [
                        (ldap3.MODIFY_DELETE, [lock])]}, what, tolerate=(16,)):
                    continue  # the lock changed under us: read again
                attrs = self._fresh(user, counters)
            self._clear_failures(user, attrs)
            return
        raise ValidationError(f"{what}: its lock keeps changing; try again")

    def _clear_failures(self, user: UserEntry, attrs: dict[str, Any]) -> None:
        """Best effort: needs the Relax control and `manage` on these attributes."""
        import ldap3

        left = [a for a in ("pwdFailureTime", "pwdAccountTmpLockoutEnd") if values(attrs, a)]
        if not left:
            return
        result = self.link.modify(f"clear the failed binds of {user.login}", user.dn,
                                  {a: [(ldap3.MODIFY_REPLACE, [])] for a in left},
                                  controls=[(RELAX, True, None)])
        if result.get("result") == 0:
            return
        log.info("unlock %s: %d failed bind(s) stay counted (%s); give the service account "
                 "`manage` on pwdFailureTime to clear them", user.login,
                 len(values(attrs, "pwdFailureTime")), result.get("description"))

    def set_expiry(self, user: UserEntry, expires: datetime | None) -> None:
        """pwdEndTime (ppolicy refuses binds after it); shadowExpire too on shadowAccounts."""
        import ldap3

        changes: dict[str, Any] = {"pwdEndTime": [(ldap3.MODIFY_REPLACE,
                                                   [format_time(expires)] if expires else [])]}
        classes = {c.lower() for c in values(self._fresh(user, ["objectClass"]), "objectClass")}
        if "shadowaccount" in classes:
            day = [] if expires is None else [str(int(
                (expires if expires.tzinfo else expires.replace(tzinfo=UTC)).timestamp()
                // 86400))]
            changes["shadowExpire"] = [(ldap3.MODIFY_REPLACE, day)]
        self.modify(user.dn, changes, f"set the expiry of {user.login}")

    def set_password(self, user: UserEntry, password: Secret, *, must_change: bool) -> None:
        """RFC 3062 Password Modify (quality and history checked), then pwdReset.

        ppolicy deletes pwdAccountLockedTime on every password change, the administrative
        lock included: a disabled account is locked again right after, with pwdReset in
        the same modify. A failure lock stays cleared, as ppolicy intends.
        """
        import ldap3

        lock = first(self._fresh(user, ["pwdAccountLockedTime"]), "pwdAccountLockedTime")
        what = f"set the password of {user.login}"
        result = self.link.password_modify(what, user.dn, password)
        if result.get("result") != 0:
            raise self._error(result, what)
        changes: dict[str, Any] = {"pwdReset": [(ldap3.MODIFY_REPLACE,
                                                 ["TRUE"] if must_change else [])]}
        if lock == LOCKED_FOREVER:
            changes["pwdAccountLockedTime"] = [(ldap3.MODIFY_REPLACE, [LOCKED_FOREVER])]
        self.modify(user.dn, changes, f"set must-change on {user.login}")

    # -- policy -------------------------------------------------------------------------
    def _protected_uuids(self, policy: PolicyConfig) -> dict[str, str]:
        """entryUUID -> name of each protected group; an unknown name is a ConfigError
        (from the shared resolver): a guard that guards nothing must not pass quietly."""
        wanted: dict[str, str] = {}
        for name, dn in self._protected_groups(policy).items():
            if (gid := self._uuid(dn)) is not None:
                wanted[gid] = name
        return wanted

    def protected_reason(self, user: UserEntry, policy: PolicyConfig) -> str | None:
        """Protected by login or DN (compared by entryUUID), or by a group, even nested."""
        uuid = user.attributes.get("entryUUID") or self._uuid(user.dn)
        for spec in (s.strip() for s in policy.protected_accounts):
            if not spec:
                continue
            if "=" in spec:
                if uuid and self._uuid(spec) == uuid:
                    return f"{user.login} is a protected account ({spec})"
            elif spec.lower() == user.login.lower():
                return f"{user.login} is a protected account"
        wanted = self._protected_uuids(policy)
        if not wanted:
            return None
        for group, via in self._group_closure(user, nested=True):
            if self._uuid(group.dn) in wanted:
                path = f" (through {' > '.join(via)})" if via else ""
                return f"{user.login} is a member of the protected group {group.name}{path}"
        return None

    def group_protected_reason(self, group: GroupEntry, policy: PolicyConfig) -> str | None:
        """Is `group` protected, or nested (at any depth) inside a protected group?

        Parents are found by searching for groups that list it (not by memberOf, which
        entries loaded with slapadd lack) and compared by entryUUID.
        """
        wanted = self._protected_uuids(policy)
        gid = self._uuid(group.dn)
        if not wanted or gid is None:
            return None
        if gid in wanted:
            return f"{group.name} is a protected group"
        seen = {gid.lower()}
        pending = [group]
        while pending:
            child = pending.pop(0)
            for parent, _ in self._groups_where(f"(|{self._holding(child.dn)})", (), seen):
                name = wanted.get(self._uuid(parent.dn) or "")
                if name is not None:
                    return f"{group.name} is nested inside the protected group {name}"
                pending.append(parent)
        return None

    # -- groups -------------------------------------------------------------------------
    def _group(self, attrs: dict[str, Any]) -> GroupEntry:
        """posixGroup logins are resolved to DNs (a search per few hundred) so that
        `members` means the same for both kinds; the placeholder is not a member."""
        dn = str(attrs["dn"])
        classes = {c.lower() for c in values(attrs, "objectClass")}
        self._classes[dn.lower()] = classes
        if first(attrs, "entryUUID"):
            self._uuids[dn.lower()] = first(attrs, "entryUUID")
        members = [m for m in self._dn_members(attrs) if not self._is_placeholder(m)]
        if "posixgroup" in classes:
            members += [u["dn"] for u in self._users_by_login(values(attrs, "memberUid"))]
        return GroupEntry(dn=dn, name=first(attrs, "cn") or dn, members=tuple(members),
                          description=first(attrs, "description"))

    @staticmethod
    def _dn_members(attrs: dict[str, Any]) -> list[str]:
        return [*values(attrs, "member"), *values(attrs, "uniqueMember")]

    def find_group(self, name: str) -> GroupEntry | None:
        if (dn := as_dn(name, self.config.base_dn)) is not None:
            attrs = self.read(dn, GROUP_ATTRS)
            if attrs is None or not GROUP_CLASSES & {c.lower() for c in
                                                     values(attrs, "objectClass")}:
                return None
            return self._group(attrs)
        found = list(self.entries(self.config.groups_ou or self.config.base_dn,
                                  f"(&{self.group_filter}{value_filter('cn', name, False)})",
                                  GROUP_ATTRS, limit=2))
        if len(found) > 1:
            raise ValidationError(f"more than one group is named {name!r}; give its DN")
        return self._group(found[0]) if found else None

    def _users_by_login(self, logins: Iterable[str], attrs: Iterable[str] = ("1.1",)
                        ) -> list[dict[str, Any]]:
        """The user entries for `logins`, a hundred per search."""
        found: list[dict[str, Any]] = []
        for _, _, flt in login_filters(logins, (self.login_attr, "")):
            found += self.entries(self.config.base_dn, f"(&{self.user_filter}{flt})",
                                  list(attrs))
        return found

    @staticmethod
    def _holding(dn: str) -> str:
        """A filter for groups that list `dn` as a member (the server compares the DNs)."""
        from ldap3.utils.conv import escape_filter_chars

        value = escape_filter_chars(dn)
        return f"(member={value})(uniqueMember={value})"

    def _group_closure(self, user: UserEntry, *, nested: bool
                       ) -> list[tuple[GroupEntry, tuple[str, ...]]]:
        """Groups holding `user` (by DN or by `memberUid` login), then their parents.

        Each comes with the names of the groups it was reached through. Searched by
        value, so the server compares DNs itself (no DN string comparison here).
        """
        flt = f"(|{self._holding(user.dn)}{value_filter('memberUid', user.login, False)})"
        seen: set[str] = set()
        out = list(self._groups_where(flt, (), seen))
        pending = list(out) if nested else []
        while pending:  # breadth first: the shortest chain to each group wins
            child, chain = pending.pop(0)
            parents = list(self._groups_where(f"(|{self._holding(child.dn)})",
                                              (*chain, child.name), seen))
            out += parents
            pending += parents
        return out

    def _groups_where(self, flt: str, chain: tuple[str, ...], seen: set[str]
                      ) -> Iterable[tuple[GroupEntry, tuple[str, ...]]]:
        """Groups matching `flt` not seen before (by entryUUID), each with `chain`."""
        for attrs in self.entries(self.config.base_dn, f"(&{self.group_filter}{flt})",
                                  GROUP_ATTRS):
            key = str(first(attrs, "entryUUID") or attrs["dn"]).lower()
            if key not in seen:
                seen.add(key)
                yield self._group(attrs), chain

    def user_groups(self, user: UserEntry, *, nested: bool = False) -> list[GroupEntry]:
        """Every kind, read fresh: by member DN (not memberOf, which posixGroup lacks)."""
        return [g for g, _ in self._group_closure(user, nested=nested)]

    def group_members(self, group: GroupEntry, *, nested: bool = False) -> list[UserEntry]:
        """Users by member DN and by memberUid; with `nested`, through member groups too."""
        found: dict[str, UserEntry] = {}
        seen: set[str] = set()
        pending = [group.dn]
        while pending:
            attrs = self.read(pending.pop(0), GROUP_ATTRS)
            if attrs is None:
                continue
            seen.add(str(first(attrs, "entryUUID") or attrs["dn"]).lower())
            for member in self._dn_members(attrs):
                entry = None if self._is_placeholder(member) else self.read(
                    member, self.user_attrs)
                if entry is None:
                    continue
                classes = {c.lower() for c in values(entry, "objectClass")}
                key = str(first(entry, "entryUUID") or entry["dn"]).lower()
                if USER_CLASS in classes:
                    found.setdefault(key, self._user(entry))
                elif nested and classes & GROUP_CLASSES and key not in seen:
                    seen.add(key)
                    pending.append(entry["dn"])
            for entry in self._users_by_login(values(attrs, "memberUid"), self.user_attrs):
                found.setdefault(str(first(entry, "entryUUID") or entry["dn"]).lower(),
                                 self._user(entry))
        return list(found.values())

    def _member_attrs(self, group: GroupEntry) -> tuple[list[str], bool]:
        """(attributes that take the user's DN, whether memberUid takes the login)."""
        key = group.dn.lower()
        if key not in self._classes:
            attrs = self.read(group.dn, ["objectClass"])
            if attrs is None:
                raise self._error({"result": 32}, f"read group {group.name}")
            self._classes[key] = {c.lower() for c in values(attrs, "objectClass")}
        classes = self._classes[key]
        dn_attrs = sorted({a for c, a in DN_MEMBER_ATTR.items() if c in classes})
        if not dn_attrs and "posixgroup" not in classes:
            raise ValidationError(f"{group.name} is not a groupOfNames, groupOfUniqueNames "
                                  "or posixGroup")
        return dn_attrs, "posixgroup" in classes

    def _member_values(self, group: GroupEntry, users: Sequence[UserEntry]
                       ) -> dict[str, list[str]]:
        """The DNs and/or the logins, as the group's classes want them.

        A placeholder member stays: it is harmless, and removing it would need a read.
        """
        dn_attrs, by_login = self._member_attrs(group)
        wanted = {attr: [u.dn for u in users] for attr in dn_attrs}
        if by_login:
            wanted["memberUid"] = [u.login for u in users]
        return wanted

    def remove_member(self, group: GroupEntry, user: UserEntry) -> None:
        """Absent is no error. A last DN member gives way to the placeholder (as slapd's
        refint_nothing does): groupOfNames must keep at least one (else 65)."""
        import ldap3

        dn_attrs, by_login = self._member_attrs(group)
        what = f"remove {user.login} from {group.name}"
        for attr in dn_attrs:
            if self.modify(group.dn, {attr: [(ldap3.MODIFY_DELETE, [user.dn])]}, what,
                           tolerate=(*NOT_THERE, 65)) or self.link.result.get("result") != 65:
                continue
            self.modify(group.dn, {attr: [(ldap3.MODIFY_DELETE, [user.dn]),
                                          (ldap3.MODIFY_ADD, [self.placeholder])]},
                        what, tolerate=NOT_THERE)
        if by_login:
            self.modify(group.dn, {"memberUid": [(ldap3.MODIFY_DELETE, [user.login])]}, what,
                        tolerate=NOT_THERE)

    # -- deleting -----------------------------------------------------------------------
    def delete(self, user: UserEntry) -> None:
        """Leave every group first: refint rewrites `member` DNs but never `memberUid`
        logins, and doing `member` here too keeps servers without refint clean."""
        for group in self.user_groups(user):
            self.remove_member(group, user)
        super().delete(user)
