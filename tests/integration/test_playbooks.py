"""The shipped playbooks, rollback, template injection and resume on the lab's real servers.

Every run goes through the real `adminkit` command (`cli` fixture) against Samba AD with
RT as the ticket system; outcomes are read back with a plain ldap3 admin connection of
our own. Samba is reset once for the module; every test uses its own names.
"""

from __future__ import annotations

import json
import re
import sqlite3
import ssl
import textwrap
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import ldap3
import pytest

from adminkit.core.config import load_profile
from adminkit.core.secrets import resolve
from adminkit.lab.base import LabServer
from tests.integration.rtread import comments

Cli = Callable[..., Any]
Snapshot = dict[str, dict[str, list[bytes]]]

BASE = "DC=samdom,DC=example,DC=com"
STAFF = f"OU=Staff,{BASE}"
GROUPS = f"OU=Groups,{BASE}"
QUARANTINE = f"OU=Quarantine,{BASE}"
# what a membership change always touches on the group entry itself
GROUP_BOOKKEEPING = {"whenchanged", "usnchanged"}


def tag() -> str:
    """A short unique suffix: names never clash between tests or repeated runs."""
    return uuid.uuid4().hex[:6]


def unique_surname() -> str:
    """Letters only (a login is computed from it): 8 letters from a fresh uuid."""
    return "Pb" + "".join(chr(ord("a") + int(c, 16) % 26) for c in uuid.uuid4().hex[:8])


class AD:
    """The lab's AD through an admin connection that is not adminkit's."""

    def __init__(self, config_dir: Path) -> None:
        d = load_profile("lab", config_dir).directory
        assert d is not None and d.ca_file is not None
        tls = ldap3.Tls(ca_certs_file=str(d.ca_file), validate=ssl.CERT_REQUIRED)
        host, port = d.url.removeprefix("ldaps://").split(":")
        self.server = ldap3.Server(host, port=int(port), use_ssl=True, tls=tls,
                                   get_info=ldap3.NONE)
        self.conn = ldap3.Connection(self.server, d.bind_user, resolve(d.password).reveal(),
                                     auto_bind=True)

    def _search(self, base: str, flt: str, attrs: list[str] | str,
                scope: str = ldap3.SUBTREE) -> list[dict[str, Any]]:
        self.conn.search(base, flt, scope, attributes=attrs)
        return [e for e in self.conn.response if e["type"] == "searchResEntry"]

    def entry(self, login: str, attrs: list[str] | None = None) -> dict[str, Any] | None:
        from ldap3.utils.conv import escape_filter_chars

        found = self._search(BASE, f"(sAMAccountName={escape_filter_chars(login)})",
                             attrs or ["*"])
        assert len(found) <= 1
        return {"dn": found[0]["dn"], **found[0]["attributes"]} if found else None

    def snapshot(self, *bases: str) -> Snapshot:
        """Every entry under the bases, every attribute, as raw bytes (exact comparison)."""
        out: Snapshot = {}
        for base in bases:
            for e in self._search(base, "(objectClass=*)", ["*"]):
                out[e["dn"].lower()] = {k.lower(): sorted(v)
                                        for k, v in e["raw_attributes"].items()}
        return out

    def group_members(self, name: str) -> set[str]:
        [g] = self._search(GROUPS, f"(cn={name})", ["member"])
        return {m.lower() for m in g["attributes"].get("member", [])}

    def groups(self, login: str) -> set[str]:
        e = self.entry(login, ["memberOf"])
        assert e is not None
        return {dn.split(",")[0].split("=")[1].lower() for dn in e.get("memberOf", [])}

    def uac(self, login: str) -> int:
        e = self.entry(login, ["userAccountControl"])
        assert e is not None
        return int(e["userAccountControl"][0])

    def enabled(self, login: str) -> bool:
        return not self.uac(login) & 2

    def bind(self, login: str, password: str) -> dict[str, Any]:
        c = ldap3.Connection(self.server, f"{login}@samdom.example.com", password)
        c.bind()
        result = dict(c.result)
        c.unbind()
        return result

    def modify(self, login: str, changes: dict[str, Any]) -> None:
        e = self.entry(login, ["cn"])
        assert e is not None
        assert self.conn.modify(e["dn"], changes), self.conn.result


def filetime(moment: datetime) -> int:
    return int((moment - datetime(1601, 1, 1, tzinfo=UTC)).total_seconds()) * 10_000_000


@pytest.fixture(scope="module")
def ad(samba: LabServer, lab_config_dir: Path) -> Iterator[AD]:
    samba.reset()
    directory = AD(lab_config_dir)
    yield directory
    directory.conn.unbind()


def run(cli: Cli, *args: str, input: str | None = None) -> dict[str, Any]:
    """`adminkit --profile lab -o json ARGS`; the parsed report plus `_code` and `_err`."""
    r = cli("--profile", "lab", "-o", "json", *args, input=input)
    assert "Traceback" not in r.stderr, r.stderr
    out = json.loads(r.stdout) if r.stdout.strip().startswith("{") else {}
    out["_code"], out["_err"] = r.returncode, r.stderr
    return out


def statuses(out: dict[str, Any]) -> list[tuple[str, str]]:
    return [(r["action"], r["status"]) for r in out["results"]]


def journal_rows(cli: Cli, run_id: str) -> list[dict[str, Any]]:
    db = sqlite3.connect(cli.journal)
    db.row_factory = sqlite3.Row
    rows = [dict(r) for r in db.execute(
        "SELECT * FROM entries WHERE run_id = ? AND kind = 'action' AND status != 'started' "
        "ORDER BY seq", (run_id,))]  # the outcomes; each write's intent row precedes it
    db.close()
    for row in rows:
        for key in ("diff", "detail"):
            if row[key]:
                row[key] = json.loads(row[key])
    return rows


def create(cli: Cli, given: str, surname: str, *extra: str,
           password: str | None = None, deliver: Path | None = None) -> str:
    """An account made with `adminkit account create`; returns its login."""
    args = ["account", "create", "--given-name", given, "--surname", surname, *extra]
    if password is not None:
        args += ["--password-stdin", "--no-must-change"]
    else:
        assert deliver is not None
        args += ["--deliver", f"file:{deliver}"]
    out = run(cli, *args, input=None if password is None else password + "\n")
    assert out["_code"] == 0, out
    return str(out["results"][0]["target"])


def write_book(tmp_path: Path, text: str, name: str = "book.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


ALL_OUS = (STAFF, GROUPS, QUARANTINE)


@pytest.fixture
def pw(tmp_path: Path) -> Path:
    """Where `file:` deliveries go (the journal lives in tmp_path itself)."""
    folder = tmp_path / "pw"
    folder.mkdir()
    return folder


# -- onboard-user ---------------------------------------------------------------------------

def test_onboard_user_check_then_apply(ad: AD, cli: Cli, pw: Path) -> None:
    surname = unique_surname()
    args = ("run", "onboard-user", "-i", "given_name=Jiří", "-i", f"surname={surname}",
            "-i", "groups=Staff-All,Helpdesk-Agents", "-i", f"deliver=file:{pw}")
    before = ad.snapshot(*ALL_OUS)
    out = run(cli, "--check", *args)
    assert out["_code"] == 0, out
    assert out["run"]["mode"] == "check"
    assert statuses(out) == [("account.create", "changed"), ("account.groups", "skipped")]
    login = out["results"][0]["target"]
    assert "would run once" in out["results"][1]["summary"]
    assert ad.snapshot(*ALL_OUS) == before  # nothing on the server changed
    assert list(pw.iterdir()) == []  # and no password was delivered

    out = run(cli, *args)
    assert out["_code"] == 0, out
    assert statuses(out) == [("account.create", "changed"), ("account.groups", "changed")]
    assert out["results"][0]["target"] == login
    entry = ad.entry(login, ["givenName", "sn", "userAccountControl"])
    assert entry is not None and entry["dn"].lower().endswith(STAFF.lower())
    assert entry["givenName"] == ["Jiří"] and entry["sn"] == [surname]
    assert ad.groups(login) == {"staff-all", "helpdesk-agents"}
    password = (pw / f"{login}.password").read_text().strip()
    assert "data 773" in ad.bind(login, password)["message"]  # must change at first logon

    again = run(cli, *args)  # the same person again: nothing to do
    assert again["_code"] == 0
    assert statuses(again) == [("account.create", "ok"), ("account.groups", "ok")]


def test_onboard_user_delivers_by_mail(ad: AD, cli: Cli, smtp_sink: Any) -> None:
    surname = unique_surname()
    out = run(cli, "run", "onboard-user", "-i", "given_name=Marie", "-i", f"surname={surname}",
              "-i", f"mail=marie.{surname.lower()}@example.test")  # deliver: mail (default)
    assert out["_code"] == 0, out
    login = out["results"][0]["target"]
    assert "sent by e-mail to helpdesk-l2@lab.example.test" in out["results"][0]["summary"]
    [message] = [m for m in smtp_sink.messages()
                 if m["Subject"] == f"adminkit: new password for {login}"]
    assert message["To"] == "helpdesk-l2@lab.example.test"
    body = message.get_content()
    password = re.search(rf"The new password for {login} is:\n\n    (\S+)\n", body)
    assert password, body
    assert "data 773" in ad.bind(login, password.group(1))["message"]
    entry = ad.entry(login, ["mail"])
    assert entry is not None and entry["mail"] == [f"marie.{surname.lower()}@example.test"]
    assert password.group(1) not in json.dumps(out)
    assert password.group(1).encode() not in cli.journal.read_bytes()


def test_onboard_user_unknown_group_rolls_back_the_account(ad: AD, cli: Cli,
                                                           tmp_path: Path) -> None:
    """The shipped playbook's own rollback: step 2 fails, step 1's account is deleted."""
    surname = unique_surname()
    before = ad.snapshot(STAFF)
    out = run(cli, "run", "onboard-user", "-i", "given_name=Ota", "-i", f"surname={surname}",
              "-i", "groups=No-Such-Group", "-i", f"deliver=file:{tmp_path}")
    assert out["_code"] == 2, out
    assert statuses(out) == [("account.create", "changed"), ("account.groups", "failed"),
                             ("undo account.create", "changed")]
    login = out["results"][0]["target"]
    assert "no such group: No-Such-Group" in out["results"][1]["error"]
    assert out["results"][2]["summary"].startswith(f"undo: delete {login} for good; ")
    assert ad.entry(login) is None
    assert ad.snapshot(STAFF) == before


def test_onboard_user_rollback_takes_back_the_delivered_password(ad: AD, cli: Cli,
                                                                  tmp_path: Path) -> None:
    """The account is deleted, so its generated password file goes too, and the undo says so."""
    surname = unique_surname()
    out = run(cli, "run", "onboard-user", "-i", "given_name=Ota", "-i", f"surname={surname}",
              "-i", "groups=No-Such-Group", "-i", f"deliver=file:{tmp_path}")
    assert out["_code"] == 2, out
    login = out["results"][0]["target"]
    assert statuses(out)[2] == ("undo account.create", "changed")
    assert ad.entry(login) is None
    assert not (tmp_path / f"{login}.password").exists()
    assert list(tmp_path.glob("*.password")) == []
    assert f"{tmp_path / login}.password was removed" in out["results"][2]["summary"], out


# -- offboard-user --------------------------------------------------------------------------

def test_offboard_user_check_then_apply(ad: AD, cli: Cli, tmp_path: Path) -> None:
    login = create(cli, "Lea", unique_surname(), "--group", "Staff-All", "--group",
                   "Helpdesk-Agents", deliver=tmp_path)
    args = ("run", "offboard-user", "-i", f"login={login}", "-i", "last_day=2031-01-31")
    before = ad.snapshot(*ALL_OUS)
    out = run(cli, "--check", *args)
    assert out["_code"] == 0, out
    assert statuses(out) == [("account.disable", "changed"), ("account.expire", "changed"),
                             ("account.delete", "changed")]
    assert all(r["check"] for r in out["results"])
    assert ad.snapshot(*ALL_OUS) == before

    out = run(cli, *args)
    assert out["_code"] == 0, out
    assert statuses(out) == [("account.disable", "changed"), ("account.expire", "changed"),
                             ("account.delete", "changed")]
    entry = ad.entry(login, ["userAccountControl", "memberOf", "accountExpires", "description"])
    assert entry is not None
    assert entry["dn"].lower().endswith(QUARANTINE.lower())
    assert int(entry["userAccountControl"][0]) & 2  # disabled
    assert entry.get("memberOf", []) == []
    # works through 2031-01-31: expires at the start of the next day, UTC
    assert int(entry["accountExpires"][0]) == filetime(datetime(2031, 2, 1, tzinfo=UTC))
    assert entry["description"][0].startswith(f"adminkit-quarantine {date.today()} run ")

    # the journal keeps the groups that were taken away
    [delete_row] = [r for r in journal_rows(cli, out["run"]["id"])
                    if r["action"] == "account.delete"]
    removed = {c["before"] for c in delete_row["diff"] if c["op"] == "remove"}
    assert removed == {"Staff-All", "Helpdesk-Agents"}
    assert {dn.split(",")[0].lower() for dn in delete_row["detail"]["groups_removed"]} == {
        "cn=staff-all", "cn=helpdesk-agents"}
    assert delete_row["detail"]["from"].lower() == STAFF.lower()

    out = run(cli, *args)  # a second offboarding finds everything done
    assert out["_code"] == 0
    assert statuses(out) == [("account.disable", "ok"), ("account.expire", "ok"),
                             ("account.delete", "ok")]


def test_offboard_user_without_last_day_skips_the_expiry(ad: AD, cli: Cli,
                                                         tmp_path: Path) -> None:
    login = create(cli, "Bořek", unique_surname(), deliver=tmp_path)
    out = run(cli, "run", "offboard-user", "-i", f"login={login}")
    assert out["_code"] == 0, out
    assert statuses(out) == [("account.disable", "changed"), ("account.expire", "skipped"),
                             ("account.delete", "changed")]
    assert "condition is false" in out["results"][1]["summary"]


def test_offboard_unknown_or_protected_login_stops_at_the_first_step(ad: AD, cli: Cli) -> None:
    out = run(cli, "run", "offboard-user", "-i", f"login=ghost{tag()}")
    assert out["_code"] == 2
    assert statuses(out) == [("account.disable", "failed")]  # on_error: stop
    assert "no account with the login" in out["results"][0]["error"]

    out = run(cli, "run", "offboard-user", "-i", "login=Administrator")
    assert out["_code"] == 4, out  # refused by policy, and nothing after it ran
    assert statuses(out) == [("account.disable", "failed")]
    assert "protected" in out["results"][0]["error"]
    assert ad.enabled("Administrator")


# -- reset-password -------------------------------------------------------------------------

def test_reset_password_check_then_apply(ad: AD, cli: Cli, pw: Path) -> None:
    old = "Old-Pass.4711-x"
    login = create(cli, "Petr", unique_surname(), password=old)
    assert ad.bind(login, old)["result"] == 0
    args = ("run", "reset-password", "-i", f"login={login}", "-i", f"deliver=file:{pw}")
    before = ad.snapshot(*ALL_OUS)
    out = run(cli, "--check", *args)
    assert out["_code"] == 0, out
    assert statuses(out) == [("account.password", "changed"), ("account.unlock", "ok")]
    assert ad.snapshot(*ALL_OUS) == before
    assert list(pw.iterdir()) == []
    assert ad.bind(login, old)["result"] == 0  # the old password still works

    out = run(cli, *args)
    assert out["_code"] == 0, out
    assert statuses(out) == [("account.password", "changed"), ("account.unlock", "ok")]
    password = (pw / f"{login}.password").read_text().strip()
    assert "data 773" in ad.bind(login, password)["message"]  # must change at next logon
    assert ad.bind(login, old)["result"] != 0
    assert password not in json.dumps(out)


# -- unlock-account -------------------------------------------------------------------------

def test_unlock_account_check_then_apply(ad: AD, cli: Cli) -> None:
    password = "Right-Pass.1234-y"
    login = create(cli, "Ulla", unique_surname(), password=password)
    for _ in range(3):  # the lab's lockout threshold
        assert ad.bind(login, "Wrong-Pass.0000")["result"] != 0
    locked = ad.bind(login, password)
    assert "data 775" in locked["message"], locked  # locked out: even the right one fails

    before = ad.snapshot(*ALL_OUS)
    out = run(cli, "--check", "run", "unlock-account", "-i", f"login={login}")
    assert out["_code"] == 0, out
    assert statuses(out) == [("account.unlock", "changed")]
    assert ad.snapshot(*ALL_OUS) == before
    assert "data 775" in ad.bind(login, password)["message"]

    out = run(cli, "run", "unlock-account", "-i", f"login={login}")
    assert out["_code"] == 0, out
    assert statuses(out) == [("account.unlock", "changed")]
    assert ad.bind(login, password)["result"] == 0
    out = run(cli, "run", "unlock-account", "-i", f"login={login}")
    assert statuses(out) == [("account.unlock", "ok")]


# -- disable-inactive-accounts ----------------------------------------------------------------

def make_stale(ad: AD, login: str, days_ago: int) -> None:
    """AD's report selects by lastLogonTimestamp (or, never logged on, by whenCreated, which
    no one can backdate); an administrator may write lastLogonTimestamp, so we do."""
    stamp = filetime(datetime.now(UTC) - timedelta(days=days_ago))
    ad.modify(login, {"lastLogonTimestamp": [(ldap3.MODIFY_REPLACE, [str(stamp)])]})


def test_disable_inactive_accounts_check_then_apply(ad: AD, cli: Cli, tmp_path: Path) -> None:
    fresh = create(cli, "Nina", unique_surname(), deliver=tmp_path)
    stale = create(cli, "Stanislav", unique_surname(), deliver=tmp_path)
    make_stale(ad, stale, 400)

    out = run(cli, "--check", "run", "disable-inactive-accounts", "-i", "days=1")
    assert out["_code"] == 0, out
    report = out["results"][0]
    assert fresh not in report["data"]["logins"]  # created seconds ago, never logged on

    before = ad.snapshot(*ALL_OUS)
    out = run(cli, "--check", "run", "disable-inactive-accounts")  # days: 90
    assert out["_code"] == 0, out
    report = out["results"][0]
    logins = report["data"]["logins"]
    assert stale in logins and fresh not in logins
    assert report["summary"] == f"{len(logins)} account(s) inactive over 90 days"
    assert [r["target"] for r in out["results"][1:]] == logins
    assert ad.snapshot(*ALL_OUS) == before

    out = run(cli, "run", "disable-inactive-accounts", "-i", "days=90")
    assert out["_code"] == 0, out
    report = out["results"][0]
    assert report["summary"] == f"{len(report['data']['logins'])} account(s) inactive over " \
                                "90 days"
    done = {r["target"]: r["status"] for r in out["results"][1:]}
    assert done[stale] == "changed" and fresh not in done
    assert not ad.enabled(stale) and ad.enabled(fresh)


def test_disable_inactive_accounts_obeys_the_bulk_limit(ad: AD, cli: Cli, tmp_path: Path,
                                                        lab_config_dir: Path) -> None:
    import yaml

    stale = [create(cli, "Bulk", unique_surname(), deliver=tmp_path) for _ in range(2)]
    for login in stale:
        make_stale(ad, login, 400)
    data = yaml.safe_load((lab_config_dir / "profiles" / "lab.yaml").read_text())
    data.setdefault("policy", {})["bulk_limit"] = 1
    (lab_config_dir / "profiles" / "lab-limit1.yaml").write_text(yaml.safe_dump(data))
    r = cli("--profile", "lab-limit1", "-o", "json", "run", "disable-inactive-accounts")
    disabled = [login for login in stale if not ad.enabled(login)]
    assert disabled == [], f"exit {r.returncode}: disabled {disabled} over a limit of 1"
    assert r.returncode == 4, r.stdout + r.stderr


# -- bulk-onboard ---------------------------------------------------------------------------

def test_bulk_onboard_check_then_apply_with_a_bad_row(ad: AD, cli: Cli, tmp_path: Path,
                                                      pw: Path) -> None:
    people = [("Řehoř", unique_surname()), ("Ľuba", unique_surname()), ("Jürgen", unique_surname())]
    good = "given_name,surname,mail\n" + "".join(
        f"{g},{s},{s.lower()}@example.test\n" for g, s in people)
    csv = tmp_path / "hires.csv"
    csv.write_text(good, encoding="utf-8")
    args = ("run", "bulk-onboard", "-i", f"file={csv}", "-i", f"deliver=file:{pw}")

    before = ad.snapshot(*ALL_OUS)
    out = run(cli, "--check", *args)
    assert out["_code"] == 0, out
    assert statuses(out) == [("account.create", "changed")] * 3
    assert ad.snapshot(*ALL_OUS) == before
    assert list(pw.iterdir()) == []

    bad_surname = unique_surname()
    lines = good.splitlines(keepends=True)
    lines.insert(2, f"Bad,{bad_surname},not-an-address\n")  # between good rows
    csv.write_text("".join(lines), encoding="utf-8")
    out = run(cli, *args)
    assert out["_code"] == 2, out  # some row failed: a validation error
    assert [r["status"] for r in out["results"]] == ["changed", "failed", "changed", "changed"]
    assert "mail" in out["results"][1]["error"]
    for (_given, surname), result in zip(people, [out["results"][i] for i in (0, 2, 3)],
                                         strict=True):
        login = result["target"]
        entry = ad.entry(login, ["sn", "mail"])
        assert entry is not None and entry["sn"] == [surname]
        assert entry["mail"] == [f"{surname.lower()}@example.test"]
        assert (pw / f"{login}.password").stat().st_mode & 0o777 == 0o600
    assert not [e for e in ad.snapshot(STAFF).values()
                if e.get("sn") == [bad_surname.encode()]]


def test_bulk_onboard_row_without_mail(ad: AD, cli: Cli, tmp_path: Path) -> None:
    surname = unique_surname()
    csv = tmp_path / "hires.csv"
    csv.write_text(f"given_name,surname,mail\nOlga,{surname},\n", encoding="utf-8")
    out = run(cli, "run", "bulk-onboard", "-i", f"file={csv}", "-i", f"deliver=file:{tmp_path}")
    [result] = out["results"]
    assert result["status"] == "changed", result["error"]
    entry = ad.entry(result["target"], ["sn", "mail"])
    assert entry is not None and entry["sn"] == [surname] and entry.get("mail") in (None, [])


# -- rollback -------------------------------------------------------------------------------

ROLLBACK = """\
    name: rollback-demo
    inputs:
      given_name: {}
      surname: {}
      dir: {}
    steps:
      - name: create the account
        uses: account.create
        with:
          given_name: "{{ inputs.given_name }}"
          surname: "{{ inputs.surname }}"
          deliver: "file:{{ inputs.dir }}"
        register: acct
      - name: join Staff-All
        uses: account.groups
        with: {login: "{{ steps.acct.data.login }}", add: [Staff-All]}
        register: joined
      - name: join a group that is not there
        uses: account.groups
        with: {login: "{{ steps.acct.data.login }}", add: [No-Such-Group-Pb]}
        on_error: rollback
      - name: never reached
        uses: account.disable
        with: {login: "{{ steps.acct.data.login }}"}
    """


def test_third_step_fails_and_rollback_restores_the_directory(
        ad: AD, cli: Cli, tmp_path: Path, pw: Path, rt: Any) -> None:
    ticket = rt.new_ticket(f"Onboarding that must roll back {tag()}")
    book = write_book(tmp_path, ROLLBACK)
    surname = unique_surname()
    before_staff = ad.snapshot(STAFF, QUARANTINE)
    before_groups = ad.snapshot(GROUPS)
    before_members = ad.group_members("Staff-All")

    out = run(cli, "--ticket", str(ticket), "run", str(book), "-i", "given_name=Roman",
              "-i", f"surname={surname}", "-i", f"dir={pw}")
    assert out["_code"] != 0, out
    assert statuses(out) == [
        ("account.create", "changed"), ("account.groups", "changed"),
        ("account.groups", "failed"),
        ("undo account.groups", "changed"), ("undo account.create", "changed")]
    login = out["results"][0]["target"]
    assert "no such group: No-Such-Group-Pb" in out["results"][2]["error"]
    undo = out["results"][3:]
    assert [r["target"] for r in undo] == [login, login]
    assert undo[0]["summary"] == f"undo: groups of {login}: -Staff-All"
    assert undo[1]["summary"] == (f"undo: delete {login} for good; its delivered password: "
                                  f"{pw / login}.password was removed")

    # the directory is exactly as before: the account is gone, Staff-All as it was
    assert ad.entry(login) is None
    assert ad.snapshot(STAFF, QUARANTINE) == before_staff
    assert ad.group_members("Staff-All") == before_members
    after_groups = ad.snapshot(GROUPS)
    assert after_groups.keys() == before_groups.keys()
    for dn, attrs in before_groups.items():
        keep = {k: v for k, v in attrs.items() if k not in GROUP_BOOKKEEPING}
        assert {k: v for k, v in after_groups[dn].items() if k not in GROUP_BOOKKEEPING} \
            == keep, dn

    # the journal says what was undone, in reverse order
    rows = journal_rows(cli, out["run"]["id"])
    assert [(int(r["idx"]), r["action"], r["status"]) for r in rows] == [
        (0, "account.create", "changed"), (1, "account.groups", "changed"),
        (2, "account.groups", "failed"), (3, "undo account.groups", "changed"),
        (4, "undo account.create", "changed")]
    assert rows[3]["summary"].startswith("undo: ") and rows[4]["summary"].startswith("undo: ")
    assert {c["op"] for c in rows[3]["diff"]} == {"remove"}
    assert rows[4]["diff"] == [{"op": "delete", "field": "account",
                                "before": f"CN=Roman {surname},{STAFF}", "after": None}]
    assert all(r["ticket"] in (str(ticket), f"rt:{ticket}") for r in rows)

    # and so does the ticket: one note per action, the undos among them
    notes = comments(rt, ticket)
    run_id = out["run"]["id"]
    assert len(notes) == 5, notes
    undo_notes = [n for n in notes if " undo account." in n.splitlines()[0]]
    assert len(undo_notes) == 2
    assert any(n.startswith(f"adminkit:{run_id}:3; undo account.groups {login}")
               and f"changed: undo: groups of {login}: -Staff-All" in n for n in undo_notes)
    assert any(n.startswith(f"adminkit:{run_id}:4; undo account.create {login}")
               and f"changed: undo: delete {login} for good" in n for n in undo_notes)
    assert any("error: no such group: No-Such-Group-Pb" in n for n in notes)


def test_rollback_in_check_mode_changes_and_undoes_nothing(ad: AD, cli: Cli,
                                                           tmp_path: Path) -> None:
    book = write_book(tmp_path, ROLLBACK)
    before = ad.snapshot(*ALL_OUS)
    out = run(cli, "--check", "run", str(book), "-i", "given_name=Rita", "-i",
              f"surname={unique_surname()}", "-i", f"dir={tmp_path}")
    assert [s for _, s in statuses(out)] == ["changed", "skipped", "skipped", "skipped"]
    assert not any(a.startswith("undo") for a, _ in statuses(out))
    assert out["_code"] == 0, out
    assert ad.snapshot(*ALL_OUS) == before


# -- template injection ------------------------------------------------------------------------

HOSTILE = "{{ 7*7 }} {% for x in [] %} *)(uid=*) ; rm -rf / $(id) `id` {# c #}"
HOSTILE_FIELD = "{% raw %}{{ ticket }}{% endraw %} )(|(cn=*) && echo pwned"

INJECT = """\
    name: ticket-to-attributes
    inputs:
      login: {}
    steps:
      - name: copy the ticket subject
        uses: account.set
        with:
          login: "{{ inputs.login }}"
          values:
            description: ["{{ ticket.subject }}"]
            title: ["Ticket {{ ticket.id }}: {{ ticket.fields['adminkit-run'] }}"]
    """


def test_ticket_fields_are_data_not_templates(ad: AD, cli: Cli, tmp_path: Path,
                                              rt: Any) -> None:
    login = create(cli, "Ida", unique_surname(), deliver=tmp_path)
    ticket = rt.new_ticket(HOSTILE, CustomFields={"adminkit-run": HOSTILE_FIELD})
    with rt.client() as http:  # what RT really stored is what must arrive
        data = http.get(f"/ticket/{ticket}").json()
    subject = data["Subject"]
    assert subject == HOSTILE
    [field] = [cf["values"][0] for cf in data["CustomFields"] if cf["name"] == "adminkit-run"]
    assert field == HOSTILE_FIELD

    book = write_book(tmp_path, INJECT)
    before = ad.snapshot(*ALL_OUS)
    out = run(cli, "--ticket", str(ticket), "run", str(book), "-i", f"login={login}")
    assert out["_code"] == 0, out
    assert statuses(out) == [("account.set", "changed")]
    entry = ad.entry(login, ["description", "title"])
    assert entry is not None
    assert entry["description"] == [HOSTILE]
    assert entry["title"] == [f"Ticket {ticket}: {HOSTILE_FIELD}"]

    # nothing else changed: every other entry identical, and on this one only the two values
    after = ad.snapshot(*ALL_OUS)
    dn = entry["dn"].lower()
    assert {k: v for k, v in after.items() if k != dn} == \
        {k: v for k, v in before.items() if k != dn}
    touched = {k for k in after[dn].keys() | before[dn].keys()
               if after[dn].get(k) != before[dn].get(k)}
    assert touched <= {"description", "title", "whenchanged", "usnchanged"}
    assert {"description", "title"} <= touched


def test_hostile_ticket_subject_as_a_surname(ad: AD, cli: Cli, tmp_path: Path,
                                             rt: Any) -> None:
    """The same values through account.create: the DN and filters are escaped, not built."""
    surname = f"Nováková {{{{ 7*7 }}}} *)(uid=*) ; $(id) {tag()}"
    ticket = rt.new_ticket(surname)
    login = f"pbinj{tag()}"
    book = write_book(tmp_path, f"""\
        name: ticket-to-account
        steps:
          - uses: account.create
            with:
              login: {login}
              given_name: Eva
              surname: "{{{{ ticket.subject }}}}"
              deliver: "file:{tmp_path}"
        """)
    out = run(cli, "--ticket", str(ticket), "run", str(book))
    assert out["_code"] == 0, out
    entry = ad.entry(login, ["sn", "displayName", "cn"])
    assert entry is not None
    assert entry["sn"] == [surname]
    assert entry["displayName"] == [f"Eva {surname}"]
    assert entry["cn"] == [f"Eva {surname}"]
    assert "49" not in entry["sn"][0]


# -- resume ---------------------------------------------------------------------------------

def test_resume_runs_only_what_is_not_done(ad: AD, cli: Cli, tmp_path: Path) -> None:
    ou_name = f"Later-{tag()}"
    target_ou = f"OU={ou_name},{BASE}"
    book = write_book(tmp_path, f"""\
        name: create-then-move
        inputs:
          surname: {{}}
        steps:
          - uses: account.create
            with: {{given_name: Rudolf, surname: "{{{{ inputs.surname }}}}",
                    deliver: "file:{tmp_path}"}}
            register: acct
          - uses: account.move
            with: {{login: "{{{{ steps.acct.data.login }}}}", ou: "{target_ou}"}}
        """)
    surname = unique_surname()
    first = run(cli, "run", str(book), "-i", f"surname={surname}")
    assert first["_code"] != 0, first
    assert [s for _, s in statuses(first)] == ["changed", "failed"]
    login = first["results"][0]["target"]
    run_id = first["run"]["id"]

    assert ad.conn.add(target_ou, ["top", "organizationalUnit"]), ad.conn.result
    try:
        again = run(cli, "run", "--resume", run_id)
        assert again["_code"] == 0, again
        assert again["run"]["id"] == run_id
        assert statuses(again) == [("account.create", "changed"), ("account.move", "changed")]
        assert again["results"][0]["summary"].endswith("(done earlier)")
        entry = ad.entry(login, ["cn"])
        assert entry is not None and entry["dn"].lower().endswith(target_ou.lower())
        rows = journal_rows(cli, run_id)
        assert [r["action"] for r in rows].count("account.create") == 1  # not journaled twice
    finally:
        entry = ad.entry(login, ["cn"])
        if entry is not None and entry["dn"].lower().endswith(target_ou.lower()):
            ad.conn.modify_dn(entry["dn"], entry["dn"].split(",")[0], new_superior=STAFF)
        ad.conn.delete(target_ou)
