"""`adminkit account …` end to end on the lab's real AD and OpenLDAP: outcomes read back."""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ldap3
import pytest

from adminkit.core.config import load_profile
from adminkit.core.secrets import resolve
from adminkit.lab.base import LabServer

Cli = Callable[..., Any]


class Dir:
    """The directory under test, read through a plain admin connection of its own."""

    def __init__(self, profile: str, config_dir: Path) -> None:
        d = load_profile(profile, config_dir).directory
        assert d is not None and d.ca_file is not None
        self.profile, self.cfg = profile, d
        self.login_attr = "sAMAccountName" if d.kind == "ad" else "uid"
        tls = ldap3.Tls(ca_certs_file=str(d.ca_file), validate=ssl.CERT_REQUIRED)
        host, port = d.url.removeprefix("ldaps://").split(":")
        self.server = ldap3.Server(host, port=int(port), use_ssl=True, tls=tls,
                                   get_info=ldap3.NONE)
        self.conn = ldap3.Connection(self.server, d.bind_user, resolve(d.password).reveal(),
                                     auto_bind=True)

    def entry(self, login: str, attrs: list[str]) -> dict[str, Any] | None:
        from ldap3.utils.conv import escape_filter_chars

        self.conn.search(self.cfg.base_dn, f"({self.login_attr}={escape_filter_chars(login)})",
                         attributes=attrs)
        found = [e for e in self.conn.response if e["type"] == "searchResEntry"]
        assert len(found) <= 1
        if not found:
            return None
        return {"dn": found[0]["dn"], **found[0]["attributes"]}

    def bind_result(self, login: str, password: str) -> dict[str, Any]:
        who = f"{login}@samdom.example.com" if self.cfg.kind == "ad" else \
            f"uid={login},{self.cfg.users_ou}"
        c = ldap3.Connection(self.server, who, password)
        c.bind()
        result = dict(c.result)
        c.unbind()
        return result

    def enabled(self, login: str) -> bool:
        e = self.entry(login, ["userAccountControl", "pwdAccountLockedTime"])
        assert e is not None
        if self.cfg.kind == "ad":
            return not int(e["userAccountControl"][0]) & 2
        return not e.get("pwdAccountLockedTime")

    def groups(self, login: str) -> set[str]:
        e = self.entry(login, ["memberOf"])
        assert e is not None
        return {dn.split(",")[0].split("=")[1].lower() for dn in e.get("memberOf", [])}


@pytest.fixture(scope="module", params=["lab", "lab-openldap"])
def directory(request: pytest.FixtureRequest, samba: LabServer, slapd: LabServer,
              lab_config_dir: Path) -> Iterator[Dir]:
    (samba if request.param == "lab" else slapd).reset()
    d = Dir(request.param, lab_config_dir)
    yield d
    d.conn.unbind()


GROUP = {"lab": "Helpdesk-Agents", "lab-openldap": "staff"}


def run(cli: Cli, d: Dir, *args: str, input: str | None = None) -> dict[str, Any]:
    r = cli("--profile", d.profile, "-o", "json", *args, input=input)
    assert r.returncode in (0, 1, 2, 3, 4), r.stderr
    out = json.loads(r.stdout) if r.stdout.strip().startswith("{") else {}
    out["_code"], out["_err"] = r.returncode, r.stderr
    return out


def status(out: dict[str, Any]) -> str:
    return str(out["results"][0]["status"])


def create(cli: Cli, d: Dir, given: str, surname: str, tmp: Path, *extra: str) -> str:
    out = run(cli, d, "account", "create", "--given-name", given, "--surname", surname,
              "--deliver", f"file:{tmp}", *extra)
    assert out["_code"] == 0, out
    return str(out["results"][0]["target"])


def test_disable_enable_idempotent(cli: Cli, directory: Dir, tmp_path: Path) -> None:
    login = create(cli, directory, "Dana", "Blokovaná", tmp_path)
    assert status(run(cli, directory, "account", "disable", login)) == "changed"
    assert not directory.enabled(login)
    assert status(run(cli, directory, "account", "disable", login)) == "ok"
    assert status(run(cli, directory, "--check", "account", "enable", login)) == "changed"
    assert not directory.enabled(login)  # check mode changed nothing
    assert status(run(cli, directory, "account", "enable", login)) == "changed"
    assert directory.enabled(login)


def test_password_reset_must_change_then_without(cli: Cli, directory: Dir,
                                                 tmp_path: Path) -> None:
    login = create(cli, directory, "Petr", "Heslový", tmp_path / "a")
    out = run(cli, directory, "account", "password", login, "--deliver", f"file:{tmp_path}")
    assert status(out) == "changed"
    password = (tmp_path / f"{login}.password").read_text().strip()
    result = directory.bind_result(login, password)
    if directory.cfg.kind == "ad":
        assert "data 773" in result["message"]  # must change at next logon
    canary = "Given-Pw.12345-x"
    out = run(cli, directory, "account", "password", login, "--password-stdin",
              "--no-must-change", input=canary + "\n")
    assert status(out) == "changed"
    assert directory.bind_result(login, canary)["result"] == 0
    assert canary not in json.dumps(out)
    assert canary.encode() not in cli.journal.read_bytes()


def test_groups_add_remove_set(cli: Cli, directory: Dir, tmp_path: Path) -> None:
    group = GROUP[directory.profile]
    login = create(cli, directory, "Gita", "Skupinová", tmp_path)
    out = run(cli, directory, "account", "groups", login, "--add", group)
    assert status(out) == "changed" and group.lower() in directory.groups(login)
    assert status(run(cli, directory, "account", "groups", login, "--add", group)) == "ok"
    out = run(cli, directory, "account", "groups", login, "--set", group)
    assert status(out) == "ok"
    out = run(cli, directory, "account", "groups", login, "--clear")
    assert status(out) == "changed" and directory.groups(login) == set()
    out = run(cli, directory, "account", "groups", login, "--add", "No-Such-Group")
    assert out["_code"] == 2 and "no such group" in out["results"][0]["error"]


def test_move_set_expire_unlock_show(cli: Cli, directory: Dir, tmp_path: Path) -> None:
    login = create(cli, directory, "Olga", "Přesunutá", tmp_path)
    target = directory.cfg.quarantine_ou
    assert target is not None
    assert status(run(cli, directory, "account", "move", login, "--ou", target)) == "changed"
    entry = directory.entry(login, ["cn"])
    assert entry is not None and entry["dn"].lower().endswith(target.lower())
    assert status(run(cli, directory, "account", "move", login, "--ou", target)) == "ok"
    out = run(cli, directory, "account", "set", login, "title=Účetní", "description=Desk 4")
    assert status(out) == "changed"
    entry = directory.entry(login, ["title", "description"])
    assert entry is not None and entry["title"] == ["Účetní"]
    out = run(cli, directory, "account", "set", login, "userPassword=x")
    assert out["_code"] == 2 and "not settable" in out["results"][0]["error"]
    assert status(run(cli, directory, "account", "expire", login, "--on", "2031-01-31")) \
        == "changed"
    assert status(run(cli, directory, "account", "expire", login, "--on", "2031-01-31")) == "ok"
    assert status(run(cli, directory, "account", "expire", login, "--never")) == "changed"
    assert status(run(cli, directory, "account", "unlock", login)) == "ok"  # not locked
    r = cli("--profile", directory.profile, "-o", "json", "account", "show", login)
    assert r.returncode == 0 and json.loads(r.stdout)["login"] == login


def test_soft_delete_then_purge(cli: Cli, directory: Dir, tmp_path: Path) -> None:
    group = GROUP[directory.profile]
    login = create(cli, directory, "Lea", "Odchází", tmp_path, "--group", group)
    out = run(cli, directory, "account", "delete", login)
    assert status(out) == "changed"
    assert out["results"][0]["data"]["groups_removed"]
    entry = directory.entry(login, ["description"])
    assert entry is not None
    assert entry["dn"].lower().endswith(str(directory.cfg.quarantine_ou).lower())
    assert entry["description"][0].startswith("adminkit-quarantine ")
    assert not directory.enabled(login) and directory.groups(login) == set()
    assert status(run(cli, directory, "account", "delete", login)) == "ok"
    out = run(cli, directory, "account", "purge-quarantine", "--older-than", "1d")
    assert status(out) == "ok"  # quarantined today: not due yet
    assert status(run(cli, directory, "account", "delete", login, "--hard")) == "changed"
    assert directory.entry(login, ["cn"]) is None


def test_protected_account_is_refused_with_exit_4(cli: Cli, directory: Dir, tmp_path: Path,
                                                   lab_config_dir: Path) -> None:
    import yaml

    login = create(cli, directory, "Věra", "Chráněná", tmp_path)
    data = yaml.safe_load((lab_config_dir / "profiles" / f"{directory.profile}.yaml").read_text())
    data.setdefault("policy", {})["protected_accounts"] = [login]
    (lab_config_dir / "profiles" / f"{directory.profile}-prot.yaml").write_text(
        yaml.safe_dump(data))
    r = cli("--profile", f"{directory.profile}-prot", "-o", "json", "account", "disable", login)
    assert r.returncode == 4
    assert "protected" in json.loads(r.stdout)["results"][0]["error"]
    assert directory.enabled(login)
    if directory.cfg.kind == "ad":  # Domain Admins member, by the lab profile's own policy
        out = run(cli, directory, "account", "disable", "Administrator")
        assert out["_code"] == 4 and directory.enabled("Administrator")


def test_import_validates_whole_file_first(cli: Cli, directory: Dir, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("given_name,surname,mail\nAnna,Nováková,anna@example.test\n"
                   "Bořek,,borek@example.test\nCyril,Číž,not-a-mail\n", encoding="utf-8")
    r = cli("--profile", directory.profile, "account", "import", str(bad),
            "--deliver", f"file:{tmp_path}")
    assert r.returncode == 2
    assert f"{bad}:3: surname" in r.stderr and f"{bad}:4: mail" in r.stderr
    assert directory.entry("anovakova", ["cn"]) is None  # nothing was written


def test_import_creates_and_second_run_is_ok(cli: Cli, directory: Dir, tmp_path: Path) -> None:
    group = GROUP[directory.profile]
    rows = [("Řehoř", "Žďárský"), ("Ľubomír", "Šťastný"), ("Jürgen", "Müller"),
            ("Łukasz", "Wałęsa2")]
    csv = tmp_path / "hires.csv"
    csv.write_text("given_name;surname;groups\n" + "".join(f"{g};{s};{group}\n" for g, s in rows),
                   encoding="utf-8")
    pw = tmp_path / "pw"
    pw.mkdir()
    r = cli("--profile", directory.profile, "-o", "json", "account", "import", str(csv),
            "--deliver", f"file:{pw}")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["counts"]["changed"] == 4
    for login in ("rzdarsky", "lstastny", "jmuller", "lwalesa2"):
        assert group.lower() in directory.groups(login)
        assert (pw / f"{login}.password").stat().st_mode & 0o777 == 0o600
    r = cli("--profile", directory.profile, "-o", "json", "account", "import", str(csv),
            "--deliver", f"file:{pw}")
    assert json.loads(r.stdout)["counts"]["ok"] == 4


def test_import_gives_clashing_logins_suffixes_in_file_order(cli: Cli, directory: Dir,
                                                             tmp_path: Path) -> None:
    """jkolizni exists (Jana): Jiří and Josef get 2 and 3 by their rows, not by which
    worker is first; Jana's row is her account. A second run changes nothing, even for
    the people whose login got a suffix. 16 rows: the writes go in batches."""
    group = GROUP[directory.profile]
    existing = create(cli, directory, "Jana", "Kolizní", tmp_path / "jana")
    assert existing == "jkolizni"
    people = [("Jiří", "Kolizní"), ("Josef", "Kolizní"), ("Jana", "Kolizní")]
    people += [(f"Dávka{chr(97 + i)}", "Hromadná") for i in range(13)]
    csv = tmp_path / "clash.csv"
    csv.write_text("given_name,surname,groups\n"
                   + "".join(f"{g},{s},{group}\n" for g, s in people), encoding="utf-8")
    pw = tmp_path / "pw"
    pw.mkdir()
    out = run(cli, directory, "account", "import", str(csv), "--deliver", f"file:{pw}")
    assert out["_code"] == 0, out["_err"]
    assert [r["target"] for r in out["results"][:3]] == ["jkolizni2", "jkolizni3", "jkolizni"]
    assert out["results"][2]["summary"].startswith("updated account jkolizni")
    assert directory.entry("jkolizni2", ["givenName"])["givenName"] in ("Jiří", ["Jiří"])  # type: ignore[index]
    assert directory.entry("jkolizni3", ["givenName"])["givenName"] in ("Josef", ["Josef"])  # type: ignore[index]
    logins = [r["target"] for r in out["results"]]
    assert len(set(logins)) == 16
    for login in logins:  # read back: every row is in the group
        assert group.lower() in directory.groups(login), login
    if directory.cfg.kind == "openldap":
        numbers = [directory.entry(x, ["uidNumber"])["uidNumber"] for x in logins]  # type: ignore[index]
        assert len({str(n) for n in numbers}) == 16
    again = run(cli, directory, "account", "import", str(csv), "--deliver", f"file:{pw}")
    assert again["counts"]["ok"] == 16, again
    assert directory.entry("jkolizni4", ["cn"]) is None


def test_import_a_named_login_wins_and_a_namesake_keeps_its_own(cli: Cli, directory: Dir,
                                                               tmp_path: Path) -> None:
    """Two different people named Karel Jmenovec: the row that names its login gets it
    even when it comes second; the other gets kjmenovec2, on every run."""
    csv = tmp_path / "namesakes.csv"
    csv.write_text("given_name,surname,login\nKarel,Jmenovec,\nKarel,Jmenovec,kjmenovec\n",
                   encoding="utf-8")
    pw = tmp_path / "pw"
    pw.mkdir()
    out = run(cli, directory, "account", "import", str(csv), "--deliver", f"file:{pw}")
    assert out["_code"] == 0, out["_err"]
    assert [r["target"] for r in out["results"]] == ["kjmenovec2", "kjmenovec"]
    again = run(cli, directory, "account", "import", str(csv), "--deliver", f"file:{pw}")
    assert [(r["target"], r["status"]) for r in again["results"]] == [
        ("kjmenovec2", "ok"), ("kjmenovec", "ok")]
    assert directory.entry("kjmenovec3", ["cn"]) is None


def test_bulk_disable_limit_and_unknown_login(cli: Cli, directory: Dir, tmp_path: Path) -> None:
    logins = [create(cli, directory, "Bulk", f"Test{i}", tmp_path / str(i)) for i in range(3)]
    csv = tmp_path / "leavers.csv"
    csv.write_text("login\n" + "\n".join([*logins, "no-such-login"]) + "\n")
    r = cli("--profile", directory.profile, "account", "bulk", "disable", str(csv))
    assert r.returncode == 2 and "no-such-login" in r.stderr
    assert all(directory.enabled(x) for x in logins)  # nothing changed
    csv.write_text("login\n" + "\n".join(logins) + "\n")
    r = cli("--profile", directory.profile, "-o", "json", "account", "bulk", "disable", str(csv))
    assert r.returncode == 0, r.stderr
    assert not any(directory.enabled(x) for x in logins)


def test_reports_and_find(cli: Cli, directory: Dir, tmp_path: Path) -> None:
    login = create(cli, directory, "Rita", "Reportová", tmp_path)
    run(cli, directory, "account", "disable", login)
    r = cli("--profile", directory.profile, "-o", "json", "account", "report", "disabled")
    assert r.returncode == 0, r.stderr
    assert login in [u["login"] for u in json.loads(r.stdout)]
    r = cli("--profile", directory.profile, "-o", "json", "account", "find", "Reportová")
    assert [u["login"] for u in json.loads(r.stdout)] == [login]
    r = cli("--profile", directory.profile, "-o", "json", "account", "find", "Report*")
    assert json.loads(r.stdout) == []  # * is literal without --wildcards
    r = cli("--profile", directory.profile, "-o", "json", "account", "find", "Report*",
            "--wildcards")
    assert login in [u["login"] for u in json.loads(r.stdout)]


def test_template_from_the_profile(cli: Cli, directory: Dir, tmp_path: Path,
                                   lab_config_dir: Path) -> None:
    import yaml

    group = GROUP[directory.profile]
    home = r"\\fs1\home\{login}" if directory.cfg.kind == "ad" else "/srv/home/{login}"
    data = yaml.safe_load((lab_config_dir / "profiles" / f"{directory.profile}.yaml").read_text())
    data["accounts"] = {"template": {"groups": [group], "home_directory": home,
                                     "attributes": {"title": "New hire ({login})"},
                                     "expires_after_days": 30},
                        "naming": {"login": "given.surname"}}
    (lab_config_dir / "profiles" / f"{directory.profile}-tpl.yaml").write_text(
        yaml.safe_dump(data))
    r = cli("--profile", f"{directory.profile}-tpl", "-o", "json", "account", "create",
            "--given-name", "Tereza", "--surname", "Šablonová", "--deliver", f"file:{tmp_path}")
    assert r.returncode == 0, r.stderr
    entry = directory.entry("tereza.sablonova", ["title", "homeDirectory"])
    assert entry is not None
    assert entry["title"] in (["New hire (tereza.sablonova)"], "New hire (tereza.sablonova)")
    expected_home = home.replace("{login}", "tereza.sablonova")
    assert expected_home in (entry["homeDirectory"], *entry["homeDirectory"])
    assert group.lower() in directory.groups("tereza.sablonova")
    r = cli("--profile", f"{directory.profile}-tpl", "-o", "json", "account", "show",
            "tereza.sablonova")
    assert json.loads(r.stdout)["expires"] is not None
