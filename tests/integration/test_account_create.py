"""account.create against the lab's real Samba AD DC and OpenLDAP: read every outcome back."""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ldap3
import pytest

from adminkit.core.config import load_profile
from adminkit.core.secrets import resolve
from adminkit.lab.base import LabServer

Cli = Callable[..., Any]


def admin_conn(config_dir: Path, profile: str) -> ldap3.Connection:
    d = load_profile(profile, config_dir).directory
    assert d is not None and d.ca_file is not None
    tls = ldap3.Tls(ca_certs_file=str(d.ca_file), validate=ssl.CERT_REQUIRED)
    host, port = d.url.removeprefix("ldaps://").split(":")
    server = ldap3.Server(host, port=int(port), use_ssl=True, tls=tls, get_info=ldap3.NONE)
    return ldap3.Connection(server, d.bind_user, resolve(d.password).reveal(), auto_bind=True)


def find(conn: ldap3.Connection, base: str, flt: str, attrs: list[str]) -> list[dict[str, Any]]:
    """Entries as dicts; single values unwrapped (the schema is not read, so all are lists)."""
    conn.search(base, flt, attributes=attrs)
    return [{"dn": e["dn"], **{k: v[0] if isinstance(v, list) and len(v) == 1 else v
                               for k, v in e["attributes"].items()}}
            for e in conn.response if e["type"] == "searchResEntry"]


@pytest.fixture(scope="module")
def ad(samba: LabServer, lab_config_dir: Path) -> ldap3.Connection:
    samba.reset()
    return admin_conn(lab_config_dir, "lab")


AD_BASE = "DC=samdom,DC=example,DC=com"


def test_create_reads_back_and_must_change(ad: ldap3.Connection, cli: Cli, tmp_path: Path,
                                           lab_config_dir: Path) -> None:
    pwdir = tmp_path / "pw"
    pwdir.mkdir(mode=0o700)
    assert cli("ticket", "new", "New hire: Jiří Čermák").stdout.strip() == "1"
    r = cli("--profile", "lab", "--ticket", "local:1", "-o", "json", "account", "create",
            "--given-name", "Jiří", "--surname", "Čermák", "--mail", "jiri@samdom.example.com",
            "--deliver", f"file:{pwdir}")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == "changed" and out["results"][0]["target"] == "jcermak"

    [entry] = find(ad, AD_BASE, "(sAMAccountName=jcermak)",
                   ["displayName", "givenName", "sn", "mail", "userAccountControl", "pwdLastSet",
                    "userPrincipalName"])
    assert entry["dn"] == "CN=Jiří Čermák,OU=Staff,DC=samdom,DC=example,DC=com"
    assert entry["displayName"] == "Jiří Čermák" and entry["sn"] == "Čermák"
    assert entry["userPrincipalName"] == "jcermak@samdom.example.com"
    assert int(entry["userAccountControl"]) & 2 == 0  # enabled
    password_file = pwdir / "jcermak.password"
    assert password_file.stat().st_mode & 0o777 == 0o600
    password = password_file.read_text().strip()

    # The password works and must be changed: AD answers 773 to a bind with it.
    d = load_profile("lab", lab_config_dir).directory
    assert d is not None
    tls = ldap3.Tls(ca_certs_file=str(d.ca_file), validate=ssl.CERT_REQUIRED)
    user = ldap3.Connection(ldap3.Server("localhost", port=636, use_ssl=True, tls=tls),
                            "jcermak@samdom.example.com", password)
    assert not user.bind()
    assert "data 773" in user.result["message"]

    # The journal names the ticket and never the password.
    listing = cli("journal", "list", "--ticket", "local:1", "-o", "json")
    rows = json.loads(listing.stdout)
    assert [(x["action"], x["target"], x["status"]) for x in rows] == [
        ("account.create", "jcermak", "changed")]
    assert password.encode() not in cli.journal.read_bytes()
    assert password not in r.stdout + r.stderr


def test_second_run_changes_nothing(ad: ldap3.Connection, cli: Cli, tmp_path: Path) -> None:
    args = ("--profile", "lab", "-o", "json", "account", "create", "--given-name", "Petra",
            "--surname", "Nováková", "--deliver", f"file:{tmp_path}/pw")
    first = cli(*args)
    assert first.returncode == 0, first.stderr
    before = find(ad, AD_BASE, "(sn=Nováková)", ["whenChanged", "uSNChanged"])
    second = cli(*args)
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["results"][0]["status"] == "ok"
    assert find(ad, AD_BASE, "(sn=Nováková)", ["whenChanged", "uSNChanged"]) == before


def test_collision_gets_deterministic_suffix(ad: ldap3.Connection, cli: Cli,
                                             tmp_path: Path) -> None:
    for given in ("Karel", "Kamila"):
        r = cli("--profile", "lab", "account", "create", "--given-name", given,
                "--surname", "Dvořák", "--deliver", f"file:{tmp_path}/{given}")
        assert r.returncode == 0, r.stderr
    rows = find(ad, AD_BASE, "(sn=Dvořák)", ["sAMAccountName", "givenName"])
    assert sorted((x["givenName"], x["sAMAccountName"]) for x in rows) == [
        ("Kamila", "kdvorak2"), ("Karel", "kdvorak")]


def test_check_mode_changes_nothing(ad: ldap3.Connection, cli: Cli) -> None:
    r = cli("--profile", "lab", "--check", "-o", "json", "account", "create",
            "--given-name", "Zdeněk", "--surname", "Šťastný")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)["results"][0]
    assert result["status"] == "changed" and result["check"] is True
    assert result["summary"].startswith("would create account zstastny")
    assert find(ad, AD_BASE, "(sn=Šťastný)", ["cn"]) == []


def test_given_password_is_never_echoed(ad: ldap3.Connection, cli: Cli) -> None:
    canary = "Canary-Pw.4711-xyz"
    r = cli("--profile", "lab", "-o", "json", "account", "create", "--given-name", "Eva",
            "--surname", "Kanárková", "--password-stdin", "--no-must-change", input=canary + "\n")
    assert r.returncode == 0, r.stderr
    assert canary not in r.stdout + r.stderr
    journal = cli.journal
    for f in journal.parent.glob(journal.name + "*"):
        assert canary.encode() not in f.read_bytes()
    export = cli("journal", "export", "--format", "jsonl")
    assert canary not in export.stdout


def test_hostile_name_is_stored_literally(ad: ldap3.Connection, cli: Cli, tmp_path: Path) -> None:
    surname = "O'Brien, Jr. (admin)*\\"
    r = cli("--profile", "lab", "-o", "json", "account", "create", "--given-name", "Sean",
            "--surname", surname, "--login", "sobrien", "--deliver", f"file:{tmp_path}")
    assert r.returncode == 0, r.stderr
    [entry] = find(ad, AD_BASE, "(sAMAccountName=sobrien)", ["sn", "displayName"])
    assert entry["sn"] == surname and entry["displayName"] == f"Sean {surname}"


def test_a_value_that_looks_like_a_global_option_stays_the_value(
        ad: ldap3.Connection, cli: Cli, tmp_path: Path) -> None:
    """`--given-name -t`: the -t is the given name; the global options after it still count."""
    number = cli("ticket", "new", "New hire: -t Hoistová").stdout.strip()
    r = cli("account", "create", "--given-name", "-t", "--surname", "Hoistová",
            "--deliver", f"file:{tmp_path}", "-p", "lab", "--ticket", f"local:{number}",
            "-o", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["results"][0]["target"] == "thoistova"
    [entry] = find(ad, AD_BASE, "(sAMAccountName=thoistova)", ["givenName", "sn"])
    assert (entry["givenName"], entry["sn"]) == ("-t", "Hoistová")
    listing = json.loads(cli("journal", "list", "--ticket", f"local:{number}", "-o",
                             "json").stdout)
    assert [(x["action"], x["target"]) for x in listing] == [("account.create", "thoistova")]


def test_control_characters_are_refused(ad: ldap3.Connection, cli: Cli) -> None:
    r = cli("--profile", "lab", "account", "create", "--given-name", "Eve",
            "--surname", "Evil\r\nadmin", "--deliver", "file:/tmp")
    assert r.returncode == 2
    assert "control character" in r.stderr and "Traceback" not in r.stderr
    assert find(ad, AD_BASE, "(givenName=Eve)", ["cn"]) == []


def test_openldap_create(slapd: LabServer, cli: Cli, lab_config_dir: Path,
                         tmp_path: Path) -> None:
    slapd.reset()
    r = cli("--profile", "lab-openldap", "-o", "json", "account", "create",
            "--given-name", "Łukasz", "--surname", "Wałęsa", "--deliver", f"file:{tmp_path}")
    assert r.returncode == 0, r.stderr
    conn = admin_conn(lab_config_dir, "lab-openldap")
    [entry] = find(conn, "dc=example,dc=org", "(uid=lwalesa)",
                   ["cn", "uidNumber", "gidNumber", "homeDirectory", "pwdReset", "objectClass"])
    assert entry["dn"] == "uid=lwalesa,ou=people,dc=example,dc=org"
    assert entry["cn"] == "Łukasz Wałęsa"
    assert int(entry["uidNumber"]) >= 10000 and int(entry["gidNumber"]) == 5000
    assert "posixAccount" in entry["objectClass"]
    assert entry["pwdReset"] == "TRUE"


def test_password_by_mail_reaches_only_the_recipient(ad: ldap3.Connection, cli: Cli,
                                                     smtp_sink: Any) -> None:
    smtp_sink.reset()
    r = cli("--profile", "lab", "-o", "json", "account", "create", "--given-name", "Marta",
            "--surname", "Poštová", "--deliver", "mail")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)["results"][0]
    assert result["data"]["password_delivery"] == "sent by e-mail to helpdesk-l2@lab.example.test"
    [message] = smtp_sink.messages()
    assert message["To"] == "helpdesk-l2@lab.example.test"
    assert message["Subject"] == "adminkit: new password for mpostova"
    body = message.get_body(("plain",)).get_content()
    password = body.split("is:", 1)[1].split()[0]
    assert password not in r.stdout + r.stderr
    assert password.encode() not in cli.journal.read_bytes()
    user = ldap3.Connection(ad.server, "mpostova@samdom.example.com", password)
    assert not user.bind()
    assert "data 773" in user.result["message"]  # the mailed password is the one that was set
