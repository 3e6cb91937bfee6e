"""The writing `account …` commands on Entra ID, in apply and check mode, read back from
the Graph fake's state (every replica), driven by the real azure-identity and
msgraph-core inside a run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.graphrig import GraphRig, graph_fixture  # noqa: F401 - the fixture

Cli = Callable[..., Any]


def _delivered(folder: Path, login: str) -> str:
    return (folder / f"{login}.password").read_text().strip()


@pytest.fixture
def pwdir(tmp_path: Path) -> Path:
    folder = tmp_path / "pw"
    folder.mkdir(mode=0o700)
    return folder


def test_create_check_then_apply_then_again(graph: GraphRig, cli: Cli, pwdir: Path) -> None:
    graph.tenant.lag = 0.5  # the next read may miss the new user on another replica
    graph.profile(extra="accounts:\n  template:\n    groups: [Staff]\n    attributes: "
                        "{department: Support, usageLocation: CZ, manager: jnovak}\n")
    args = ("-p", "entra", "account", "create", "--given-name", "Eva", "--surname", "Horáková",
            "--deliver", f"file:{pwdir}")
    r = cli("--check", *args)
    assert r.code == 0, r.err
    assert graph.user("ehorakova") is None
    assert not graph.fake.writes("POST")
    tokens = graph.fake.issuer.issued
    r = cli(*args)
    assert r.code == 0, r.err + r.out
    user = graph.user("ehorakova")
    assert user is not None
    assert (user["displayName"], user["givenName"], user["surname"]) == (
        "Eva Horáková", "Eva", "Horáková")
    assert (user["department"], user["usageLocation"], user["accountEnabled"]) == (
        "Support", "CZ", True)
    assert user["_password"] == _delivered(pwdir, "ehorakova")
    assert user["_must_change"] is True
    assert user["id"] in graph.group("Staff")["_members"]
    assert user["_manager"] == graph.user("jnovak")["id"]  # type: ignore[index]
    assert graph.fake.issuer.issued == tokens + 1  # one token for the run
    r = cli(*args)
    assert r.code == 0, r.err
    assert "already exists" in r.out
    assert sum(1 for u in graph.tenant.users.values()
               if u["userPrincipalName"].startswith("ehorakova")) == 1


def test_create_whose_answer_is_lost_is_looked_up_not_made_twice(graph: GraphRig, cli: Cli,
                                                                  pwdir: Path) -> None:
    from adminkit.lab.graph_fake import Fault

    graph.profile()
    graph.fake.faults.append(Fault("POST", "/users", 504, after_write=True))
    r = cli("-p", "entra", "account", "create", "--given-name", "Ota", "--surname", "Malý",
            "--deliver", f"file:{pwdir}")
    assert r.code == 0, r.err + r.out
    assert len([u for u in graph.tenant.users.values()
                if u["userPrincipalName"].startswith("omaly")]) == 1
    assert graph.user("omaly")["_password"] == _delivered(pwdir, "omaly")  # type: ignore[index]


def test_create_lost_before_it_landed_is_sent_once_more(graph: GraphRig, cli: Cli,
                                                         pwdir: Path) -> None:
    from adminkit.lab.graph_fake import Fault

    graph.profile()
    graph.fake.faults.append(Fault("POST", "/users", 503))  # refused before any write
    r = cli("-p", "entra", "account", "create", "--given-name", "Iva", "--surname", "Malá",
            "--deliver", f"file:{pwdir}")
    assert r.code == 0, r.err + r.out
    posts = [q.status for q in graph.fake.writes("POST", "/users")]
    assert posts == [503, 201]  # looked up first (GET), then created once
    assert graph.user("imala")["_password"] == _delivered(pwdir, "imala")  # type: ignore[index]


def test_disable_blocks_and_ends_sessions_enable_undoes(graph: GraphRig, cli: Cli) -> None:
    graph.profile()
    r = cli("--check", "-p", "entra", "account", "disable", "jnovak")
    assert r.code == 0 and graph.user("jnovak")["accountEnabled"] is True  # type: ignore[index]
    r = cli("-p", "entra", "account", "disable", "jnovak")
    assert r.code == 0, r.err
    user = graph.user("jnovak")
    assert user is not None and user["accountEnabled"] is False
    assert user["_sessions_revoked"] is not None
    r = cli("-p", "entra", "account", "disable", "jnovak", "-o", "json")
    assert r.code == 0 and "already disabled" in r.out
    r = cli("-p", "entra", "account", "enable", "jnovak")
    assert r.code == 0 and user["accountEnabled"] is True


def test_privileged_and_synced_users_are_refused(graph: GraphRig, cli: Cli) -> None:
    graph.profile()
    r = cli("-p", "entra", "account", "disable", "admin")
    assert r.code == 4 and "Global Administrator" in r.out + r.err
    assert graph.user("admin")["accountEnabled"] is True  # type: ignore[index]
    r = cli("-p", "entra", "account", "disable", "syncd")
    assert r.code == 4 and "on-premises Active Directory" in r.out + r.err
    assert graph.user("syncd")["accountEnabled"] is True  # type: ignore[index]


def test_password_reset_delivers_and_sets(graph: GraphRig, cli: Cli, pwdir: Path) -> None:
    graph.profile()
    r = cli("-p", "entra", "account", "password", "psvoboda", "--deliver", f"file:{pwdir}")
    assert r.code == 0, r.err
    user = graph.user("psvoboda")
    assert user is not None and user["_password"] == _delivered(pwdir, "psvoboda")
    assert user["_must_change"] is True
    assert _delivered(pwdir, "psvoboda") not in r.out + r.err


def test_groups_add_remove_and_guards(graph: GraphRig, cli: Cli) -> None:
    graph.profile()
    ps = graph.user("psvoboda")
    assert ps is not None
    r = cli("-p", "entra", "account", "groups", "psvoboda", "--add", "Sales", "--remove",
            "Staff")
    assert r.code == 0, r.err
    assert ps["id"] in graph.group("Sales")["_members"]
    assert ps["id"] not in graph.group("Staff")["_members"]
    r = cli("-p", "entra", "account", "groups", "psvoboda", "--add", "Helpdesk Operators")
    assert r.code == 4 and "role-assignable" in r.out + r.err
    assert ps["id"] not in graph.group("Helpdesk Operators")["_members"]
    r = cli("-p", "entra", "account", "groups", "psvoboda", "--add", "OnPrem Finance")
    assert r.code == 4 and "on-premises" in r.out + r.err
    assert ps["id"] not in graph.group("OnPrem Finance")["_members"]
    r = cli("-p", "entra", "account", "groups", "psvoboda", "--clear")
    assert r.code == 0, r.err
    assert ps["id"] not in graph.group("Sales")["_members"]


def test_delete_restore_and_hard_delete(graph: GraphRig, cli: Cli) -> None:
    graph.profile()
    uid = graph.user("kdvorak")["id"]  # type: ignore[index]
    r = cli("--check", "-p", "entra", "account", "delete", "kdvorak")
    assert r.code == 0 and uid in graph.tenant.users
    r = cli("-p", "entra", "account", "delete", "kdvorak")
    assert r.code == 0, r.err
    assert uid not in graph.tenant.users and uid in graph.tenant.deleted
    r = cli("--check", "-p", "entra", "account", "restore", "kdvorak")
    assert r.code == 0 and uid in graph.tenant.deleted
    r = cli("-p", "entra", "account", "restore", "kdvorak")
    assert r.code == 0, r.err
    assert uid in graph.tenant.users and uid not in graph.tenant.deleted
    r = cli("-p", "entra", "account", "delete", "kdvorak", "--hard")
    assert r.code == 0, r.err
    assert uid not in graph.tenant.users and uid not in graph.tenant.deleted


def test_licences_add_remove_and_missing_usage_location(graph: GraphRig, cli: Cli) -> None:
    graph.profile()
    r = cli("-p", "entra", "account", "licenses", "jnovak", "--add", "EMS", "--remove",
            "ENTERPRISEPACK")
    assert r.code == 0, r.err
    jn = graph.user("jnovak")
    assert jn is not None
    assert [graph.tenant.skus[lic["skuId"]]["skuPartNumber"]
            for lic in jn["assignedLicenses"]] == ["EMS"]
    r = cli("-p", "entra", "account", "show", "jnovak", "-o", "json")
    out = json.loads(r.out)
    assert (out[0] if isinstance(out, list) else out)["licenses"] == ["EMS"]
    r = cli("-p", "entra", "account", "licenses", "psvoboda", "--add", "ENTERPRISEPACK")
    assert r.code == 2 and "usage location" in r.out + r.err
    assert graph.user("psvoboda")["assignedLicenses"] == []  # type: ignore[index]
    r = cli("-p", "entra", "account", "licenses", "jnovak", "--add", "NOSUCHSKU")
    assert r.code == 2 and "ENTERPRISEPACK" in r.out + r.err


def test_bulk_import_under_throttling_loses_and_doubles_nothing(graph: GraphRig, cli: Cli,
                                                                 pwdir: Path,
                                                                 tmp_path: Path) -> None:
    from adminkit.lab.graph_fake import Quota

    graph.fake.quota = Quota(limit=25, window=1.0)  # far fewer writes than the file needs
    graph.tenant.lag = 0.3
    graph.profile(extra="accounts:\n  workers: 4\n  template:\n    groups: [Staff]\n")
    rows = ["given_name,surname"] + [f"Anna,Testová{k}" for k in range(60)]
    csv = tmp_path / "new.csv"
    csv.write_text("\n".join(rows) + "\n")
    r = cli("-p", "entra", "account", "import", str(csv), "--deliver", f"file:{pwdir}")
    assert r.code == 0, r.out + r.err
    made = [u for u in graph.tenant.users.values() if u["surname"].startswith("Testová")]
    assert len(made) == 60
    assert len({u["userPrincipalName"] for u in made}) == 60
    staff = graph.group("Staff")["_members"]
    assert all(u["id"] in staff for u in made)
    for user in made:
        login = user["userPrincipalName"].split("@")[0]
        assert user["_password"] == _delivered(pwdir, login)
    assert graph.fake.quota.throttled > 0  # it was throttled, and went on
    assert graph.fake.issuer.issued == 1  # one token for every worker of the run
    creates = graph.fake.writes("POST", "/users")
    assert sum(1 for c in creates if c.status == 201) == 60
    assert not [c for c in creates if c.status == 400]  # never sent twice
    sizes = [len(b.body["requests"]) for b in graph.fake.log if b.path == "/$batch"]
    assert max(sizes) <= 20 and max(sizes) > 4  # writes of several workers share a post


def test_profile_protected_accounts_and_groups_are_refused(graph: GraphRig, cli: Cli,
                                                           pwdir: Path) -> None:
    graph.profile(extra="policy:\n  protected_accounts: [psvoboda]\n"
                        "  protected_groups: [Sales]\n")
    r = cli("-p", "entra", "account", "disable", "psvoboda")
    assert r.code == 4 and "protected accounts" in r.out + r.err
    r = cli("-p", "entra", "account", "password", "jnovak", "--deliver", f"file:{pwdir}")
    assert r.code == 4 and "protected group Sales" in r.out + r.err
    assert list(pwdir.iterdir()) == []
    r = cli("-p", "entra", "account", "groups", "kdvorak", "--add", "Sales")
    assert r.code == 4
    assert graph.user("kdvorak")["id"] not in graph.group("Sales")["_members"]  # type: ignore[index]
    assert graph.user("psvoboda")["accountEnabled"] is True  # type: ignore[index]


def test_bulk_disable_and_profile_check(graph: GraphRig, cli: Cli, tmp_path: Path) -> None:
    graph.profile()
    csv = tmp_path / "leavers.csv"
    csv.write_text("login\njnovak\npsvoboda\n")
    r = cli("-p", "entra", "account", "bulk", "disable", str(csv))
    assert r.code == 0, r.out + r.err
    for login in ("jnovak", "psvoboda"):
        user = graph.user(login)
        assert user is not None and user["accountEnabled"] is False
        assert user["_sessions_revoked"] is not None
    r = cli("profile", "check", "entra", "-o", "json")
    assert r.code == 0, r.out + r.err
    assert "Microsoft Graph" in r.out


def test_set_properties_then_licence(graph: GraphRig, cli: Cli) -> None:
    graph.profile(extra="accounts:\n  settable_attributes: [title, department, usageLocation]\n")
    r = cli("-p", "entra", "account", "set", "psvoboda", "title=Accountant",
            "department=Finance", "usageLocation=CZ")
    assert r.code == 0, r.out + r.err
    user = graph.user("psvoboda")
    assert user is not None
    assert (user["jobTitle"], user["department"], user["usageLocation"]) == (
        "Accountant", "Finance", "CZ")
    r = cli("-p", "entra", "account", "set", "psvoboda", "title=Accountant")
    assert r.code == 0 and "PATCH" not in {q.method for q in graph.fake.log[-3:]}
    r = cli("-p", "entra", "account", "licenses", "psvoboda", "--add", "ENTERPRISEPACK")
    assert r.code == 0, r.out + r.err
    assert len(user["assignedLicenses"]) == 1
    r = cli("-p", "entra", "account", "set", "syncd", "title=X")
    assert r.code == 4 and "on-premises" in r.out + r.err
