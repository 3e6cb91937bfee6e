"""Account work broken as a hostile user and a careless operator would (review 12c), on
the lab's real AD and OpenLDAP through the real command; outcomes read back from the
server."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.integration import test_accounts_cli as accounts
from tests.integration.test_accounts_cli import Cli, Dir, create, run, status

directory = accounts.directory  # the module-scoped fixture: AD and OpenLDAP, reset once

EXPIRY_ATTRS = {"ad": ["accountExpires"], "openldap": ["pwdEndTime", "shadowExpire"]}


def tag() -> str:
    return uuid.uuid4().hex[:6]


def by_surname(d: Dir, surname: str) -> list[str]:
    from ldap3.utils.conv import escape_filter_chars

    d.conn.search(d.cfg.base_dn, f"(sn={escape_filter_chars(surname)})", attributes=["1.1"])
    return [e["dn"] for e in d.conn.response if e["type"] == "searchResEntry"]


def test_a_last_day_no_directory_can_hold_is_refused_and_the_expiry_kept(
        cli: Cli, directory: Dir, tmp_path: Path) -> None:
    """`--on 1500-01-01` (a typo for 2015?) was stored by Samba as a negative
    accountExpires, which it reads as "never expires": reported `changed`, the account
    worked for ever. 9999-12-31 has no next day: exit 1 with Python's words. Both are
    refused before anything is asked (exit 2), and the expiry set before stays."""
    login = create(cli, directory, "Konec", f"Datumovy{tag()}", tmp_path / "pw")
    assert status(run(cli, directory, "account", "expire", login, "--on", "2031-01-31")) \
        == "changed"
    attrs = EXPIRY_ATTRS[directory.cfg.kind]
    before = directory.entry(login, attrs)
    for day in ("1500-01-01", "0201-12-01", "1969-12-31", "9999-12-31"):
        out = run(cli, directory, "account", "expire", login, "--on", day)
        assert out["_code"] == 2, (day, out)
        assert "out of range" in out["_err"], (day, out)
        assert directory.entry(login, attrs) == before, day
    assert status(run(cli, directory, "account", "expire", login, "--on", "9999-12-30")) \
        == "changed"
    surname = f"Pravek{tag()}"
    csv = tmp_path / "old.csv"
    csv.write_text(f"given_name,surname,expires\nAnna,{surname},1500-01-01\n")
    out = run(cli, directory, "account", "import", str(csv), "--deliver", f"file:{tmp_path}")
    assert out["_code"] == 2 and f"{csv}:2: expires" in out["_err"], out
    assert by_surname(directory, surname) == []


def test_a_csv_row_with_a_form_feed_or_nel_is_one_row_not_two_accounts(
        cli: Cli, directory: Dir, tmp_path: Path) -> None:
    """A record ends at a line break (\\n, \\r\\n, \\r) as every spreadsheet shows it.
    str.splitlines also broke lines at \\f, \\x1c-\\x1e, \\x85 and U+2028, so the one row
    `Anna,X<NEL>Beata,Y` created Anna X and also Beata Y, an account nobody reading the
    file saw a row for. Now the row has three cells for two columns: exit 2, nothing made."""
    for sep in ("\x85", "\x0c", "\u2028"):
        first, second = f"Prvni{tag()}", f"Podstrceny{tag()}"
        csv = tmp_path / f"split{ord(sep)}.csv"
        csv.write_text(f"given_name,surname\nAnna,{first}{sep}Beata,{second}\nCyril,Treti{tag()}\n",
                       encoding="utf-8")
        out = run(cli, directory, "account", "import", str(csv), "--deliver",
                  f"file:{tmp_path / 'pw'}")
        assert out["_code"] == 2, (repr(sep), out)
        assert f"{csv}:2: more cells than columns" in out["_err"], out
        assert by_surname(directory, first) == [] and by_surname(directory, second) == []


def test_a_protected_account_is_refused_by_every_spelling_of_its_login(
        cli: Cli, directory: Dir, tmp_path: Path, lab_config_dir: Path) -> None:
    """The policy lists an account as an operator writes it: `SAMDOM\\svc` (the down-level
    logon name AD's tools show) or with stray spaces and capitals. On AD both were
    compared as written, matched no login and guarded nothing: the disable went through."""
    import yaml

    login = create(cli, directory, "Chraneny", f"Ucet{tag()}", tmp_path / "pw")
    data = yaml.safe_load((lab_config_dir / "profiles" / f"{directory.profile}.yaml").read_text())
    spellings = [f" {login.upper()} "]
    if directory.cfg.kind == "ad":
        spellings += [f"SAMDOM\\{login}", f"samdom.example.com\\{login.upper()}"]
    for n, spelled in enumerate(spellings):
        data.setdefault("policy", {})["protected_accounts"] = [spelled]
        name = f"{directory.profile}-spelled{n}"
        (lab_config_dir / "profiles" / f"{name}.yaml").write_text(yaml.safe_dump(data))
        r = cli("--profile", name, "-o", "json", "account", "disable", login)
        assert r.returncode == 4, (spelled, r.stdout, r.stderr)
        assert directory.enabled(login), spelled


def test_a_given_password_too_long_or_with_a_control_character_is_refused_unset(
        cli: Cli, directory: Dir, tmp_path: Path) -> None:
    """A password from stdin over AD's 256 characters (Samba hashed 160,000 for so long
    that the reset timed out as "may or may not be done"), or with a control character
    (AD set it, though ldap3 refuses it in a bind; OpenLDAP's reset failed with ldap3's
    SASLprep words, exit 1): refused while planning, exit 2, the password that was set
    still binds, and the refused one is nowhere in the output."""
    login = create(cli, directory, "Heslo", f"Dlouhe{tag()}", tmp_path / "pw")
    known = f"Known-Pw.{tag()}-x9"
    out = run(cli, directory, "account", "password", login, "--password-stdin",
              "--no-must-change", input=known + "\n")
    assert status(out) == "changed", out
    for given in ("Ab1." * 65, f"Ctrl\x01Pw.{tag()}-x9", f"Tab\tPw.{tag()}-x9"):
        out = run(cli, directory, "account", "password", login, "--password-stdin",
                  "--no-must-change", input=given + "\n")
        assert out["_code"] == 2, (given, out)
        assert given not in str(out)
        assert directory.bind_result(login, known)["result"] == 0


@pytest.mark.parametrize("directory", ["lab"], indirect=True)  # AdminSDHolder is AD's
def test_ad_groups_adminsdholder_guards_are_protected_whatever_the_profile_lists(
        cli: Cli, directory: Dir, tmp_path: Path) -> None:
    """The lab's profile lists Domain Admins & co., not Account or Backup Operators; on
    Windows SDProp marks their members adminCount=1 (protected here), Samba never does.
    Joining one, or a group nested in one, went through, and so did resetting a Backup
    Operator's password. Now they are protected by SID: exit 4, nothing changed."""
    import ldap3

    assert directory.cfg.kind == "ad"
    base = directory.cfg.base_dn
    login = create(cli, directory, "Operator", f"Zalohovy{tag()}", tmp_path / "pw")
    for group in ("Account Operators", "Backup Operators"):
        out = run(cli, directory, "account", "groups", login, "--add", group)
        assert out["_code"] == 4, (group, out)
    assert directory.groups(login) == set()
    nested = f"Nested-Ops-{tag()}"
    nested_dn = f"CN={nested},{directory.cfg.groups_ou}"
    assert directory.conn.add(nested_dn, ["top", "group"], {"sAMAccountName": nested})
    server_ops = f"CN=Server Operators,CN=Builtin,{base}"
    assert directory.conn.modify(server_ops, {"member": [(ldap3.MODIFY_ADD, [nested_dn])]})
    try:
        out = run(cli, directory, "account", "groups", login, "--add", nested)
        assert out["_code"] == 4 and "Server Operators" in out["results"][0]["error"], out
        assert directory.groups(login) == set()
        user = directory.entry(login, ["cn"])
        assert user is not None
        backup_ops = f"CN=Backup Operators,CN=Builtin,{base}"
        assert directory.conn.modify(backup_ops,
                                     {"member": [(ldap3.MODIFY_ADD, [user["dn"]])]})
        out = run(cli, directory, "account", "disable", login)
        assert out["_code"] == 4 and "Backup Operators" in out["results"][0]["error"], out
        assert directory.enabled(login)
        directory.conn.modify(backup_ops, {"member": [(ldap3.MODIFY_DELETE, [user["dn"]])]})
    finally:
        directory.conn.modify(server_ops, {"member": [(ldap3.MODIFY_DELETE, [nested_dn])]})


def test_a_playbooks_disables_are_counted_for_the_run_not_per_step(
        cli: Cli, directory: Dir, tmp_path: Path, lab_config_dir: Path) -> None:
    """The bulk limit is a run's: a playbook that splits its disables over two steps of
    two (limit 2) disabled all four, each step alone being within the limit. Now the
    step that would pass the limit is refused (exit 4) and its accounts stay enabled;
    --force lets the run do them all."""
    import yaml

    logins = [create(cli, directory, "Limit", f"Krok{tag()}", tmp_path / "pw")
              for _ in range(4)]
    data = yaml.safe_load((lab_config_dir / "profiles" / f"{directory.profile}.yaml").read_text())
    data.setdefault("policy", {})["bulk_limit"] = 2
    profile = f"{directory.profile}-limit2"
    (lab_config_dir / "profiles" / f"{profile}.yaml").write_text(yaml.safe_dump(data))
    book = tmp_path / "split.yaml"
    book.write_text(yaml.safe_dump({"name": "split-disables", "steps": [
        {"name": f"batch {n}", "uses": "account.disable", "loop": logins[2 * n:2 * n + 2],
         "with": {"login": "{{ item }}"}} for n in range(2)]}))
    r = cli("--profile", profile, "-o", "json", "run", str(book))
    assert r.returncode == 4, r.stdout + r.stderr
    assert [directory.enabled(login) for login in logins] == [False, False, True, True]
    r = cli("--profile", profile, "-o", "json", "run", str(book), "--force")
    assert r.returncode == 0, r.stdout + r.stderr
    assert not any(directory.enabled(login) for login in logins)
