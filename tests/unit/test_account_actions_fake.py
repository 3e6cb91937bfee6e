"""The in-memory directory answers as the real backends do where the actions depend on it.

Each assertion here restates one that tests/integration/test_directory_ad.py or
test_directory_openldap.py makes against the lab's servers: if a backend's behaviour
changes there, the fake must follow, or the fast action tests test a fiction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from adminkit.accounts.directory import NewUser
from adminkit.core.config import PolicyConfig, Profile
from adminkit.core.context import Context
from adminkit.core.errors import (
    ActionFailed,
    ConfigError,
    PolicyRefused,
    ValidationError,
)
from adminkit.core.run import Run
from adminkit.core.secrets import Secret
from tests.fakes.memdir import MemDirectory, bind, config, dn_key

HOSTILE = "O'Brien, Jr. (admin)*\\"


@pytest.fixture(params=["ad", "openldap"])
def directory(request: pytest.FixtureRequest) -> MemDirectory:
    return MemDirectory(config(request.param))


def new(d: MemDirectory, login: str, **fields: object) -> NewUser:
    base = NewUser(login=login, given_name="Jan", surname="Namesake",
                   display_name="Jan Namesake", password=Secret("Create-Pass.1"),
                   ou=str(d.config.users_ou), must_change=False)
    return replace(base, **fields)  # type: ignore[arg-type]


def test_dns_are_escaped_and_compared_as_a_server_compares_them(
        directory: MemDirectory) -> None:
    dn = directory.add_user("hostile", display_name=HOSTILE)
    ou = str(directory.config.users_ou)
    if directory.kind == "ad":
        assert dn == f"CN=O'Brien\\, Jr. (admin)*\\\\,{ou}"
        same = f"cn = O'BRIEN\\2C jr. (Admin)*\\5c , {ou.lower().replace(',', ' , ')}"
        assert dn_key(same) == dn_key(dn)
        assert directory.get_user(same) == directory.entry("hostile")
    assert directory.get_user(dn.lower()) == directory.entry("hostile")
    assert directory.get_user(f"cn=Nobody,{ou}") is None
    with pytest.raises(ValidationError, match="not a valid DN"):
        dn_key("no equals sign")


def test_logins_match_in_any_case_and_two_holders_are_an_error(
        directory: MemDirectory) -> None:
    directory.add_user("rf.user")
    assert directory.find_user("RF.USER") == directory.entry("rf.user")
    assert directory.find_user("rf.nobody") is None
    if directory.kind == "openldap":  # slapd takes the same uid in another OU
        other = directory.add_ou(f"ou=other,{directory.config.base_dn}")
        directory.add_user("rf.user", ou=other)
        with pytest.raises(ValidationError, match="more than one account"):
            directory.find_user("rf.user")
        assert "rf.user" not in directory.lookup_logins(["rf.user"]).users


def test_ad_bulk_lookups_cover_users_groups_and_upns() -> None:
    ad = MemDirectory(config("ad"))
    ad.add_user("bk.one")
    ad.add_group("bk-group")
    ad.add_user("bk.upnonly", attributes={"userPrincipalName": "bk.upn@samdom.example.com"})
    lookup = ad.lookup_logins(["BK.ONE", "bk-group", "bk.upn", "bk.free", "bk*"])
    assert set(lookup.users) == {"bk.one", "bk-group", "bk.upn", "bk.free", "bk*"}
    assert lookup.users["bk.one"] == ad.find_user("bk.one")
    assert lookup.users["bk-group"] is None and lookup.users["bk.upn"] is None
    assert lookup.taken == {"bk.one", "bk-group", "bk.upn"}
    assert ad.login_taken("bk-group") and not ad.login_taken("bk.free")


def test_create_refuses_as_the_server_does(directory: MemDirectory) -> None:
    with pytest.raises(ActionFailed, match="no such entry"):
        directory.create_user(new(directory, "cr.err", ou=f"ou=Nowhere,{directory.config.base_dn}"))
    directory.create_user(new(directory, "cr.taken"))
    if directory.kind == "ad":
        with pytest.raises(ValidationError, match="sAMAccountName is already taken"):
            directory.create_user(new(directory, "cr.taken", display_name="Other Name"))
        with pytest.raises(ValidationError, match="does not allow '\\*'"):
            directory.create_user(new(directory, "cr*err"))
    else:
        with pytest.raises(ActionFailed, match="it already exists"):
            directory.create_user(new(directory, "cr.taken"))
    with pytest.raises(ValidationError, match="policy") as weak:
        directory.create_user(new(directory, "cr.weak", password=Secret("Zq9-v")))
    assert "Zq9-v" not in str(weak.value)
    assert directory.find_user("cr.weak") is None and directory.find_user("cr.err") is None


def test_ad_namesakes_get_the_login_in_their_cn_on_create_and_on_move() -> None:
    ad = MemDirectory(config("ad"))
    staff, quarantine = ad.config.users_ou, ad.config.quarantine_ou
    first = ad.create_user(new(ad, "ns.one"))
    assert ad.create_user(new(ad, "ns.two")) == f"CN=Jan Namesake (ns.two),{staff}"
    ad.add_user("ns.three", "Jan", "Namesake", ou=quarantine)
    assert ad.move(ad.entry("ns.one"), str(quarantine)) == \
        f"CN=Jan Namesake (ns.one),{quarantine}"
    assert ad.get_user(first) is None


def test_groups_direct_nested_and_tolerant_writes(directory: MemDirectory) -> None:
    dn = directory.add_user("gr.user")
    inner = directory.add_group("gr-inner (x)*", dn)
    outer = directory.add_group("gr-outer", inner)
    entry = directory.entry("gr.user")
    assert entry.groups == (inner,)
    assert {g.dn for g in directory.user_groups(entry, nested=True)} == {inner, outer}
    outer_group, inner_group = directory.find_group("gr-outer"), directory.find_group(inner)
    assert outer_group is not None and inner_group is not None
    assert directory.find_group("gr-*") is None
    assert directory.group_members(outer_group) == []
    assert [u.login for u in directory.group_members(outer_group, nested=True)] == ["gr.user"]
    directory.remove_member(inner_group, entry)
    directory.remove_member(inner_group, entry)  # not there any more: tolerated
    directory.add_member(inner_group, entry)
    directory.add_member(inner_group, entry)  # already there: tolerated
    ghost = replace(entry, dn=f"cn=Ghost,{directory.config.users_ou}", login="ghost")
    failed = directory.add_members(inner_group, [entry, ghost])
    assert set(failed) == {ghost.dn} and isinstance(failed[ghost.dn], ActionFailed)
    directory.deny_writes(outer)
    with pytest.raises(PolicyRefused, match="insufficient access rights"):
        directory.add_member(outer_group, entry)


def test_protection_as_the_backends_compute_it(directory: MemDirectory) -> None:
    dn = directory.add_user("pr.named")
    entry = directory.entry("pr.named")
    for listed in ("PR.NAMED", dn.upper(), dn.replace(",", ", ")):
        assert directory.protected_reason(entry, PolicyConfig(protected_accounts=[listed]))
    assert directory.protected_reason(entry, PolicyConfig(protected_accounts=["pr.name"])) \
        is None
    with pytest.raises(ConfigError, match="Domain Admns"):
        directory.protected_reason(entry, PolicyConfig(protected_groups=["Domain Admns"]))
    admins = directory.add_group("Domain Admins")
    tier = directory.add_group("Tier", admins)  # Tier holds Domain Admins: not inside it
    group = directory.find_group(tier)
    assert group is not None
    assert directory.group_protected_reason(group, PolicyConfig(
        protected_groups=["Domain Admins"])) is None
    gone = replace(entry, dn=f"cn=Gone,{directory.config.users_ou}")
    with pytest.raises(ValidationError, match="moved or deleted"):
        directory.protected_reason(gone, PolicyConfig())


def test_writes_to_a_gone_entry_fail(directory: MemDirectory) -> None:
    directory.add_user("dl.user")
    entry = directory.entry("dl.user")
    directory.delete(entry)
    writes: list[Callable[[], None]] = [
        lambda: directory.delete(entry), lambda: directory.set_enabled(entry, False),
        lambda: directory.set_attributes(entry, {"title": ["x"]})]
    for write in writes:
        with pytest.raises(ActionFailed, match="no such entry"):
            write()
    assert directory.read_attributes(entry, ["title"]) == {"title": []}


def test_bind_answers_every_thread_and_survives_a_handover(directory: MemDirectory) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from adminkit.accounts.directory import directory_of

    profile = Profile.of(name="mem", directory=directory.config)
    ctx = bind(Context(run=Run(command="t"), profile=profile), directory)
    with ThreadPoolExecutor(2, thread_name_prefix="adminkit") as pool:
        assert set(pool.map(lambda _: directory_of(ctx), range(4))) == {directory}
    assert directory_of(ctx.handover(Run(command="t"))) is directory
