"""Directory input edge cases on the lab's real AD and OpenLDAP (issue 12).

A group value with `=` in it is a DN only if it parses as one under the directory's
base; search text has a length limit; an RDN value with RFC 4514 specials is stored
as given and the DN reported is the one the server holds. Outcomes are read back
through an admin connection of the test's own (`Dir`).
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

from tests.integration import test_accounts_cli as accounts
from tests.integration.test_accounts_cli import GROUP, Cli, Dir, create, run, status

directory = accounts.directory  # the module-scoped fixture: AD and OpenLDAP, reset once

# each once gave a raw LDAP error and exit 1 (taken as a DN)
NOT_DNS = ["*)(uid=*", "==x", "jnovak=", "x,ou=Domain Controllers"]


def tag() -> str:
    return uuid.uuid4().hex[:6]


def dn_meaning(dn: str) -> list[tuple[str, str]]:
    """A DN's (attribute, value) pairs with escapes undone: `\\,` and `\\2C` mean the same."""
    def one(m: re.Match[bytes]) -> bytes:
        pair = m.group(1)
        return bytes([int(pair, 16)]) if len(pair) == 2 else pair

    def plain(value: str) -> str:
        return re.sub(rb"\\([0-9A-Fa-f]{2}|.)", one, value.encode(), flags=re.S).decode()

    rdns = re.findall(r"(?:[^,\\]|\\.)+", dn)  # ldap3's parse_dn refuses a plain # in a value
    return [(attr.strip().lower(), plain(value).lower())
            for attr, _, value in (rdn.partition("=") for rdn in rdns)]


def same(out: dict[str, Any], dn: str) -> bool:
    """The DN the command reported is `dn`."""
    return dn_meaning(out["results"][0]["data"]["dn"]) == dn_meaning(dn)


def group_dn(d: Dir, name: str) -> str:
    from ldap3.utils.conv import escape_filter_chars

    d.conn.search(d.cfg.base_dn, f"(cn={escape_filter_chars(name)})", attributes=["1.1"])
    [found] = [e for e in d.conn.response if e["type"] == "searchResEntry"]
    return str(found["dn"])


def test_group_value_with_equals_is_a_name_unless_a_dn_under_the_base(
        cli: Cli, directory: Dir, tmp_path: Path) -> None:
    login = create(cli, directory, "Rovna", f"Hodnota{tag()}", tmp_path)
    for value in NOT_DNS:
        out = run(cli, directory, "account", "groups", login, "--add", value)
        assert out["_code"] == 2, (value, out)
        assert "no such group" in out["results"][0]["error"], (value, out)
        assert directory.groups(login) == set(), value  # nothing changed
    # a DN outside the base is not looked up as a DN either
    out = run(cli, directory, "account", "groups", login, "--add", "cn=x,dc=elsewhere,dc=test")
    assert out["_code"] == 2 and "no such group" in out["results"][0]["error"], out
    # a real group's DN still names it
    dn = group_dn(directory, GROUP[directory.profile])
    out = run(cli, directory, "account", "groups", login, "--add", dn)
    assert status(out) == "changed", out
    assert directory.groups(login) == {GROUP[directory.profile].lower()}


def test_find_refuses_over_long_text_with_exit_2(cli: Cli, directory: Dir) -> None:
    out = run(cli, directory, "account", "find", "x" * 65_536)
    assert out["_code"] == 2, out
    assert "256" in out["_err"] and "connection" not in out["_err"], out["_err"]
    assert run(cli, directory, "account", "find", "x" * 256)["_code"] == 0  # the limit itself
    out = run(cli, directory, "account", "find", "x" * 257)
    assert out["_code"] == 2, out


# surnames whose display names carry every RFC 4514 special, and a leading #
SPECIAL_SURNAMES = [",,", "O'Brien\\", "a+b=c;d", '"q"<x>', "#1 ,"]


def test_rdn_specials_are_stored_as_given_and_reported_as_stored(
        cli: Cli, directory: Dir, tmp_path: Path) -> None:
    quarantine = directory.cfg.quarantine_ou
    assert quarantine is not None
    for i, surname in enumerate(SPECIAL_SURNAMES):
        def make(login: str, surname: str = surname) -> dict[str, Any]:
            out = run(cli, directory, "account", "create", "--given-name", "Eva", "--surname",
                      surname, "--login", login, "--deliver", f"file:{tmp_path}")
            assert out["_code"] == 0, (surname, out)
            return out

        login = f"rdn{i}{tag()}"
        out = make(login)
        reported = out["results"][0]["data"]["dn"]
        entry = directory.entry(login, ["cn", "sn"])
        assert entry is not None, surname
        assert entry["sn"] == [surname]
        # the journal names the DN that exists (hex-escaped: Samba misreads its own `\\,`)
        assert dn_meaning(reported) == dn_meaning(entry["dn"]), (reported, entry["dn"])
        if directory.cfg.kind == "ad":
            assert entry["cn"] == [f"Eva {surname}"], entry

        # a namesake in the same OU: CN=Name (login), escaped the same way
        twin = f"rdt{i}{tag()}"
        out = make(twin)
        entry = directory.entry(twin, ["cn"])
        assert entry is not None and same(out, entry["dn"])
        if directory.cfg.kind == "ad":
            assert entry["cn"] == [f"Eva {surname} ({twin})"], entry

        if directory.cfg.kind == "ad" and surname.endswith(","):
            continue  # Samba answers 32 to a rename or delete of a CN ending in " ," or ",,"
        # a move keeps the RDN and reports where the entry now is
        out = run(cli, directory, "account", "move", login, "--ou", quarantine)
        assert status(out) == "changed", (surname, out["results"][0])
        entry = directory.entry(login, ["cn"])
        assert entry is not None and entry["dn"].lower().endswith(quarantine.lower())
        assert same(out, entry["dn"]), surname
        if directory.cfg.kind == "ad":
            assert entry["cn"] == [f"Eva {surname}"], entry
        # a namesake moved after it: CN=Name (login) in the target OU
        third = f"rdm{i}{tag()}"
        make(third)
        out = run(cli, directory, "account", "move", third, "--ou", quarantine)
        assert status(out) == "changed", (surname, out)
        entry = directory.entry(third, ["cn"])
        assert entry is not None and same(out, entry["dn"]), surname
        if directory.cfg.kind == "ad":
            assert entry["cn"] == [f"Eva {surname} ({third})"], entry
