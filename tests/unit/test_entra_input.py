"""Hostile values on Entra ID: stored literally or refused with exit 2, never widening a
query (the fake parses every $filter; the tests read the trees back), and reports."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.graphrig import GraphRig, graph_fixture  # noqa: F401 - the fixture

Cli = Callable[..., Any]
HOSTILE = ["O'Brien", "' or 1 eq 1", "x') or startswith(displayName,'", "a/b", "50% #1",
           "$filter=true", "Ω" * 200]


@pytest.mark.parametrize("surname", HOSTILE)
def test_hostile_surnames_are_stored_literally(graph: GraphRig, cli: Cli, tmp_path: Path,
                                               surname: str) -> None:
    graph.profile()
    pw = tmp_path / "pw"
    pw.mkdir(mode=0o700)
    r = cli("-p", "entra", "-o", "json", "account", "create", "--given-name", "Test",
            "--surname", surname, "--login", "thostile", "--deliver", f"file:{pw}")
    if len(surname) > 64:  # Graph keeps at most 64 characters of a surname
        assert r.code == 2, r.out + r.err
        assert graph.user("thostile") is None
        return
    assert r.code == 0, r.out + r.err
    user = graph.user("thostile")
    assert user is not None and user["surname"] == surname
    assert user["displayName"] == f"Test {surname}"
    for req in graph.fake.log:
        if req.filter is not None:  # every lookup stayed one literal comparison
            assert "1 eq 1" not in repr(req.filter) or "' or 1 eq 1" in repr(req.filter)


@pytest.mark.parametrize("login", ["o'brien", "a%27b", "x#y", "a/b", "A" * 65, "bad\x07"])
def test_hostile_logins_are_refused_or_literal(graph: GraphRig, cli: Cli, login: str) -> None:
    graph.profile()
    r = cli("-p", "entra", "account", "show", login)
    assert r.code == 2, r.out + r.err
    assert "Traceback" not in r.err
    asked = [q for q in graph.fake.log if q.path.startswith("/users/")]
    assert asked or len(login) > 64 or "\x07" in login  # invalid: refused before Graph
    for req in asked:  # the key, decoded, whole: one path segment
        assert req.path.removeprefix(f"/users/{login}@{graph.domain}") in (
            "", "/memberOf", "/transitiveMemberOf")


def test_import_lookup_never_widens(graph: GraphRig, cli: Cli, tmp_path: Path) -> None:
    from adminkit.lab import graph_odata as odata

    graph.profile()
    pw = tmp_path / "pw"
    pw.mkdir(mode=0o700)
    csv = tmp_path / "x.csv"
    csv.write_text("given_name,surname,login\nSeán,\"O'Brien') or (1 eq 1\",sobrien\n"
                   "Jan,Novák,jnovak\n")  # the same person: updated, not created
    r = cli("-p", "entra", "account", "import", str(csv), "--deliver", f"file:{pw}")
    assert r.code == 0, r.out + r.err
    trees = [q.filter for q in graph.fake.writes("GET", "/users") if q.filter is not None]
    assert trees
    for tree in trees:
        assert tree.op == "in" and isinstance(tree.args[0], odata.Prop)
        assert tree.args[0].path == "userPrincipalName"
        assert set(tree.args[1]) <= {f"sobrien@{graph.domain}", f"jnovak@{graph.domain}"}
    assert graph.user("sobrien")["surname"] == "O'Brien') or (1 eq 1"  # type: ignore[index]


def test_reports(graph: GraphRig, cli: Cli) -> None:
    graph.profile()

    def report(kind: str, *more: str) -> list[str]:
        r = cli("-p", "entra", "-o", "json", "account", "report", kind, *more)
        assert r.code == 0, r.out + r.err
        return sorted(u["login"] for u in json.loads(r.out))

    assert report("disabled") == ["kdvorak"]
    assert report("licensed") == ["jnovak"]
    assert "psvoboda" in report("inactive", "--days", "90")
    assert "jnovak" not in report("inactive", "--days", "90")
    never = report("never-logged-in", "--days", "0")  # created any time before now
    assert "kdvorak" in never and "jnovak" not in never and "psvoboda" not in never
    graph.tenant.premium = False
    r = cli("-p", "entra", "account", "report", "inactive")
    assert r.code == 1 and "P1" in r.out + r.err and "Traceback" not in r.err
    r = cli("-p", "entra", "account", "report", "locked")
    assert r.code == 2 and "smart lockout" in r.err
