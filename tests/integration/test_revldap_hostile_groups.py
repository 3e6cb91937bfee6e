"""Review of the pipelined group modifies on the lab's real slapd: groups whose names
hold the characters a DN escapes (`,` `+` `\\` `=` `#` `"` `<` `>`, letters beyond
ASCII, a long name) each get a bulk unit's new members in one pipelined modify; slapd
itself is read back: every account is a member of each (groupOfNames by DN, posixGroup
by login). (Logins cannot carry such characters: the profile's pattern refuses them.)"""

from __future__ import annotations

import csv
import io
import uuid
from pathlib import Path

import ldap3
from ldap3.utils.dn import escape_rdn

from tests.integration.test_accounts_cli import Cli, Dir
from tests.integration.test_crash_resume import letters
from tests.integration.test_ldap2000_groups import d  # noqa: F401 - the fixture
from tests.integration.test_revpipe_openldap import import_

NOBODY = "cn=nobody"  # groupOfNames must have a member: any DN will do


def members(d: Dir, dn: str, attr: str) -> set[str]:  # noqa: F811
    d.conn.search(dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=[attr])
    (found,) = [e for e in d.conn.response if e["type"] == "searchResEntry"]
    return {str(v).lower() for v in found["attributes"].get(attr, [])}


def test_hostile_group_names_get_their_members(cli: Cli, d: Dir,  # noqa: F811
                                                tmp_path: Path) -> None:
    tag = letters(uuid.uuid4().int, 5)
    names = [f"rv,a+b{tag}", f"rv\\c=d{tag}", f'#rv"e<f>{tag}', f"rvJiří{tag}",
             f"rv{tag}" + "x" * 200]
    made: list[tuple[str, str]] = []  # (dn, member attribute)
    for k, name in enumerate(names):
        dn = f"cn={escape_rdn(name)},ou=groups,{d.cfg.base_dn}"
        if k % 2:
            ok = d.conn.add(dn, ["posixGroup"], {"cn": name, "gidNumber": 7000 + k})
            made.append((dn, "memberUid"))
        else:
            ok = d.conn.add(dn, ["groupOfNames"], {"cn": name, "member": NOBODY})
            made.append((dn, "member"))
        assert ok, d.conn.result
    try:
        logins = [f"rvh{tag}{i:02d}" for i in range(6)]
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(["login", "given_name", "surname", "groups"])
        for i, login in enumerate(logins):
            writer.writerow([login, f"Hos{letters(i, 1)}", f"Rvh{tag}", ";".join(names)])
        sheet = tmp_path / "hires.csv"
        sheet.write_text(text.getvalue(), encoding="utf-8")
        folder = tmp_path / "pw"
        folder.mkdir(mode=0o700)
        code, out = import_(cli, d, sheet, folder)
        assert code == 0, out
        assert [r["status"] for r in out["results"]] == ["changed"] * len(logins), out
        for dn, attr in made:
            held = members(d, dn, attr)
            for login in logins:
                want = login if attr == "memberUid" else f"uid={login},{d.cfg.users_ou}"
                assert want.lower() in held, (dn, login, held)
    finally:
        for dn, _ in made:
            d.conn.delete(dn)


def test_the_wire_modifies_themselves_are_taken_by_slapd(d: Dir) -> None:  # noqa: F811
    """The test above would pass through the one-by-one fallback (ldap3) even if the
    pipelined modifies were refused: here they go on ldapwire's path alone, on one live
    connection, hostile member values too, and slapd answers each with success."""
    from adminkit.accounts import ldapwire
    from adminkit.accounts.connection import Link
    from adminkit.core.secrets import resolve

    tag = letters(uuid.uuid4().int, 5)
    names = [f"rw,a+b{tag}", f"rw\\c=d{tag}", f'#rw"e<f>{tag}', f"rwJiří{tag}"]
    dns = [f"cn={escape_rdn(n)},ou=groups,{d.cfg.base_dn}" for n in names]
    for dn, name in zip(dns, names, strict=True):
        assert d.conn.add(dn, ["groupOfNames"], {"cn": name, "member": NOBODY}), d.conn.result
    odd = ["x,y+z" + tag, "q\\r=" + tag, "#lead " + tag]
    values = [f"cn={escape_rdn(odd[0])},dc=example,dc=org",
              f"uid={escape_rdn(odd[1])}+cn=Jiří,dc=example,dc=org",
              f"cn={escape_rdn(odd[2])},dc=example,dc=org"]
    link = Link(d.cfg, resolve(d.cfg.password))
    try:
        got = ldapwire.modify_many(link._live(), [
            (dn, {"member": [(ldap3.MODIFY_ADD, values)]}) for dn in dns])
        assert got is not None, "not ldapwire's path"
        assert [(r["result"], r["type"]) if isinstance(r, dict) else r for r in got] == [
            (0, "modifyResponse")] * len(dns)
        for dn in dns:
            assert len(members(d, dn, "member")) == 1 + len(values)
            for value in values:  # by slapd's own DN matching (it stores them normalised)
                assert d.conn.compare(dn, "member", value) is True, (dn, value, d.conn.result)
    finally:
        link.close()
        for dn in dns:
            d.conn.delete(dn)
