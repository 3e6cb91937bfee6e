"""`account restore` on Entra against the Graph fake, which keeps deleted users as
Entra does: the UPN gets the object id (no hyphens) in front, mail and proxy addresses
stay, memberships, roles and licences are kept but unreadable (404) until the restore,
and Graph refuses an app in no administrator role the restore of an administrator."""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable
from typing import Any

import httpx

from tests.fakes.graphrig import GraphRig, graph_fixture  # noqa: F401 - the fixture
from tests.unit.test_entra_fake import token

Cli = Callable[..., Any]


def _http(graph: GraphRig) -> httpx.Client:
    return httpx.Client(base_url=graph.fake.base + "/v1.0/",
                        verify=ssl.create_default_context(cafile=str(graph.ca)),
                        headers={"Authorization": "Bearer " + token(graph)})


def _restores(graph: GraphRig) -> list[Any]:
    return [r for r in graph.fake.writes("POST", "/directory/deletedItems")
            if r.path.endswith("/restore")]


def test_a_deleted_user_looks_as_in_entra_and_comes_back_whole(graph: GraphRig,
                                                              cli: Cli) -> None:
    graph.profile()
    jn = graph.user("jnovak")
    assert jn is not None
    uid, upn = jn["id"], jn["userPrincipalName"]
    r = cli("-p", "entra", "account", "delete", "jnovak")
    assert r.code == 0, r.out + r.err
    with _http(graph) as http:
        mine = http.get(f"directory/deletedItems/{uid}",
                        params={"$select": "userPrincipalName,mail,proxyAddresses"}).json()
        assert mine["userPrincipalName"] == uid.replace("-", "") + upn
        assert mine["mail"] == jn["mail"] and mine["proxyAddresses"] == [f"SMTP:{jn['mail']}"]
        listed = "directory/deletedItems/microsoft.graph.user"
        by_eq = http.get(listed, params={"$filter": f"userPrincipalName eq '{upn}'"})
        assert by_eq.json()["value"] == []  # the UPN it had finds nothing
        plain = http.get(listed, params={"$filter": f"endswith(userPrincipalName,'{upn}')"})
        assert plain.status_code == 400  # endswith is an advanced query
        by_end = http.get(listed, headers={"ConsistencyLevel": "eventual"}, params={
            "$filter": f"endswith(userPrincipalName,'{upn}')", "$count": "true"})
        assert [u["id"] for u in by_end.json()["value"]] == [uid]
        for relation in ("memberOf", "transitiveMemberOf"):
            assert http.get(f"users/{uid}/{relation}").status_code == 404
        assert uid not in {m["id"] for m in http.get(
            f"groups/{graph.group('Sales')['id']}/members").json()["value"]}
    assert graph.user("jnovak") is None  # the UPN is free
    r = cli("-p", "entra", "-o", "json", "account", "restore", "jnovak")
    assert r.code == 0, r.out + r.err
    back = graph.user("jnovak")
    assert back is not None and back["id"] == uid and back["userPrincipalName"] == upn
    assert uid in graph.group("Sales")["_members"] and uid in graph.group("Staff")["_members"]
    assert len(back["assignedLicenses"]) == 1
    assert [r.body for r in _restores(graph)] == [{"autoReconcileProxyConflict": True}]


def test_an_administrator_is_not_restored_by_an_app_in_no_role(graph: GraphRig,
                                                               cli: Cli) -> None:
    """adminkit's app holds no role: Graph itself refuses (403); the tenant refusing the
    app is exit 3, as for a missing permission, which Graph words alike."""
    graph.profile()
    admin = graph.user("admin")
    assert admin is not None
    graph.tenant.soft_delete(admin)  # deleted in the portal (adminkit refuses to)
    r = cli("-p", "entra", "account", "restore", "admin")
    assert r.code == 3, r.out + r.err
    assert "administrator role" in r.out + r.err
    assert admin["id"] in graph.tenant.deleted and admin["id"] not in graph.tenant.users
    assert graph.role("Global Administrator")["_members"] >= {admin["id"]}  # kept


def test_a_role_assignable_group_member_is_not_restored_either(graph: GraphRig,
                                                               cli: Cli) -> None:
    graph.profile()
    ps = graph.user("psvoboda")
    assert ps is not None
    graph.group("Helpdesk Operators")["_members"].add(ps["id"])
    graph.tenant.soft_delete(ps)
    r = cli("-p", "entra", "account", "restore", "psvoboda")
    assert r.code == 3, r.out + r.err
    assert ps["id"] in graph.tenant.deleted


def test_an_app_in_a_privileged_role_restores_nobody_unless_the_profile_allows(
        graph: GraphRig, cli: Cli) -> None:
    """Such an app would bring back a Global Administrator, and the deleted user's roles
    cannot be read: refused before anything is sent, even an ordinary user."""
    graph.role("Global Administrator")["_members"].add(graph.app()["id"])
    graph.profile()
    admin, kd = graph.user("admin"), graph.user("kdvorak")
    assert admin is not None and kd is not None
    graph.tenant.soft_delete(admin)
    graph.tenant.soft_delete(kd)
    for login in ("admin", "kdvorak"):
        r = cli("-p", "entra", "account", "restore", login)
        assert r.code == 4, r.out + r.err
        assert "Global Administrator" in r.out + r.err
        r = cli("--check", "-p", "entra", "account", "restore", login)
        assert r.code == 4, r.out + r.err
    assert _restores(graph) == []
    assert {admin["id"], kd["id"]} <= set(graph.tenant.deleted)
    graph.profile(options="restore_privileged: true")
    r = cli("-p", "entra", "account", "restore", "kdvorak")
    assert r.code == 0, r.out + r.err
    assert graph.user("kdvorak") is not None


def test_an_app_that_cannot_read_its_roles_restores_nobody(graph: GraphRig, cli: Cli) -> None:
    from tests.fakes.graphrig import CLIENT_ID

    graph.fake.issuer.apps[CLIENT_ID].roles -= {"Directory.Read.All"}
    graph.profile()
    kd = graph.user("kdvorak")
    assert kd is not None
    graph.tenant.soft_delete(kd)
    r = cli("-p", "entra", "account", "restore", "kdvorak")
    assert r.code == 4, r.out + r.err
    assert _restores(graph) == [] and kd["id"] in graph.tenant.deleted


def test_two_deleted_with_the_same_upn_and_one_taken_meanwhile(graph: GraphRig,
                                                              cli: Cli) -> None:
    graph.profile()
    t = graph.tenant
    first = t.add_user(f"vnova@{graph.domain}", "Vera Nová (2025)")
    t.soft_delete(first)
    second = t.add_user(f"vnova@{graph.domain}", "Vera Nová (2026)")
    t.soft_delete(second)
    r = cli("-p", "entra", "account", "restore", "vnova")
    assert r.code == 2, r.out + r.err
    assert first["id"] in r.out + r.err and second["id"] in r.out + r.err
    r = cli("-p", "entra", "account", "restore", second["id"])
    assert r.code == 0, r.out + r.err
    back = graph.user("vnova")
    assert back is not None and back["id"] == second["id"]
    # the UPN is taken now: the other one is not restored over it, by name or by id
    r = cli("-p", "entra", "account", "restore", "vnova")
    assert r.code == 2 and "active account" in r.out + r.err
    r = cli("-p", "entra", "account", "restore", first["id"])
    assert r.code == 2 and "belongs to another user" in r.out + r.err
    assert first["id"] in t.deleted and graph.user("vnova")["id"] == second["id"]  # type: ignore[index]


def test_an_address_taken_meanwhile_is_dropped_and_said(graph: GraphRig, cli: Cli) -> None:
    graph.profile()
    jn = graph.user("jnovak")
    assert jn is not None
    address = f"SMTP:{jn['mail']}"
    graph.tenant.soft_delete(jn)
    graph.tenant.add_user(f"jan.novak2@{graph.domain}", "Jan Novák Jr.",
                          mail=jn["mail"], proxyAddresses=[address])
    r = cli("-p", "entra", "-o", "json", "account", "restore", "jnovak")
    assert r.code == 0, r.out + r.err
    result = json.loads(r.out)["results"][0]
    assert result["data"]["addresses_dropped"] == [address]
    back = graph.user("jnovak")
    assert back is not None and address not in back["proxyAddresses"]


def test_hostile_names_and_a_paged_deleted_items_list(graph: GraphRig, cli: Cli) -> None:
    """Look-alikes (`1jnovak@…` ends with `jnovak@…` too) fill more than a page; the
    real one is on the last; hostile logins stay inside their string literal."""
    graph.profile()
    t = graph.tenant
    for k in range(1000):
        t.soft_delete(t.add_user(f"{k}jnovak@{graph.domain}", f"Look-alike {k}"))
    jn = graph.user("jnovak")
    assert jn is not None
    t.soft_delete(jn)
    r = cli("--check", "-p", "entra", "-o", "json", "account", "restore", "jnovak")
    assert r.code == 0, r.out + r.err
    assert json.loads(r.out)["results"][0]["changes"][0]["after"] == jn["id"]
    lists = [e for e in graph.fake.log if e.path.endswith("/microsoft.graph.user")]
    assert len(lists) == 2 and "$skiptoken" in lists[1].query  # it paged
    before = len(t.deleted)
    for evil in ("' or 1 eq 1", "x') or startswith(userPrincipalName,'", "a'b", "%27",
                 "$filter=true", "#frag"):
        graph.fake.log.clear()
        r = cli("-p", "entra", "account", "restore", evil)
        assert r.code == 2, (evil, r.out + r.err)
        asked = [e for e in graph.fake.log if e.path.endswith("/microsoft.graph.user")]
        for entry in asked:
            assert entry.filter is not None and entry.filter.op == "endswith"
            assert entry.filter.args[1] == f"{evil}@{graph.domain}"
    r = cli("-p", "entra", "account", "restore", "a" * 200)
    assert r.code == 2
    assert len(t.deleted) == before and not _restores(graph)


def test_a_hard_delete_finds_the_renamed_deleted_user_too(graph: GraphRig, cli: Cli) -> None:
    graph.profile()
    kd = graph.user("kdvorak")
    assert kd is not None
    graph.tenant.soft_delete(kd)
    r = cli("-p", "entra", "account", "delete", "kdvorak", "--hard")
    assert r.code == 0, r.out + r.err
    assert kd["id"] not in graph.tenant.deleted and graph.deleted("kdvorak") == []


def test_a_restore_into_a_protected_group_is_said(graph: GraphRig, cli: Cli) -> None:
    """A deleted user's groups cannot be read: the protected group shows after."""
    graph.profile(extra="policy:\n  protected_groups: [Sales]\n")
    jn = graph.user("jnovak")
    assert jn is not None
    graph.tenant.soft_delete(jn)
    r = cli("-p", "entra", "-o", "json", "account", "restore", "jnovak")
    assert r.code == 0, r.out + r.err
    result = json.loads(r.out)["results"][0]
    assert result["data"]["protected"] == "member of the protected group Sales"
    assert "protected now" in result["summary"] and graph.user("jnovak") is not None
