"""The Active Directory backend against the lab's real Samba DC.

Every outcome is read back through a separate, plain ldap3 admin connection, never
through the backend under test. Each test uses its own logins; the directory is reset
to its golden state once, when the module starts.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ldap3
import pytest
from ldap3 import BASE, MODIFY_ADD, MODIFY_REPLACE
from ldap3.utils.dn import escape_rdn

from adminkit.accounts.ad import ActiveDirectory, norm_dn
from adminkit.accounts.directory import NewUser, UserEntry, open_directory
from adminkit.accounts.ldapbase import rdn_value
from adminkit.accounts.settings import DirectoryConfig
from adminkit.core.config import PolicyConfig, Profile, load_profile
from adminkit.core.errors import (
    ActionFailed,
    ConfigError,
    PolicyRefused,
    ValidationError,
)
from adminkit.core.secrets import Secret, resolve
from adminkit.lab.base import LabServer
from adminkit.lab.samba import SambaServer

pytestmark = pytest.mark.integration

B = "DC=samdom,DC=example,DC=com"
STAFF = f"OU=Staff,{B}"
GROUPS = f"OU=Groups,{B}"
QUARANTINE = f"OU=Quarantine,{B}"
DOMAIN_ADMINS = f"CN=Domain Admins,CN=Users,{B}"
SUFFIX = "samdom.example.com"
START = "Start-Pass.1"
HOSTILE = "O'Brien, Jr. (admin)*\\"
UAC_NORMAL, UAC_DISABLE, UAC_DONT_EXPIRE = 512, 2, 65536


# -- the plain ldap3 side: setting up and reading back ---------------------------------------
def pw(value: str) -> bytes:
    return f'"{value}"'.encode("utf-16-le")


def filetime(moment: datetime) -> int:
    """Whole-second moments only: exact integer arithmetic."""
    assert moment.microsecond == 0
    return (int(moment.timestamp()) + 11_644_473_600) * 10_000_000


class Admin:
    """A plain ldap3 connection as Administrator, independent of the backend."""

    def __init__(self, cfg: DirectoryConfig) -> None:
        assert cfg.ca_file is not None
        tls = ldap3.Tls(ca_certs_file=str(cfg.ca_file), validate=ssl.CERT_REQUIRED)
        self.server = ldap3.Server("localhost", port=636, use_ssl=True, tls=tls,
                                   get_info=ldap3.NONE, connect_timeout=5)
        self.conn = ldap3.Connection(self.server, cfg.bind_user, resolve(cfg.password).reveal(),
                                     receive_timeout=10)
        assert self.conn.bind(), self.conn.result

    def get(self, dn: str, *attrs: str) -> dict[str, Any] | None:
        """One entry's attributes, single values unwrapped; None if it does not exist."""
        if not self.conn.search(dn, "(objectClass=*)", BASE, attributes=list(attrs) or ["*"]):
            assert self.conn.result["result"] == 32, self.conn.result
            return None
        raw = self.conn.response[0]["attributes"]
        return {k: v[0] if isinstance(v, list) and len(v) == 1 else v for k, v in raw.items()}

    def dn_of(self, login: str) -> str | None:
        self.conn.search(B, f"(sAMAccountName={login})", attributes=["1.1"])
        found = [e["dn"] for e in self.conn.response if e["type"] == "searchResEntry"]
        return found[0] if found else None

    def add_user(self, login: str, *, cn: str | None = None, ou: str = STAFF,
                 password: str = START, uac: int = UAC_NORMAL, **attrs: Any) -> str:
        dn = f"CN={escape_rdn(cn or login)},{ou}"
        values = {"sAMAccountName": login, "userPrincipalName": f"{login}@{SUFFIX}",
                  "unicodePwd": pw(password), "userAccountControl": uac, **attrs}
        assert self.conn.add(dn, ["top", "person", "organizationalPerson", "user"], values), \
            self.conn.result
        return dn

    def add_group(self, name: str, *members: str, sam: str | None = None) -> str:
        dn = f"CN={escape_rdn(name)},{GROUPS}"
        assert self.conn.add(dn, "group", {"sAMAccountName": sam or name}), self.conn.result
        for member in members:
            self.add_member(dn, member)
        return dn

    def add_member(self, group: str, member: str) -> None:
        assert self.conn.modify(group, {"member": [(MODIFY_ADD, [member])]}), self.conn.result

    def set(self, dn: str, **values: Any) -> None:
        changes = {k: [(MODIFY_REPLACE, v if isinstance(v, list) else [v])]
                   for k, v in values.items()}
        assert self.conn.modify(dn, changes), self.conn.result

    def bind(self, login: str, password: str) -> str:
        """"ok", or the AD sub-code of a failed bind ("52e", "773", "775", ...)."""
        conn = ldap3.Connection(self.server, f"{login}@{SUFFIX}", password, receive_timeout=10)
        try:
            if conn.bind():
                return "ok"
            message = conn.result["message"]
            assert "data " in message, conn.result
            return message.split("data ", 1)[1].split(",", 1)[0]
        finally:
            conn.unbind()


@pytest.fixture(scope="module")
def profile(samba: LabServer, lab_config_dir: Path) -> Profile:
    samba.reset()  # once: every test below uses its own logins
    return load_profile("lab", lab_config_dir)


@pytest.fixture(scope="module")
def admin(profile: Profile) -> Iterator[Admin]:
    assert profile.directory is not None
    a = Admin(profile.directory)
    yield a
    a.conn.unbind()


@pytest.fixture(scope="module")
def ad(profile: Profile) -> Iterator[ActiveDirectory]:
    directory = open_directory(profile)
    assert isinstance(directory, ActiveDirectory)
    yield directory
    directory.close()


def user(ad: ActiveDirectory, login: str) -> UserEntry:
    entry = ad.find_user(login)
    assert entry is not None, login
    return entry


def logins(entries: list[UserEntry]) -> set[str]:
    return {e.login for e in entries}


# -- reading ---------------------------------------------------------------------------------
def test_ping_and_password_policy_match_the_lab(ad: ActiveDirectory) -> None:
    assert "bound as Administrator" in ad.ping()
    policy = ad.password_policy()
    assert (policy.min_length, policy.complexity, policy.lockout_threshold) == (7, True, 3)
    assert (policy.history, policy.max_age_days) == (24, 42)
    assert ad.password_policy() is policy  # read once per connection


def test_find_user_reads_every_field(ad: ActiveDirectory, admin: Admin) -> None:
    dn = admin.add_user("rf.user", cn="Read Fields", givenName="Read", sn="Fields",
                        displayName="Read Fields", mail="rf@example.com",
                        description="reads back")
    group = admin.add_group("rf-group", dn)
    entry = user(ad, "rf.user")
    assert (entry.dn, entry.login, entry.given_name, entry.surname, entry.display_name,
            entry.mail, entry.description) == (dn, "rf.user", "Read", "Fields", "Read Fields",
                                               "rf@example.com", "reads back")
    assert entry.enabled and not entry.locked and not entry.must_change
    assert entry.expires is None and entry.last_logon is None
    assert entry.password_changed is not None
    assert abs(entry.password_changed - datetime.now(UTC)) < timedelta(minutes=5)
    assert entry.groups == (group,)
    assert entry.attributes["userPrincipalName"] == f"rf.user@{SUFFIX}"
    assert ad.find_user("RF.USER") == entry  # sAMAccountName matches regardless of case
    assert ad.find_user("rf.nobody") is None
    assert ad.get_user(dn) == entry
    assert ad.get_user(group) is None  # a group's DN is not a user
    assert ad.get_user(f"CN=Nobody,{STAFF}") is None

    assert admin.bind("rf.user", START) == "ok"  # a simple bind sets lastLogonTimestamp
    last = user(ad, "rf.user").last_logon
    assert last is not None and abs(last - datetime.now(UTC)) < timedelta(minutes=5)
    assert ad.login_taken("rf.user") and ad.login_taken("rf-group")  # unique domain-wide
    assert not ad.login_taken("rf.free")
    assert ad.read_attributes(entry, ["mail", "title"]) == {"mail": ["rf@example.com"],
                                                            "title": []}


def test_search_users_star_is_literal_unless_wildcards(ad: ActiveDirectory,
                                                       admin: Admin) -> None:
    admin.add_user("jdoe", cn="John Doe", givenName="John", sn="Doe", displayName="John Doe")
    admin.add_user("sr.star", cn="Star J", sn="j*", displayName="Star J")
    assert "jdoe" not in logins(ad.search_users("j*"))
    assert ad.search_users("j*", field="login") == []
    assert logins(ad.search_users("j*", field="name")) == {"sr.star"}  # sn is literally j*
    assert "jdoe" in logins(ad.search_users("j*", field="login", wildcards=True))
    assert "jdoe" in logins(ad.search_users("*Doe", field="name", wildcards=True))
    assert ad.search_users("*", field="login") == []
    assert ad.search_users(")(sAMAccountName=*") == []  # filter syntax is data
    with pytest.raises(ValidationError):
        ad.search_users("a\x00b")


# -- creating --------------------------------------------------------------------------------
def test_create_user_in_one_add(ad: ActiveDirectory, admin: Admin) -> None:
    expires = datetime(2031, 1, 1, tzinfo=UTC)
    new = NewUser(login="cr.user", given_name="Žofie", surname="Nováková",
                  display_name="Žofie Nováková", password=Secret("Create-Pass.1"), ou=STAFF,
                  mail="zofie@example.com", expires=expires,
                  attributes={"title": "Agent", "department": "Helpdesk"})
    dn = ad.create_user(new)
    assert dn == f"CN=Žofie Nováková,{STAFF}"
    got = admin.get(dn, "sAMAccountName", "userPrincipalName", "givenName", "sn", "displayName",
                    "mail", "title", "department", "userAccountControl", "pwdLastSet",
                    "accountExpires")
    assert got is not None
    assert got == {"sAMAccountName": "cr.user", "userPrincipalName": f"cr.user@{SUFFIX}",
                   "givenName": "Žofie", "sn": "Nováková", "displayName": "Žofie Nováková",
                   "mail": "zofie@example.com", "title": "Agent", "department": "Helpdesk",
                   "userAccountControl": "512", "pwdLastSet": "0",
                   "accountExpires": str(filetime(expires))}
    assert admin.bind("cr.user", "Create-Pass.1") == "773"  # must change before first logon
    entry = user(ad, "cr.user")
    assert entry.must_change and entry.enabled and entry.expires == expires


def test_create_disabled_without_must_change(ad: ActiveDirectory, admin: Admin) -> None:
    new = NewUser(login="cr.off", given_name="Off", surname="Line", display_name="Off Line",
                  password=Secret("Create-Pass.2"), ou=STAFF, enabled=False, must_change=False)
    dn = ad.create_user(new)
    got = admin.get(dn, "userAccountControl", "pwdLastSet", "accountExpires", "mail")
    assert got is not None
    assert int(got["userAccountControl"]) == UAC_NORMAL | UAC_DISABLE
    assert int(got["pwdLastSet"]) > 0
    assert int(got["accountExpires"]) in (0, 0x7FFFFFFFFFFFFFFF)
    assert got["mail"] == []
    assert admin.bind("cr.off", "Create-Pass.2") == "533"  # disabled, password right


def test_create_errors_say_what_is_wrong_and_never_the_password(ad: ActiveDirectory,
                                                                admin: Admin) -> None:
    base = NewUser(login="cr.err", given_name="Err", surname="Or", display_name="Err Or",
                   password=Secret("Secret-Canary.77"), ou=f"OU=Nowhere,{B}")
    with pytest.raises(ActionFailed, match="no such entry") as missing_ou:
        ad.create_user(base)
    assert "cr.err" in str(missing_ou.value) and "OU=Nowhere" in str(missing_ou.value)

    admin.add_user("cr.taken")
    with pytest.raises(ValidationError, match="sAMAccountName is already taken") as taken:
        ad.create_user(replace(base, login="cr.taken", ou=STAFF))

    with pytest.raises(ValidationError, match="does not meet the domain's policy") as weak:
        ad.create_user(replace(base, ou=STAFF, password=Secret("Zq9-v")))
    assert weak.value.hint is not None and "at least 7 characters" in weak.value.hint
    assert admin.dn_of("cr.err") is None

    with pytest.raises(ValidationError, match="does not allow '\\*'"):
        ad.create_user(replace(base, login="cr*err", ou=STAFF))
    with pytest.raises(ValidationError, match="longer than AD's 20"):
        ad.create_user(replace(base, login="cr.a-very-long-login1", ou=STAFF))

    for exc in (missing_ou.value, taken.value, weak.value):
        assert "Secret-Canary.77" not in str(exc) and "Zq9-v" not in str(exc)


# -- account state ---------------------------------------------------------------------------
def test_disable_and_enable_flip_only_the_disable_bit(ad: ActiveDirectory,
                                                      admin: Admin) -> None:
    dn = admin.add_user("st.bits", uac=UAC_NORMAL | UAC_DONT_EXPIRE)
    entry = user(ad, "st.bits")
    ad.set_enabled(entry, False)
    got = admin.get(dn, "userAccountControl")
    assert got is not None and int(got["userAccountControl"]) == 66050
    assert admin.bind("st.bits", START) == "533"
    assert not user(ad, "st.bits").enabled
    ad.set_enabled(entry, False)  # already disabled: nothing changes
    ad.set_enabled(entry, True)
    got = admin.get(dn, "userAccountControl")
    assert got is not None and int(got["userAccountControl"]) == 66048
    assert admin.bind("st.bits", START) == "ok"
    assert user(ad, "st.bits").enabled


def test_lock_by_bad_binds_then_unlock(ad: ActiveDirectory, admin: Admin) -> None:
    dn = admin.add_user("st.lock")
    for _ in range(3):  # the lab's threshold is 3
        assert admin.bind("st.lock", "Wrong-Pass.9") == "52e"
    assert admin.bind("st.lock", START) == "775"
    got = admin.get(dn, "lockoutTime")
    assert got is not None and int(got["lockoutTime"]) > 0
    entry = user(ad, "st.lock")
    assert entry.locked
    assert ad._locked_by_time(got["lockoutTime"])  # without the computed attribute, too
    assert "st.lock" in logins(ad.report("locked"))

    ad.unlock(entry)
    got = admin.get(dn, "lockoutTime")
    assert got is not None and int(got["lockoutTime"]) == 0
    assert admin.bind("st.lock", START) == "ok"
    assert not user(ad, "st.lock").locked
    assert "st.lock" not in logins(ad.report("locked"))


def test_a_lockout_that_ran_out_is_not_a_lock(ad: ActiveDirectory) -> None:
    """lockoutTime stays set after the domain's 5 minutes are over."""
    now = datetime.now(UTC).replace(microsecond=0)
    assert ad._locked_by_time(str(filetime(now - timedelta(minutes=1))))
    assert not ad._locked_by_time(str(filetime(now - timedelta(minutes=6))))
    assert not ad._locked_by_time("0")


def test_expiry_set_and_cleared(ad: ActiveDirectory, admin: Admin) -> None:
    dn = admin.add_user("st.exp")
    entry = user(ad, "st.exp")
    when = datetime(2030, 6, 30, 22, 0, tzinfo=UTC)
    ad.set_expiry(entry, when)
    got = admin.get(dn, "accountExpires")
    assert got is not None and int(got["accountExpires"]) == filetime(when)
    assert user(ad, "st.exp").expires == when

    past = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    ad.set_expiry(entry, past)
    assert admin.bind("st.exp", START) == "701"  # account expired

    ad.set_expiry(entry, None)
    got = admin.get(dn, "accountExpires")
    assert got is not None and int(got["accountExpires"]) in (0, 0x7FFFFFFFFFFFFFFF)
    assert user(ad, "st.exp").expires is None
    assert admin.bind("st.exp", START) == "ok"


# -- passwords -------------------------------------------------------------------------------
def test_password_reset_with_and_without_must_change(ad: ActiveDirectory,
                                                     admin: Admin) -> None:
    dn = admin.add_user("pw.user")
    entry = user(ad, "pw.user")
    ad.set_password(entry, Secret("Reset-Pass.2"), must_change=True)
    got = admin.get(dn, "pwdLastSet")
    assert got is not None and int(got["pwdLastSet"]) == 0
    assert admin.bind("pw.user", START) == "52e"
    assert admin.bind("pw.user", "Reset-Pass.2") == "773"  # the flag stuck
    assert user(ad, "pw.user").must_change

    ad.set_password(entry, Secret("Reset-Pass.3"), must_change=False)
    got = admin.get(dn, "pwdLastSet")
    assert got is not None and int(got["pwdLastSet"]) > 0
    assert admin.bind("pw.user", "Reset-Pass.3") == "ok"
    assert not user(ad, "pw.user").must_change


def test_too_short_password_is_a_policy_error_and_changes_nothing(ad: ActiveDirectory,
                                                                  admin: Admin) -> None:
    admin.add_user("pw.short")
    entry = user(ad, "pw.short")
    with pytest.raises(ValidationError) as info:
        ad.set_password(entry, Secret("Ab1-x"), must_change=True)
    err = info.value
    assert err.message == ("reset the password of pw.short: the password does not meet the "
                           "domain's policy (length, complexity or history)")
    assert err.hint is not None and "at least 7 characters" in err.hint
    assert "too short" in err.hint  # Samba's own reason
    assert "Ab1-x" not in str(err)
    with pytest.raises(ValidationError, match="domain's policy"):
        ad.set_password(entry, Secret("alllowercase"), must_change=False)  # complexity
    assert admin.bind("pw.short", START) == "ok"  # neither the password nor the flag changed


def test_must_change_refused_while_password_never_expires(ad: ActiveDirectory,
                                                          admin: Admin) -> None:
    admin.add_user("pw.never", uac=UAC_NORMAL | UAC_DONT_EXPIRE)
    entry = user(ad, "pw.never")
    with pytest.raises(ValidationError, match="password never expires"):
        ad.set_password(entry, Secret("Reset-Pass.4"), must_change=True)
    assert admin.bind("pw.never", START) == "ok"  # nothing was written
    ad.set_password(entry, Secret("Reset-Pass.4"), must_change=False)
    assert admin.bind("pw.never", "Reset-Pass.4") == "ok"


# -- protection ------------------------------------------------------------------------------
def test_protected_reasons(ad: ActiveDirectory, admin: Admin, profile: Profile) -> None:
    policy = profile.policy
    administrator = user(ad, "Administrator")
    assert ad.protected_reason(administrator, policy) is not None
    bare = PolicyConfig(protected_groups=["Domain Admins"])
    assert "adminCount" in (ad.protected_reason(administrator, bare) or "")
    assert "critical system object" in (ad.protected_reason(user(ad, "Guest"), bare) or "")

    # Samba has no SDProp: nested membership must be found without adminCount
    nested_dn = admin.add_user("pr.nested")
    inner = admin.add_group("pr-inner", nested_dn)
    admin.add_member(DOMAIN_ADMINS, inner)
    nested = user(ad, "pr.nested")
    got = admin.get(nested_dn, "adminCount")
    assert got is not None and got["adminCount"] == []
    assert ad.protected_reason(nested, policy) == \
        "member of Domain Admins (directly or through a nested group)"

    direct_dn = admin.add_user("pr.direct")
    admin.add_member(DOMAIN_ADMINS, direct_dn)
    assert "Domain Admins" in (ad.protected_reason(user(ad, "pr.direct"), policy) or "")

    admin.add_user("pr.plain")
    plain = user(ad, "pr.plain")
    assert ad.protected_reason(plain, policy) is None

    # a primary group appears in no memberOf value
    primary_dn = admin.add_user("pr.primary")
    pg = admin.add_group("pr-primary-group", primary_dn)
    admin.add_member(DOMAIN_ADMINS, pg)
    pg_sid = admin.get(pg, "objectSid")
    assert pg_sid is not None
    admin.conn.search(pg, "(objectClass=*)", BASE, attributes=["objectSid"])
    rid = int.from_bytes(admin.conn.response[0]["raw_attributes"]["objectSid"][0][-4:], "little")
    admin.set(primary_dn, primaryGroupID=str(rid))
    assert "primary group" in (ad.protected_reason(user(ad, "pr.primary"), policy) or "")


def test_protected_accounts_match_login_upn_or_dn_in_any_case(ad: ActiveDirectory,
                                                              admin: Admin) -> None:
    dn = admin.add_user("pr.named", cn=HOSTILE + " p")
    entry = user(ad, "pr.named")
    for listed in ("PR.NAMED", f"pr.named@{SUFFIX.upper()}", dn.upper(),
                   dn.replace(",OU=", ", ou=")):
        assert ad.protected_reason(entry, PolicyConfig(protected_accounts=[listed])), listed
    assert ad.protected_reason(entry, PolicyConfig(protected_accounts=["pr.name"])) is None
    assert ad.protected_reason(entry, PolicyConfig(protected_accounts=[f"CN=x,{STAFF}"])) is None


def test_a_misspelt_protected_group_is_a_config_error(ad: ActiveDirectory,
                                                      admin: Admin) -> None:
    admin.add_user("pr.typo")
    with pytest.raises(ConfigError, match="Domain Admns"):
        ad.protected_reason(user(ad, "pr.typo"), PolicyConfig(protected_groups=["Domain Admns"]))


# -- groups ----------------------------------------------------------------------------------
def test_user_groups_and_group_members_direct_and_nested(ad: ActiveDirectory,
                                                         admin: Admin) -> None:
    dn = admin.add_user("gr.user", cn=HOSTILE + " g")
    inner = admin.add_group("gr-inner (x)*", dn, sam="gr-inner")
    outer = admin.add_group("gr-outer", inner)
    entry = user(ad, "gr.user")
    assert {g.dn for g in ad.user_groups(entry)} == {inner}
    assert {g.dn for g in ad.user_groups(entry, nested=True)} == {inner, outer}
    outer_group = ad.find_group("gr-outer")
    assert outer_group is not None and outer_group.members == (inner,)
    inner_group = ad.find_group("gr-inner (x)*")
    assert inner_group is not None and inner_group.members == (dn,)
    assert ad.find_group(inner) == inner_group  # by DN
    assert ad.find_group("gr-*") is None  # names are literal
    assert ad.group_members(outer_group) == []  # its direct member is a group
    assert logins(ad.group_members(outer_group, nested=True)) == {"gr.user"}
    assert logins(ad.group_members(inner_group)) == {"gr.user"}
    domain_users = ad.find_group("Domain Users")
    assert domain_users is not None  # found in CN=Users, outside the groups OU
    assert "gr.user" in logins(ad.group_members(domain_users))  # by primaryGroupID

    ad.remove_member(inner_group, entry)
    ad.remove_member(inner_group, entry)  # not there any more: tolerated
    got = admin.get(inner, "member")
    assert got is not None and got["member"] == []
    ad.add_member(inner_group, entry)
    ad.add_member(inner_group, entry)  # already there: tolerated
    got = admin.get(inner, "member")
    assert got is not None and got["member"] == dn


# -- reports ---------------------------------------------------------------------------------
def test_reports(ad: ActiveDirectory, admin: Admin) -> None:
    admin.add_user("rp.off", uac=UAC_NORMAL | UAC_DISABLE)
    admin.add_user("rp.new")
    admin.add_user("rp.used")
    assert admin.bind("rp.used", START) == "ok"
    old_dn = admin.add_user("rp.old")
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    admin.set(old_dn, lastLogonTimestamp=str(filetime(long_ago)))
    admin.add_user("rp.never", uac=UAC_NORMAL | UAC_DONT_EXPIRE)
    admin.add_user("rp.must", pwdLastSet="0")

    disabled = logins(ad.report("disabled"))
    assert "rp.off" in disabled and not disabled & {"rp.new", "rp.used"}
    never = logins(ad.report("never-logged-in"))
    assert {"rp.new", "rp.off"} <= never and not never & {"rp.used", "rp.old"}
    assert "rp.new" not in logins(ad.report("never-logged-in", days=30))  # created just now
    inactive = logins(ad.report("inactive"))
    assert "rp.old" in inactive and not inactive & {"rp.new", "rp.used"}
    assert "rp.old" not in logins(ad.report("inactive", days=365 * 20))
    # max password age is 42 days: a password set now expires in 42
    assert "rp.used" not in logins(ad.report("password-expiring"))
    expiring = logins(ad.report("password-expiring", days=43))
    assert "rp.used" in expiring
    assert not expiring & {"rp.never", "rp.must"}
    with pytest.raises(ValidationError):
        ad.report("inactive", days=-1)


# -- moving, attributes, deleting -------------------------------------------------------------
def test_move_to_quarantine_and_back_with_a_hostile_name(ad: ActiveDirectory,
                                                         admin: Admin) -> None:
    dn = admin.add_user("mv.user", cn=HOSTILE, displayName=HOSTILE)
    entry = user(ad, "mv.user")
    assert entry.display_name == HOSTILE
    moved = ad.move(entry, QUARANTINE)
    assert moved == f"CN={rdn_value(HOSTILE)},{QUARANTINE}"  # hex: what Samba reads back alike
    assert admin.get(dn, "cn") is None
    got = admin.get(moved, "cn", "sAMAccountName")
    assert got == {"cn": HOSTILE, "sAMAccountName": "mv.user"}
    there = user(ad, "mv.user")
    assert there.dn == moved
    back = ad.move(there, STAFF)
    assert norm_dn(back) == norm_dn(dn)
    assert admin.get(dn, "sAMAccountName") == {"sAMAccountName": "mv.user"}
    with pytest.raises(ActionFailed, match="the OU or container does not exist") as info:
        ad.move(user(ad, "mv.user"), f"OU=Nowhere,{B}")
    assert "mv.user" in str(info.value)
    assert admin.get(dn, "sAMAccountName") == {"sAMAccountName": "mv.user"}


def test_set_attributes_replaces_and_removes(ad: ActiveDirectory, admin: Admin) -> None:
    dn = admin.add_user("at.user", title="Old", telephoneNumber="+1 555")
    entry = user(ad, "at.user")
    ad.set_attributes(entry, {"title": [HOSTILE], "department": ["Ops"], "telephoneNumber": []})
    got = admin.get(dn, "title", "department", "telephoneNumber")
    assert got == {"title": HOSTILE, "department": "Ops", "telephoneNumber": []}
    ad.set_attributes(entry, {"otherTelephone": ["+1 1", "+1 2"]})  # multi-valued
    got = admin.get(dn, "otherTelephone")
    assert got is not None and sorted(got["otherTelephone"]) == ["+1 1", "+1 2"]
    with pytest.raises(ValidationError, match="takes only one"):
        ad.set_attributes(entry, {"description": ["a", "b"]})  # single-valued on SAM objects
    with pytest.raises(ValidationError, match="no attribute 'noSuchAttributeAnywhere'") as info:
        ad.set_attributes(entry, {"noSuchAttributeAnywhere": ["x"]})
    assert "at.user" in str(info.value)
    got = admin.get(dn, "title", "description")
    assert got == {"title": HOSTILE, "description": []}


def test_delete(ad: ActiveDirectory, admin: Admin) -> None:
    dn = admin.add_user("dl.user")
    entry = user(ad, "dl.user")
    ad.delete(entry)
    assert admin.get(dn, "cn") is None and admin.dn_of("dl.user") is None
    with pytest.raises(ActionFailed, match="no such entry"):
        ad.delete(entry)

    parent = admin.add_user("dl.parent")
    assert admin.conn.add(f"CN=child,{parent}", "nTFRSSubscriptions"), admin.conn.result
    with pytest.raises(ActionFailed, match="has child objects"):
        ad.delete(user(ad, "dl.parent"))
    assert admin.get(parent, "cn") is not None


# -- a delegated operator: rights errors ------------------------------------------------------
def test_operator_rights_end_at_its_ou(samba: LabServer, profile: Profile,
                                       admin: Admin) -> None:
    assert isinstance(samba, SambaServer) and profile.directory is not None
    cfg = profile.directory.model_copy(update={"bind_user": f"hd.operator@{SUFFIX}",
                                               "password": f"file:{samba.operator_secret}"})
    operator = ActiveDirectory(cfg, resolve(cfg.password))
    try:
        admin.add_user("op.staff")
        outside = admin.add_user("op.users", ou=f"CN=Users,{B}")
        operator.set_password(user(operator, "op.staff"), Secret("Oper-Pass.5"),
                              must_change=True)
        assert admin.bind("op.staff", "Oper-Pass.5") == "773"
        with pytest.raises(PolicyRefused, match="insufficient access rights") as info:
            operator.set_password(user(operator, "op.users"), Secret("Oper-Pass.6"),
                                  must_change=False)
        assert "Oper-Pass.6" not in str(info.value)
        assert admin.bind("op.users", START) == "ok"
        with pytest.raises(PolicyRefused):
            operator.delete(user(operator, "op.staff"))
        assert admin.get(outside, "cn") is not None
    finally:
        operator.close()


# -- bulk runs -------------------------------------------------------------------------------
def test_bulk_lookups_cover_users_groups_and_upns(ad: ActiveDirectory, admin: Admin) -> None:
    admin.add_user("bk.one", cn="Bulk One", sn="One")
    admin.add_group("bk-group")
    admin.add_user("bk.upnonly", cn="Upn Only", sn="Only",
                   userPrincipalName=f"bk.upn@{SUFFIX}")
    asked = ["BK.ONE", "bk-group", "bk.upn", "bk.free", "bk*"]
    lookup = ad.lookup_logins(asked)
    found = lookup.users
    assert set(found) == {"bk.one", "bk-group", "bk.upn", "bk.free", "bk*"}
    assert found["bk.one"] is not None and found["bk.one"].login == "bk.one"
    assert found["bk.one"] == ad.find_user("bk.one")  # read like a single lookup
    assert found["bk-group"] is None and found["bk.free"] is None and found["bk*"] is None
    assert found["bk.upn"] is None  # a UPN is not a login
    # a group's name and another account's UPN are taken for a new account's login too
    assert lookup.taken == {"bk.one", "bk-group", "bk.upn"}


def test_add_members_says_which_member_failed(ad: ActiveDirectory, admin: Admin) -> None:
    one = user(ad, "bk.m1") if admin.add_user("bk.m1", cn="Member One", sn="One") else None
    two = user(ad, "bk.m2") if admin.add_user("bk.m2", cn="Member Two", sn="Two") else None
    assert one is not None and two is not None
    ghost = replace(two, dn=f"CN=Ghost,{STAFF}", login="bk.ghost")
    group = ad.find_group(admin.add_group("bk-members", one.dn))  # one is a member already
    assert group is not None
    failed = ad.add_members(group, [one, ghost, two])
    assert set(failed) == {ghost.dn}  # the batch was refused, then one by one
    assert isinstance(failed[ghost.dn], ActionFailed | ValidationError)
    members = {m.lower() for m in admin.get(group.dn, "member")["member"]}  # type: ignore[index]
    assert members == {one.dn.lower(), two.dn.lower()}


def test_namesakes_get_the_login_in_their_cn_on_create_and_on_move(ad: ActiveDirectory,
                                                                   admin: Admin) -> None:
    """CN is unique per OU, logins per domain: a second Jan Novák is told apart by his."""
    first = ad.create_user(NewUser("ns.one", "Jan", "Namesake", "Jan Namesake",
                                   Secret(START), STAFF, must_change=False))
    second = ad.create_user(NewUser("ns.two", "Jan", "Namesake", "Jan Namesake",
                                    Secret(START), STAFF, must_change=False))
    assert first == f"CN=Jan Namesake,{STAFF}"
    assert second == f"CN=Jan Namesake (ns.two),{STAFF}"
    assert admin.get(second, "sAMAccountName") == {"sAMAccountName": "ns.two"}
    admin.add_user("ns.three", cn="Jan Namesake", ou=QUARANTINE, displayName="Jan Namesake")
    moved = ad.move(user(ad, "ns.one"), QUARANTINE)  # a namesake is in quarantine already
    assert moved == f"CN=Jan Namesake (ns.one),{QUARANTINE}"
    assert admin.get(moved, "sAMAccountName") == {"sAMAccountName": "ns.one"}
    assert admin.get(first, "cn") is None
