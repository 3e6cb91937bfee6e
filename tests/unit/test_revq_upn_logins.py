"""Malformed UPNs as logins, on the Entra fake: refused up front (exit 2), nothing asked.

`account delete jdoe@` (the domain forgotten) answered "no account jdoe@: nothing to
delete" with exit 0, and `unlock` "skipped" with exit 0: an operator reads that as done.
A login with an @ is a UPN: one @, a name before it, a domain after it.
"""

from __future__ import annotations

from typing import Any

import pytest

from adminkit.accounts.actions.base import LoginParams
from tests.fakes.graphrig import GraphRig, graph_fixture  # noqa: F401 - the fixture

MALFORMED = ["@", "jdoe@", "@example.test", "a@b@example.test", "jdoe@.example.test",
             "jdoe@example..test", "jdoe@example.test."]


@pytest.mark.parametrize("command", ["show", "disable", "enable", "unlock", "delete",
                                     "restore", "groups"])
def test_a_malformed_upn_is_refused_before_graph_is_asked(graph: GraphRig, cli: Any,
                                                          command: str) -> None:
    graph.profile()
    for login in MALFORMED:
        before = len(graph.fake.log)
        r = cli("-p", "entra", "account", command, login)
        assert r.code == 2, (login, r.out, r.err)
        assert "one @" in r.err, (login, r.err)
        assert "Traceback" not in r.err
        assert not [q for q in graph.fake.log[before:] if q.path.startswith("/users")], login


@pytest.mark.parametrize("login", ["jdoe", "jdoe@example.test", "a" * 64 + "@" + "b" * 43 + ".test",
                                   "jdoe@bücher.example"])
def test_well_formed_logins_and_upns_still_pass(login: str) -> None:
    assert LoginParams.model_validate({"login": login}).login == login
