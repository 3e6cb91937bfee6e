"""Odd and long logins on the lab's Samba AD and OpenLDAP: every account command answers
exit 2 with a message (never 1 or 3; a delete of no account is done already: 0),
and no entry changes (read back with `find`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from adminkit.lab.base import LabServer

UPN_113 = "a" * 64 + "@" + "b" * 43 + ".test"
ODD = ["jdoe@", "@example.test", "a@b@example.test", UPN_113, "jd*", "*)(|(uid=*",
       "*)(|(sAMAccountName=*" + "x" * 40, "x" * 64, "jdoe@bücher.example", "a\\2a"]
COMMANDS = [["show"], ["disable"], ["enable"], ["unlock"], ["delete"], ["delete", "--hard"],
            ["groups"], ["expire", "--on", "2030-01-01"]]


def everyone(cli: Callable[..., Any], profile: str) -> list[Any]:
    r = cli("-p", profile, "-o", "json", "account", "find", "*", "--wildcards")
    assert r.returncode == 0, r.stderr
    return sorted(json.dumps(u, sort_keys=True) for u in json.loads(r.stdout))


@pytest.mark.parametrize("profile", ["lab", "lab-openldap"])
def test_odd_logins_exit_2_and_change_nothing(profile: str, cli: Callable[..., Any],
                                              request: pytest.FixtureRequest) -> None:
    server: LabServer = request.getfixturevalue("samba" if profile == "lab" else "slapd")
    assert server.is_running()
    before = everyone(cli, profile)
    seen = []
    for login in ODD:
        for command in COMMANDS:
            r = cli("-p", profile, "account", command[0], login, *command[1:])
            seen.append((login, command[0], r.returncode, (r.stderr + r.stdout)[-160:]))
            assert "Traceback" not in r.stderr
    # a delete of an account that is not there is done already (idempotent, exit 0)
    bad = [s for s in seen if s[2] != 2 and not (s[1] == "delete" and s[2] == 0
                                                 and "nothing to delete" in s[3])]
    assert bad == [], bad
    assert everyone(cli, profile) == before
