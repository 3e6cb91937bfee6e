"""`account show` and `account find` on Entra ID, against the Graph fake."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.fakes.graphrig import GraphRig, graph_fixture  # noqa: F401 - the fixture

Cli = Callable[..., Any]


@pytest.mark.parametrize("credential", ["certificate", "secret"])
def test_show_reads_the_user_with_either_credential(graph: GraphRig, cli: Cli,
                                                    credential: str) -> None:
    graph.profile(credential=credential)
    r = cli("-p", "entra", "account", "show", "jnovak", "-o", "json")
    assert r.code == 0, r.err
    row = json.loads(r.out)[0] if r.out.lstrip().startswith("[") else json.loads(r.out)
    assert row["display_name"] == "Jan Novák"
    assert row["enabled"] is True
    assert set(row["groups"]) == {"Sales", "Staff"}
    assert row["protected"] is None
    assert graph.fake.issuer.issued == 1
    gets = graph.fake.writes("GET", "/users/jnovak@")
    assert gets and gets[0].status == 200
    # the user, its groups, its roles and the licences: one $batch post, nothing more
    assert [q.path for q in graph.fake.log if not q.in_batch] == ["/$batch"]


def test_show_an_administrator_says_why_it_is_protected(graph: GraphRig, cli: Cli) -> None:
    graph.profile()
    r = cli("-p", "entra", "account", "show", "admin", "-o", "json")
    assert r.code == 0, r.err
    out = json.loads(r.out)
    row = out[0] if isinstance(out, list) else out
    assert row["protected"] == "member of the privileged directory role Global Administrator"


def test_show_a_missing_user_is_exit_2(graph: GraphRig, cli: Cli) -> None:
    graph.profile()
    r = cli("-p", "entra", "account", "show", "nobody")
    assert r.code == 2
    assert "no account" in r.err


def test_wrong_secret_is_exit_3_and_never_printed(graph: GraphRig, cli: Cli) -> None:
    graph.profile(credential="secret")
    secret_file = graph.folder / "entra.credential"
    secret_file.write_text("Wrong~Secret~Value~123456")
    r = cli("-p", "entra", "account", "show", "jnovak")
    assert r.code == 3
    assert "AADSTS7000215" in r.err and "client secret" in r.err
    assert "Wrong~Secret~Value~123456" not in r.out + r.err


def test_missing_permission_is_exit_3_naming_it(graph: GraphRig, cli: Cli) -> None:
    from tests.fakes.graphrig import CLIENT_ID

    graph.fake.issuer.apps[CLIENT_ID].roles = {"Group.Read.All"}
    graph.profile()
    r = cli("-p", "entra", "account", "show", "jnovak")
    assert r.code == 3
    assert "User.Read.All" in r.err and "admin consent" in r.err


@pytest.mark.parametrize("text", ["' or 1 eq 1", "x') or startswith(displayName,'",
                                  "O'Brien", "a%27b", "50% #1 & co", "a/b"])
def test_find_never_widens_the_query(graph: GraphRig, cli: Cli, text: str) -> None:
    from adminkit.lab import graph_odata as odata

    graph.profile()
    r = cli("-p", "entra", "account", "find", text, "--in", "name", "-o", "json")
    assert r.code == 0, r.err
    assert json.loads(r.out) == []
    [req] = graph.fake.writes("GET", "/users")
    tree = req.filter
    assert tree is not None
    # three equality tests, each on one property, each with the whole text as its value
    leaves: list[odata.Node] = []

    def walk(node: odata.Node) -> None:
        if node.op == "or":
            for arg in node.args:
                walk(arg)
        else:
            leaves.append(node)

    walk(tree)
    assert [(n.op, n.args[0].path, n.args[1]) for n in leaves] == [
        ("eq", "displayName", text), ("eq", "givenName", text), ("eq", "surname", text)]


def test_find_by_prefix_and_suffix(graph: GraphRig, cli: Cli) -> None:
    graph.profile()
    r = cli("-p", "entra", "account", "find", "Jan*", "--in", "name", "--wildcards",
            "-o", "json")
    assert r.code == 0, r.err
    assert [u["login"] for u in json.loads(r.out)] == ["jnovak"]
    r = cli("-p", "entra", "account", "find", "*ová", "--in", "name", "--wildcards",
            "-o", "json")
    assert r.code == 0, r.err
    assert [u["login"] for u in json.loads(r.out)] == ["psvoboda"]
    [req] = [q for q in graph.fake.writes("GET", "/users") if "endswith" in
             q.query.get("$filter", "")]
    assert req.headers.get("consistencylevel") == "eventual" and req.query["$count"] == "true"


def test_find_pages_through_next_links(graph: GraphRig, cli: Cli) -> None:
    for k in range(250):
        graph.tenant.add_user(f"bulk{k}@{graph.domain}", f"Bulk User {k}", given="Bulk",
                              surname=f"User{k}")
    graph.profile()
    r = cli("-p", "entra", "account", "find", "Bulk*", "--in", "name", "--wildcards",
            "--limit", "1000", "-o", "json")
    assert r.code == 0, r.err
    assert len(json.loads(r.out)) == 250
    assert len(graph.fake.writes("GET", "/users")) == 1  # $top=999: one page
    r = cli("-p", "entra", "account", "find", "Bulk*", "--in", "name", "--wildcards",
            "--limit", "240", "-o", "json")
    assert len(json.loads(r.out)) == 240


def test_a_credential_that_is_not_a_certificate_is_exit_2(graph: GraphRig, cli: Cli) -> None:
    graph.profile()
    (graph.folder / "entra.credential").write_text("not a PEM at all")
    r = cli("-p", "entra", "account", "show", "jnovak")
    assert r.code == 2 and "not a PEM" in r.err and "Traceback" not in r.err
    (graph.folder / "entra.credential").write_bytes(graph.credential.replace(b"A", b"B", 40))
    r = cli("-p", "entra", "account", "show", "jnovak")
    assert r.code in (2, 3) and "Traceback" not in r.err  # a damaged key or a refused one


def test_a_token_graph_refuses_is_exit_3(graph: GraphRig, cli: Cli) -> None:
    graph.profile()
    graph.fake.issuer.lifetime = -10  # every token it gives has expired already
    r = cli("-p", "entra", "account", "show", "jnovak")
    assert r.code == 3 and "refused the app's token" in r.err
    assert [q.status for q in graph.fake.log] == [401]
