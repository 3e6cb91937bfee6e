"""The bulk import's group modifies, pipelined together after a unit's adds, on the lab's
real slapd: every account is a member of both groups afterwards (a groupOfNames by DN, a
posixGroup by login), read back from slapd itself; a group whose modify slapd refuses as
a whole (one login is in it already) is done one by one and every row still ends well."""

from __future__ import annotations

import uuid
from pathlib import Path

import ldap3
import pytest

from tests.integration.test_accounts_cli import Cli, Dir
from tests.integration.test_crash_resume import letters
from tests.integration.test_revpipe_openldap import import_


@pytest.fixture
def d(slapd: object, lab_config_dir: Path) -> Dir:
    made = Dir("lab-openldap", lab_config_dir)
    yield made  # type: ignore[misc]
    made.conn.unbind()


def group_values(d: Dir, name: str, attr: str) -> set[str]:
    d.conn.search(f"cn={name},ou=groups,{d.cfg.base_dn}", "(objectClass=*)",
                  search_scope=ldap3.BASE, attributes=[attr])
    (found,) = [e for e in d.conn.response if e["type"] == "searchResEntry"]
    return {str(v).lower() for v in found["attributes"].get(attr, [])}


def test_every_row_joins_both_groups_even_where_one_modify_is_refused(
        cli: Cli, d: Dir, tmp_path: Path) -> None:
    tag = letters(uuid.uuid4().int, 5)
    logins = [f"rvm{tag}{i:02d}" for i in range(30)]
    # one login is in the posixGroup already: slapd refuses that unit's modify as a whole
    assert d.conn.modify(f"cn=staff-posix,ou=groups,{d.cfg.base_dn}",
                         {"memberUid": [(ldap3.MODIFY_ADD, [logins[2]])]})
    csv = tmp_path / "hires.csv"
    csv.write_text("login,given_name,surname,groups\n" + "".join(
        f"{login},Grp{letters(i, 1)},Rvm{tag},staff;staff-posix\n"
        for i, login in enumerate(logins)), encoding="utf-8")
    folder = tmp_path / "pw"
    folder.mkdir(mode=0o700)
    code, out = import_(cli, d, csv, folder)
    assert code == 0, out
    assert [r["status"] for r in out["results"]] == ["changed"] * 30, out["results"]
    dns = {f"uid={login},{d.cfg.users_ou}".lower() for login in logins}
    assert dns <= group_values(d, "staff", "member")
    assert set(logins) <= group_values(d, "staff-posix", "memberUid")
    for login in logins:
        assert d.groups(login) >= {"staff"}  # memberOf, as slapd keeps it
        password = (folder / f"{login}.password").read_text().strip()
        assert d.bind_result(login, password)["result"] == 0, login
