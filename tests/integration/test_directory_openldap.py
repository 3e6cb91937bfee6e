"""The OpenLDAP backend against the lab's real slapd.

Every outcome is read back through a separate plain ldap3 connection as the rootdn
(`root`), or proven by binding as the user: never through the backend under test.
"""

from __future__ import annotations

import ssl
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ldap3 import (
    BASE,
    MODIFY_ADD,
    MODIFY_DELETE,
    MODIFY_REPLACE,
    NONE,
    SUBTREE,
    Connection,
    Server,
    Tls,
)
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn

from adminkit.accounts.directory import NewUser, UserEntry, open_directory
from adminkit.accounts.openldap import LOCKED_FOREVER, OpenLdapDirectory, parse_time
from adminkit.core.config import PolicyConfig, Profile, load_profile
from adminkit.core.errors import ConfigError, UsageError, ValidationError
from adminkit.core.secrets import Secret
from adminkit.lab.base import LabServer
from adminkit.lab.slapd import ROOT_DN, SUFFIX, SlapdServer

pytestmark = pytest.mark.integration

PEOPLE = f"ou=people,{SUFFIX}"
DISABLED = f"ou=disabled,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"
STAFF = f"cn=staff,{GROUPS}"
STAFF_POSIX = f"cn=staff-posix,{GROUPS}"
NOBODY = f"cn=nobody,{SUFFIX}"
PPOLICY = "1.3.6.1.4.1.42.2.27.8.5.1"  # password policy response control
PP_LOCKED, PP_CHANGE_AFTER_RESET = 1, 2
PASSWORD = "Initial-Pass-1"
HOSTILE = "O'Brien, Jr. (admin)*\\"


# -- fixtures --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(slapd: LabServer) -> Iterator[SlapdServer]:
    assert isinstance(slapd, SlapdServer)
    slapd.reset()
    yield slapd
    slapd.reset()


@pytest.fixture(scope="module")
def profile(server: SlapdServer, lab_config_dir: Path) -> Profile:
    return load_profile("lab-openldap", lab_config_dir)


@pytest.fixture
def d(profile: Profile) -> Iterator[OpenLdapDirectory]:
    directory = open_directory(profile)
    assert isinstance(directory, OpenLdapDirectory)
    yield directory
    directory.close()


def _server(slapd: SlapdServer) -> Server:
    tls = Tls(ca_certs_file=str(slapd.ca_file), validate=ssl.CERT_REQUIRED)
    return Server("ldaps://localhost:3636", tls=tls, get_info=NONE, connect_timeout=5)


@pytest.fixture(scope="module")
def root(server: SlapdServer) -> Iterator[Connection]:
    """The rootdn on its own connection: the independent witness."""
    conn = Connection(_server(server), ROOT_DN, server.secret_file("admin").read_text(),
                      auto_bind=True, receive_timeout=10)
    yield conn
    conn.unbind()


@pytest.fixture
def new_user(d: OpenLdapDirectory) -> Callable[..., UserEntry]:
    def make(prefix: str = "u", **kw: Any) -> UserEntry:
        login = f"{prefix}.{uuid.uuid4().hex[:8]}"
        fields: dict[str, Any] = {
            "login": login, "given_name": "Jan", "surname": "Novák",
            "display_name": f"Jan Novák {login}", "password": Secret(PASSWORD), "ou": PEOPLE,
            "must_change": False, **kw}
        d.create_user(NewUser(**fields))
        found = d.find_user(login)
        assert found is not None
        return found
    return make


@pytest.fixture
def bind(server: SlapdServer) -> Callable[[str, str], tuple[int, int | None, Connection]]:
    """Bind as a user with the ppolicy control: (result code, ppolicy error, connection)."""
    def do(dn: str, password: str) -> tuple[int, int | None, Connection]:
        conn = Connection(_server(server), dn, password, receive_timeout=10)
        conn.bind(controls=[(PPOLICY, False, None)])
        value = ((conn.result.get("controls") or {}).get(PPOLICY) or {}).get("value") or b""
        # BER: SEQUENCE { [0] warning?, [1] ENUMERATED error? }; the error is tag 0x81
        i = value.find(b"\x81\x01")
        return conn.result["result"], (value[i + 2] if i >= 0 else None), conn
    return do


def read(conn: Connection, dn: str, *attrs: str) -> dict[str, list[str]] | None:
    if not conn.search(dn, "(objectClass=*)", BASE, attributes=list(attrs) or ["*", "+"]):
        return None
    return {k: list(v) if isinstance(v, list) else [v]
            for k, v in conn.response[0]["attributes"].items()}


def search_dns(conn: Connection, flt: str, base: str = SUFFIX) -> list[str]:
    conn.search(base, flt, SUBTREE, attributes=["1.1"])
    return [e["dn"] for e in conn.response or [] if e.get("type") == "searchResEntry"]


def uuid_of(conn: Connection, dn: str) -> str:
    attrs = read(conn, dn, "entryUUID")
    assert attrs is not None
    return attrs["entryUUID"][0]


def member_uuids(conn: Connection, group: str) -> set[str]:
    attrs = read(conn, group, "member")
    assert attrs is not None
    out = set()
    for dn in attrs["member"]:
        found = read(conn, dn, "entryUUID")
        out.add(found["entryUUID"][0] if found else dn)
    return out


def add_group(conn: Connection, name: str, members: list[str]) -> str:
    dn = f"cn={escape_rdn(name)},{GROUPS}"
    assert conn.add(dn, ["groupOfNames"], {"cn": name, "member": members}), conn.result
    return dn


# -- reading ---------------------------------------------------------------------------
def test_ping_and_policy(d: OpenLdapDirectory) -> None:
    assert "bound as" in d.ping()
    policy = d.password_policy()
    assert policy.min_length == 8
    assert policy.lockout_threshold == 5
    assert policy.history == 5
    assert policy.max_age_days is None
    assert policy.complexity is False  # no pwdCheckModule: only the length is checked
    assert d.last_bind_attr() == "authTimestamp"  # the lab runs slapo-lastbind


# -- create ----------------------------------------------------------------------------
def test_create_posix_account(d: OpenLdapDirectory, root: Connection,
                              new_user: Callable[..., UserEntry],
                              bind: Callable[..., tuple[int, int | None, Connection]]) -> None:
    user = new_user(mail="jan@example.org")
    attrs = read(root, user.dn, "*", "+")
    assert attrs is not None
    assert {"inetOrgPerson", "posixAccount"} <= set(attrs["objectClass"])
    assert int(attrs["uidNumber"][0]) >= 10000
    assert attrs["gidNumber"] == ["5000"]
    assert attrs["homeDirectory"] == [f"/home/{user.login}"]
    assert attrs["mail"] == ["jan@example.org"]
    assert attrs["userPassword"][0].startswith("{SSHA}")  # sent cleartext, hashed by slapd
    assert "pwdReset" not in attrs and "pwdAccountLockedTime" not in attrs
    assert user.enabled and not user.locked and not user.must_change
    assert user.attributes["uidNumber"] == attrs["uidNumber"][0]
    code, pp_error, _ = bind(user.dn, PASSWORD)
    assert (code, pp_error) == (0, None)
    assert d.login_taken(user.login) and not d.login_taken(user.login + "x")
    assert d.get_user(user.dn) == d.find_user(user.login)
    assert user.login in {u.login for u in d.list_users(PEOPLE)}


def test_uid_numbers_unique_when_two_threads_create(profile: Profile, root: Connection) -> None:
    logins: list[str] = []
    errors: list[BaseException] = []

    def work(tag: str) -> None:
        directory = open_directory(profile)
        try:
            for i in range(12):
                login = f"race.{tag}.{i}.{uuid.uuid4().hex[:4]}"
                directory.create_user(NewUser(login, "R", "Ace", login, Secret(PASSWORD), PEOPLE,
                                              must_change=False))
                logins.append(login)
        except BaseException as exc:  # noqa: BLE001 - reported by the assert below
            errors.append(exc)
        finally:
            directory.close()

    threads = [threading.Thread(target=work, args=(t,)) for t in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    numbers = []
    for login in logins:
        root.search(PEOPLE, f"(uid={escape_filter_chars(login)})", attributes=["uidNumber"])
        numbers.append(root.response[0]["attributes"]["uidNumber"][0])
    assert len(numbers) == 24
    assert len(set(numbers)) == 24


def test_create_disabled_expiring_must_change(root: Connection,
                                              new_user: Callable[..., UserEntry]) -> None:
    end = datetime(2031, 1, 1, tzinfo=UTC)
    user = new_user(enabled=False, must_change=True, expires=end)
    attrs = read(root, user.dn, "pwdAccountLockedTime", "pwdReset", "pwdEndTime")
    assert attrs == {"pwdAccountLockedTime": [LOCKED_FOREVER], "pwdReset": ["TRUE"],
                     "pwdEndTime": ["20310101000000Z"]}
    assert not user.enabled and not user.locked and user.must_change
    assert user.expires == end


def test_create_refuses_a_weak_password(d: OpenLdapDirectory, root: Connection) -> None:
    weak = "Qx7-zk"
    with pytest.raises(ValidationError, match="password policy") as info:
        d.create_user(NewUser("weak.pw", "W", "Eak", "Weak", Secret(weak), PEOPLE))
    assert weak not in f"{info.value} {info.value.hint}"
    assert search_dns(root, "(uid=weak.pw)") == []


# -- enable / disable / lock -----------------------------------------------------------
def test_disable_refuses_bind_and_enable_restores(
        d: OpenLdapDirectory, root: Connection, new_user: Callable[..., UserEntry],
        bind: Callable[..., tuple[int, int | None, Connection]]) -> None:
    user = new_user()
    d.set_enabled(user, False)
    d.set_enabled(user, False)  # idempotent
    assert read(root, user.dn, "pwdAccountLockedTime") == {"pwdAccountLockedTime":
                                                           [LOCKED_FOREVER]}
    assert bind(user.dn, PASSWORD)[:2] == (49, PP_LOCKED)
    found = d.find_user(user.login)
    assert found is not None and not found.enabled and not found.locked
    d.set_enabled(user, True)
    d.set_enabled(user, True)  # removing an absent lock is no error
    assert read(root, user.dn, "pwdAccountLockedTime") == {"pwdAccountLockedTime": []}
    assert bind(user.dn, PASSWORD)[:2] == (0, None)


def test_disable_refused_where_slapd_would_ignore_the_lock(
        d: OpenLdapDirectory, root: Connection, new_user: Callable[..., UserEntry],
        bind: Callable[..., tuple[int, int | None, Connection]]) -> None:
    lax = f"cn=no-lockout-{uuid.uuid4().hex[:6]},ou=policies,{SUFFIX}"
    assert root.add(lax, ["organizationalRole", "pwdPolicy"], {"pwdAttribute": "userPassword"})
    try:
        user = new_user()
        assert root.modify(user.dn, {"pwdPolicySubentry": [(MODIFY_REPLACE, [lax])]})
        # what the guard prevents: slapd ignores the lock without pwdLockout TRUE
        assert root.modify(user.dn, {"pwdAccountLockedTime": [(MODIFY_REPLACE,
                                                               [LOCKED_FOREVER])]})
        assert bind(user.dn, PASSWORD)[0] == 0
        assert root.modify(user.dn, {"pwdAccountLockedTime": [(MODIFY_DELETE, [])]})
        found = d.find_user(user.login)
        assert found is not None
        with pytest.raises(UsageError, match="pwdLockout"):
            d.set_enabled(found, False)
        assert read(root, user.dn, "pwdAccountLockedTime") == {"pwdAccountLockedTime": []}
        with pytest.raises(UsageError, match="pwdLockout"):
            new_user(enabled=False, attributes={"pwdPolicySubentry": lax})
    finally:
        root.search(SUFFIX, f"(pwdPolicySubentry={escape_filter_chars(lax)})",
                    attributes=["1.1"])
        for entry in list(root.response or []):
            if entry.get("type") == "searchResEntry":
                root.modify(entry["dn"], {"pwdPolicySubentry": [(MODIFY_REPLACE, [])]})
        root.delete(lax)


def _lock_out(user: UserEntry, bind: Callable[..., tuple[int, int | None, Connection]]) -> None:
    for _ in range(5):
        assert bind(user.dn, "Wrong-Pass-9")[0] == 49


def test_lockout_then_unlock_does_not_relock_at_the_next_bad_bind(
        d: OpenLdapDirectory, root: Connection, new_user: Callable[..., UserEntry],
        bind: Callable[..., tuple[int, int | None, Connection]]) -> None:
    user = new_user()
    _lock_out(user, bind)
    assert bind(user.dn, PASSWORD)[:2] == (49, PP_LOCKED)
    found = d.find_user(user.login)
    assert found is not None and found.locked and found.enabled
    assert found.attributes["failed_binds"] == 5
    assert user.login in {u.login for u in d.report("locked")}
    assert user.login not in {u.login for u in d.report("disabled")}

    d.unlock(found)
    attrs = read(root, user.dn, "pwdAccountLockedTime", "pwdFailureTime")
    assert attrs == {"pwdAccountLockedTime": [], "pwdFailureTime": []}
    # The failure count went with the lock: one more typo does not lock again ...
    assert bind(user.dn, "Wrong-Pass-9")[:2] == (49, None)
    attrs = read(root, user.dn, "pwdAccountLockedTime", "pwdFailureTime")
    assert attrs is not None
    assert attrs["pwdAccountLockedTime"] == [] and len(attrs["pwdFailureTime"]) == 1
    # ... and the right password works.
    assert bind(user.dn, PASSWORD)[:2] == (0, None)
    d.unlock(found)  # nothing to unlock: no error
    after = d.find_user(user.login)
    assert after is not None and not after.locked
    assert user.login not in {u.login for u in d.report("locked")}


def test_unlock_clears_a_failure_count_below_the_threshold(
        d: OpenLdapDirectory, root: Connection, new_user: Callable[..., UserEntry],
        bind: Callable[..., tuple[int, int | None, Connection]]) -> None:
    user = new_user()
    for _ in range(4):
        assert bind(user.dn, "Wrong-Pass-9")[0] == 49
    d.unlock(user)  # Relax control + the lab's `manage` on pwdFailureTime
    assert read(root, user.dn, "pwdFailureTime") == {"pwdFailureTime": []}
    for _ in range(4):
        assert bind(user.dn, "Wrong-Pass-9")[:2] == (49, None)
    assert bind(user.dn, PASSWORD)[:2] == (0, None)


def test_slapd_drops_failure_times_on_delete_not_on_empty_replace(
        root: Connection, new_user: Callable[..., UserEntry],
        bind: Callable[..., tuple[int, int | None, Connection]]) -> None:
    """Why unlock deletes: the recipe's `(REPLACE, [])` leaves pwdFailureTime behind."""
    for op, left in ((MODIFY_REPLACE, 5), (MODIFY_DELETE, 0)):
        user = new_user()
        _lock_out(user, bind)
        assert root.modify(user.dn, {"pwdAccountLockedTime": [(op, [])]}), root.result
        attrs = read(root, user.dn, "pwdFailureTime")
        assert attrs is not None and len(attrs["pwdFailureTime"]) == left


def test_enable_does_not_lift_a_failure_lock_and_unlock_keeps_a_disable(
        d: OpenLdapDirectory, root: Connection, new_user: Callable[..., UserEntry],
        bind: Callable[..., tuple[int, int | None, Connection]]) -> None:
    user = new_user()
    _lock_out(user, bind)
    d.set_enabled(user, True)
    attrs = read(root, user.dn, "pwdAccountLockedTime")
    assert attrs is not None and attrs["pwdAccountLockedTime"] not in ([], [LOCKED_FOREVER])
    assert bind(user.dn, PASSWORD)[:2] == (49, PP_LOCKED)

    other = new_user()
    d.set_enabled(other, False)
    d.unlock(other)
    assert read(root, other.dn, "pwdAccountLockedTime") == {"pwdAccountLockedTime":
                                                            [LOCKED_FOREVER]}
    assert bind(other.dn, PASSWORD)[0] == 49


# -- expiry ----------------------------------------------------------------------------
def test_expiry(d: OpenLdapDirectory, root: Connection, new_user: Callable[..., UserEntry],
                bind: Callable[..., tuple[int, int | None, Connection]]) -> None:
    user = new_user()
    past = datetime(2020, 6, 1, tzinfo=UTC)
    d.set_expiry(user, past)
    assert read(root, user.dn, "pwdEndTime") == {"pwdEndTime": ["20200601000000Z"]}
    assert bind(user.dn, PASSWORD)[:2] == (49, PP_LOCKED)
    found = d.find_user(user.login)
    assert found is not None and found.expires == past and found.enabled

    future = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    d.set_expiry(user, future)
    assert bind(user.dn, PASSWORD)[0] == 0
    found = d.find_user(user.login)
    assert found is not None and found.expires == future

    d.set_expiry(user, None)
    d.set_expiry(user, None)
    assert read(root, user.dn, "pwdEndTime") == {"pwdEndTime": []}
    found = d.find_user(user.login)
    assert found is not None and found.expires is None


def test_expiry_keeps_shadow_expire_in_step(d: OpenLdapDirectory, root: Connection,
                                            new_user: Callable[..., UserEntry]) -> None:
    user = new_user()
    assert root.modify(user.dn, {"objectClass": [(MODIFY_ADD, ["shadowAccount"])]}), root.result
    d.set_expiry(user, datetime(2030, 1, 2, tzinfo=UTC))
    days = (datetime(2030, 1, 2, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)).days
    assert read(root, user.dn, "shadowExpire", "pwdEndTime") == {
        "shadowExpire": [str(days)], "pwdEndTime": ["20300102000000Z"]}
    d.set_expiry(user, None)
    assert read(root, user.dn, "shadowExpire", "pwdEndTime") == {"shadowExpire": [],
                                                                 "pwdEndTime": []}


# -- passwords -------------------------------------------------------------------------
def test_reset_with_must_change_allows_only_a_password_change(
        d: OpenLdapDirectory, root: Connection, new_user: Callable[..., UserEntry],
        bind: Callable[..., tuple[int, int | None, Connection]]) -> None:
    user = new_user()
    d.set_password(user, Secret("Reset-Pass-22"), must_change=True)
    assert read(root, user.dn, "pwdReset") == {"pwdReset": ["TRUE"]}
    found = d.find_user(user.login)
    assert found is not None and found.must_change and found.password_changed is not None
    code, pp_error, conn = bind(user.dn, "Reset-Pass-22")
    assert (code, pp_error) == (0, PP_CHANGE_AFTER_RESET)
    conn.search(SUFFIX, "(uid=nobody)")
    assert conn.result["result"] == 50  # only a password change is allowed
    assert conn.extend.standard.modify_password(user.dn, "Reset-Pass-22", "Own-Pass-333")
    conn.unbind()
    assert read(root, user.dn, "pwdReset") == {"pwdReset": []}
    assert bind(user.dn, "Own-Pass-333")[:2] == (0, None)
    found = d.find_user(user.login)
    assert found is not None and not found.must_change


def test_reset_without_must_change_binds_normally(
        d: OpenLdapDirectory, root: Connection, new_user: Callable[..., UserEntry],
        bind: Callable[..., tuple[int, int | None, Connection]]) -> None:
    user = new_user(must_change=True)
    assert read(root, user.dn, "pwdReset") == {"pwdReset": ["TRUE"]}
    d.set_password(user, Secret("Reset-Pass-44"), must_change=False)
    assert read(root, user.dn, "pwdReset") == {"pwdReset": []}
    code, pp_error, conn = bind(user.dn, "Reset-Pass-44")
    assert (code, pp_error) == (0, None)
    assert conn.search(user.dn, "(objectClass=*)", BASE)
    assert bind(user.dn, PASSWORD)[0] == 49  # the old one is gone


def test_reset_keeps_a_disabled_account_disabled(
        d: OpenLdapDirectory, root: Connection, new_user: Callable[..., UserEntry],
        bind: Callable[..., tuple[int, int | None, Connection]]) -> None:
    # ppolicy deletes pwdAccountLockedTime on any password change, the disable included
    user = new_user()
    d.set_enabled(user, False)
    d.set_password(user, Secret("Reset-Pass-55"), must_change=True)
    assert read(root, user.dn, "pwdAccountLockedTime", "pwdReset") == {
        "pwdAccountLockedTime": [LOCKED_FOREVER], "pwdReset": ["TRUE"]}
    assert bind(user.dn, "Reset-Pass-55")[:2] == (49, PP_LOCKED)


def test_reset_refused_by_quality_and_history(d: OpenLdapDirectory, root: Connection,
                                              new_user: Callable[..., UserEntry]) -> None:
    user = new_user()
    before = read(root, user.dn, "userPassword")
    weak = "Qx7-zk"
    with pytest.raises(ValidationError, match="password policy") as info:
        d.set_password(user, Secret(weak), must_change=True)
    assert weak not in f"{info.value} {info.value.hint}"
    with pytest.raises(ValidationError, match="is the current one"):
        d.set_password(user, Secret(PASSWORD), must_change=False)
    d.set_password(user, Secret("Second-Pass-2"), must_change=False)
    with pytest.raises(ValidationError, match="history"):
        d.set_password(user, Secret(PASSWORD), must_change=True)
    after = read(root, user.dn, "userPassword")
    assert after is not None and after != before
    assert read(root, user.dn, "pwdReset") == {"pwdReset": []}  # no half-done reset


# -- protection ------------------------------------------------------------------------
def test_protected_reason(d: OpenLdapDirectory, root: Connection,
                          new_user: Callable[..., UserEntry]) -> None:
    admin, helper, plain, posix = (new_user(p) for p in ("adm", "hlp", "pln", "psx"))
    tag = uuid.uuid4().hex[:6]
    ops = add_group(root, f"ops-{tag}", [helper.dn])
    add_group(root, f"Admins {tag}", [admin.dn, ops])
    policy = PolicyConfig(protected_accounts=["root", plain.dn.upper()],
                          protected_groups=[f"admins {tag}", STAFF_POSIX])
    reason = d.protected_reason(admin, policy)
    assert reason == f"{admin.login} is a member of the protected group Admins {tag}"
    nested = d.protected_reason(helper, policy)
    assert nested == (f"{helper.login} is a member of the protected group Admins {tag} "
                      f"(through ops-{tag})")
    assert d.protected_reason(plain, policy) == f"{plain.login} is a protected account " \
                                                f"({plain.dn.upper()})"
    assert d.protected_reason(posix, policy) is None
    assert root.modify(STAFF_POSIX, {"memberUid": [(MODIFY_ADD, [posix.login])]})
    assert "staff-posix" in (d.protected_reason(posix, policy) or "")
    login_policy = PolicyConfig(protected_accounts=[helper.login.upper()])
    assert d.protected_reason(helper, login_policy) == f"{helper.login} is a protected account"
    assert d.protected_reason(admin, PolicyConfig()) is None


def test_group_protected_reason_and_unknown_protected_group(
        d: OpenLdapDirectory, root: Connection) -> None:
    tag = uuid.uuid4().hex[:6]
    top = add_group(root, f"top-{tag}", [NOBODY])
    mid = add_group(root, f"mid-{tag}", [NOBODY])
    assert root.modify(top, {"member": [(MODIFY_ADD, [mid])]}), root.result
    low = add_group(root, f"low-{tag}", [NOBODY])
    assert root.modify(mid, {"member": [(MODIFY_ADD, [low])]}), root.result
    policy = PolicyConfig(protected_groups=[f"top-{tag}"])
    groups = {n: d.find_group(f"{n}-{tag}") for n in ("top", "mid", "low")}
    assert all(groups.values())
    assert d.group_protected_reason(groups["top"], policy) == f"top-{tag} is a protected group"
    for name in ("mid", "low"):
        reason = d.group_protected_reason(groups[name], policy)  # type: ignore[arg-type]
        assert reason == f"{name}-{tag} is nested inside the protected group top-{tag}"
    staff = d.find_group("staff")
    assert staff is not None and d.group_protected_reason(staff, policy) is None
    with pytest.raises(ConfigError, match="no such group"):
        d.group_protected_reason(staff, PolicyConfig(protected_groups=[f"no-such-{tag}"]))
    with pytest.raises(ConfigError, match="no such group"):
        d.protected_reason(d.find_user("nobody") or _any_user(d),
                           PolicyConfig(protected_groups=[f"no-such-{tag}"]))


def _any_user(d: OpenLdapDirectory) -> UserEntry:
    return d.list_users(PEOPLE)[0]


# -- groups ----------------------------------------------------------------------------
def test_group_of_names_add_remove_idempotent(d: OpenLdapDirectory, root: Connection,
                                              new_user: Callable[..., UserEntry]) -> None:
    user = new_user()
    staff = d.find_group("staff")
    assert staff is not None and staff.dn == STAFF
    d.add_member(staff, user)
    d.add_member(staff, user)
    assert search_dns(root, f"(member={escape_filter_chars(user.dn)})") == [STAFF]
    assert read(root, user.dn, "memberOf") == {"memberOf": [STAFF]}
    assert [g.name for g in d.user_groups(user)] == ["staff"]
    assert user.login in {u.login for u in d.group_members(staff)}
    fresh = d.find_group(STAFF)
    assert fresh is not None and user.dn in fresh.members and NOBODY not in fresh.members
    d.remove_member(staff, user)
    d.remove_member(staff, user)
    assert search_dns(root, f"(member={escape_filter_chars(user.dn)})") == []
    assert d.user_groups(user) == []


def test_posix_group_add_remove_idempotent(d: OpenLdapDirectory, root: Connection,
                                           new_user: Callable[..., UserEntry]) -> None:
    user = new_user()
    group = d.find_group("staff-posix")
    assert group is not None
    d.add_member(group, user)
    d.add_member(group, user)
    attrs = read(root, STAFF_POSIX, "memberUid", "member")
    assert attrs is not None
    assert attrs["memberUid"].count(user.login) == 1 and attrs["member"] == []
    assert "staff-posix" in [g.name for g in d.user_groups(user)]
    assert user.login in {u.login for u in d.group_members(group)}
    fresh = d.find_group("staff-posix")
    assert fresh is not None and user.dn in fresh.members
    d.remove_member(group, user)
    d.remove_member(group, user)
    attrs = read(root, STAFF_POSIX, "memberUid")
    assert attrs is not None and user.login not in attrs["memberUid"]
    assert "staff-posix" not in [g.name for g in d.user_groups(user)]


def test_removing_the_last_member_leaves_the_placeholder(
        d: OpenLdapDirectory, root: Connection, new_user: Callable[..., UserEntry]) -> None:
    user = new_user()
    solo = add_group(root, f"solo-{uuid.uuid4().hex[:6]}", [user.dn])
    group = d.find_group(solo)
    assert group is not None and group.members == (user.dn,)
    d.remove_member(group, user)
    assert read(root, solo, "member") == {"member": [NOBODY]}
    assert d.group_members(group) == []
    d.add_member(group, user)  # and back: the placeholder may stay beside a member
    assert member_uuids(root, solo) == {uuid_of(root, user.dn), NOBODY}


def test_nested_groups(d: OpenLdapDirectory, root: Connection,
                       new_user: Callable[..., UserEntry]) -> None:
    inner_user, outer_user = new_user(), new_user()
    inner = add_group(root, f"inner-{uuid.uuid4().hex[:6]}", [inner_user.dn])
    outer = add_group(root, f"outer-{uuid.uuid4().hex[:6]}", [outer_user.dn, inner])
    group = d.find_group(outer)
    assert group is not None
    assert {u.login for u in d.group_members(group)} == {outer_user.login}
    assert {u.login for u in d.group_members(group, nested=True)} == {outer_user.login,
                                                                       inner_user.login}
    direct = {g.dn for g in d.user_groups(inner_user)}
    assert direct == {inner}
    assert {g.dn for g in d.user_groups(inner_user, nested=True)} == {inner, outer}


# -- move, attributes, delete ----------------------------------------------------------
def test_move_a_hostile_cn_to_disabled_and_back(d: OpenLdapDirectory, root: Connection
                                                ) -> None:
    dn = f"cn={escape_rdn(HOSTILE)},{PEOPLE}"
    assert root.add(dn, ["inetOrgPerson"], {"cn": HOSTILE, "sn": "O'Brien", "uid": "obrien",
                                            "userPassword": PASSWORD}), root.result
    user = d.find_user("obrien")
    assert user is not None and user.display_name == HOSTILE
    entry_uuid = uuid_of(root, user.dn)
    staff = d.find_group("staff")
    assert staff is not None
    d.add_member(staff, user)

    new_dn = d.move(user, DISABLED)
    root.search(DISABLED, f"(entryUUID={entry_uuid})", attributes=["cn"])
    assert [e["attributes"]["cn"] for e in root.response] == [[HOSTILE]]
    assert search_dns(root, f"(entryUUID={entry_uuid})", PEOPLE) == []
    assert uuid_of(root, new_dn) == entry_uuid
    assert entry_uuid in member_uuids(root, STAFF)  # refint followed the move
    moved = d.find_user("obrien")
    assert moved is not None and uuid_of(root, moved.dn) == entry_uuid

    back = d.move(moved, PEOPLE)
    assert uuid_of(root, back) == entry_uuid
    assert search_dns(root, f"(entryUUID={entry_uuid})", DISABLED) == []
    assert [g.name for g in d.user_groups(replace(moved, dn=back))] == ["staff"]


def test_set_attributes_and_read_attributes(d: OpenLdapDirectory, root: Connection,
                                            new_user: Callable[..., UserEntry]) -> None:
    user = new_user()
    d.set_attributes(user, {"description": ["first line", "second"], "title": ["Clerk"]})
    assert read(root, user.dn, "description", "title") == {
        "description": ["first line", "second"], "title": ["Clerk"]}
    assert d.read_attributes(user, ["title", "mail"]) == {"title": ["Clerk"], "mail": []}
    d.set_attributes(user, {"title": []})
    assert read(root, user.dn, "title") == {"title": []}


def test_delete_cleans_member_and_member_uid(d: OpenLdapDirectory, root: Connection,
                                             new_user: Callable[..., UserEntry]) -> None:
    user = new_user()
    solo = add_group(root, f"solo-{uuid.uuid4().hex[:6]}", [user.dn])
    for name in ("staff", "staff-posix"):
        group = d.find_group(name)
        assert group is not None
        d.add_member(group, user)
    d.delete(user)
    assert read(root, user.dn, "uid") is None and root.result["result"] == 32
    assert search_dns(root, f"(member={escape_filter_chars(user.dn)})") == []
    assert search_dns(root, f"(memberUid={escape_filter_chars(user.login)})") == []
    assert read(root, solo, "member") == {"member": [NOBODY]}


# -- search ----------------------------------------------------------------------------
def test_search_star_is_literal_unless_wildcards(d: OpenLdapDirectory,
                                                 new_user: Callable[..., UserEntry]) -> None:
    tag = uuid.uuid4().hex[:6]
    star = new_user("star", display_name=f"Star*{tag}")
    plain = new_user("plain", display_name=f"Starry{tag}")
    assert [u.login for u in d.search_users(f"Star*{tag}", field="name")] == [star.login]
    found = {u.login for u in d.search_users(f"Star*{tag}", field="name", wildcards=True)}
    assert found == {star.login, plain.login}
    assert d.search_users("*", field="login") == []
    assert [u.login for u in d.search_users(star.login, field="login")] == [star.login]


# -- reports ---------------------------------------------------------------------------
def test_reports_disabled_inactive_never_logged_in(
        d: OpenLdapDirectory, new_user: Callable[..., UserEntry],
        bind: Callable[..., tuple[int, int | None, Connection]]) -> None:
    active, idle, off = new_user(), new_user(), new_user(enabled=False)
    assert bind(active.dn, PASSWORD)[0] == 0
    found = d.find_user(active.login)
    assert found is not None and found.last_logon is not None
    assert abs((datetime.now(UTC) - found.last_logon).total_seconds()) < 120

    assert off.login in {u.login for u in d.report("disabled")}
    assert active.login not in {u.login for u in d.report("disabled")}
    never = {u.login for u in d.report("never-logged-in")}
    assert idle.login in never and active.login not in never
    assert active.login in {u.login for u in d.report("inactive", days=0)}
    assert active.login not in {u.login for u in d.report("inactive", days=1)}


def test_reports_need_last_bind_data(profile: Profile) -> None:
    assert profile.directory is not None
    cfg = profile.directory.model_copy(update={"options": {
        **profile.directory.options, "last_bind_attr": "none"}})
    directory = OpenLdapDirectory(cfg, profile.secret(cfg.password, "directory password"))
    try:
        with pytest.raises(UsageError, match="records no last-bind time"):
            directory.report("inactive", days=30)
        assert directory.report("disabled") is not None
    finally:
        directory.close()


def test_password_expiring_report(d: OpenLdapDirectory, root: Connection,
                                  new_user: Callable[..., UserEntry]) -> None:
    with pytest.raises(UsageError, match="pwdMaxAge"):
        d.report("password-expiring", days=14)
    short = f"cn=ten-days-{uuid.uuid4().hex[:6]},ou=policies,{SUFFIX}"
    assert root.add(short, ["organizationalRole", "pwdPolicy"], {
        "pwdAttribute": "userPassword", "pwdMaxAge": str(10 * 86400)}), root.result
    try:
        user, other = new_user(), new_user()
        assert root.modify(user.dn, {"pwdPolicySubentry": [(MODIFY_REPLACE, [short])]})
        for who in (user, other):  # a change stamps pwdChangedTime; an add does not
            d.set_password(who, Secret("Changed-Pass-77"), must_change=False)
        fresh = OpenLdapDirectory(d.config, Secret(_svc_password(d)))
        try:
            assert user.login in {u.login for u in fresh.report("password-expiring", days=14)}
            assert other.login not in {u.login for u in
                                       fresh.report("password-expiring", days=14)}
            assert user.login not in {u.login for u in
                                      fresh.report("password-expiring", days=5)}
        finally:
            fresh.close()
    finally:
        root.search(SUFFIX, f"(pwdPolicySubentry={escape_filter_chars(short)})",
                    attributes=["1.1"])
        for entry in list(root.response or []):
            if entry.get("type") == "searchResEntry":
                root.modify(entry["dn"], {"pwdPolicySubentry": [(MODIFY_REPLACE, [])]})
        root.delete(short)


def _svc_password(d: OpenLdapDirectory) -> str:
    from adminkit.core.secrets import resolve

    return resolve(d.config.password).reveal()


# -- helpers ---------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("20261125141418Z", datetime(2026, 11, 25, 14, 14, 18, tzinfo=UTC)),
    ("20261125141403.397101Z", datetime(2026, 11, 25, 14, 14, 3, 397101, tzinfo=UTC)),
    ("202611251414Z", datetime(2026, 11, 25, 14, 14, tzinfo=UTC)),
    ("20261125151418+0100", datetime(2026, 11, 25, 14, 14, 18, tzinfo=UTC)),
    (LOCKED_FOREVER, None), ("", None), (None, None), ("garbage", None),
])
def test_parse_time(text: str | None, expected: datetime | None) -> None:
    assert parse_time(text) == expected


# -- bulk runs ---------------------------------------------------------------------------
def test_uid_numbers_come_in_growing_blocks_and_a_single_create_takes_one(
        profile: Profile, root: Connection) -> None:
    counter = str(profile.directory.options["uid_counter_dn"])  # type: ignore[union-attr]

    def next_free() -> int:
        return int(read(root, counter, "uidNumber")["uidNumber"][0])  # type: ignore[index]

    single = open_directory(profile)
    before = next_free()
    single.create_user(NewUser(f"blk.one.{uuid.uuid4().hex[:6]}", "B", "Lock", "B Lock",
                               Secret(PASSWORD), PEOPLE, must_change=False))
    single.close()
    assert next_free() == before + 1  # nothing reserved beyond what it used

    bulk = open_directory(profile)
    start = next_free()
    created = []
    for i in range(5):
        login = f"blk.{i}.{uuid.uuid4().hex[:6]}"
        bulk.create_user(NewUser(login, "B", "Lock", login, Secret(PASSWORD), PEOPLE,
                                 must_change=False))
        created.append(int(read(root, f"uid={login},{PEOPLE}", "uidNumber")
                           ["uidNumber"][0]))  # type: ignore[index]
    bulk.close()
    assert created == list(range(start, start + 5))  # blocks of 1, 2, 4: in order
    assert next_free() == start + 5  # the last block's 2 unused numbers given back at close


def test_bulk_lookups_answer_for_every_login_asked(d: OpenLdapDirectory,
                                                   new_user: Callable[..., UserEntry]) -> None:
    users = [new_user("bulk") for _ in range(3)]
    asked = [u.login.upper() for u in users] + ["bulk.nobody", "a*", "x)(uid=*"]
    lookup = d.lookup_logins(asked)
    assert {k: (v.dn if v else None) for k, v in lookup.users.items()} == {
        **{u.login.casefold(): u.dn for u in users},
        "bulk.nobody": None, "a*": None, "x)(uid=*": None}  # filters escaped: no widening
    assert lookup.users[users[0].login] == d.find_user(users[0].login)
    assert lookup.taken == {u.login.casefold() for u in users}


def test_bulk_lookups_find_an_entry_by_any_of_its_uids(d: OpenLdapDirectory,
                                                       root: Connection) -> None:
    first, second = (f"multi.{uuid.uuid4().hex[:6]}" for _ in range(2))
    dn = f"uid={first},{PEOPLE}"
    assert root.add(dn, ["inetOrgPerson"], {"uid": [first, second], "cn": "Multi Uid",
                                             "sn": "Uid"}), root.result
    found = d.lookup_logins([second, first])
    assert found.users[second] is not None and found.users[second].dn == dn
    assert found.users[first] is not None and found.users[first].dn == dn
    assert d.find_user(second) is not None  # what a single lookup says too
    assert found.taken == {first, second}


def test_add_members_in_one_modify_falls_back_one_by_one(
        d: OpenLdapDirectory, root: Connection, new_user: Callable[..., UserEntry]) -> None:
    a, b, c = (new_user("mem") for _ in range(3))
    group_dn = add_group(root, f"bulk-{uuid.uuid4().hex[:6]}", [a.dn])
    group = d.find_group(group_dn)
    assert group is not None
    assert d.add_members(group, [b, c]) == {}  # one modify
    assert d.add_members(group, [a, b, c]) == {}  # refused as a whole (a is there): one by one
    assert member_uuids(root, group_dn) == {uuid_of(root, u.dn) for u in (a, b, c)}
