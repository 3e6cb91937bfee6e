"""Crash safety: a bulk `account import` killed with SIGKILL during its writes, then resumed.

The import is the real command in its own process, delivering passwords to a folder. It is
killed at random points of its writes (after its journal shows the first write announced,
a random delay within the time a whole import takes to write) on the lab's Samba AD and
OpenLDAP, sometimes its resume too, then `run --resume` finishes it. Everything is then
read back from the server itself, not through adminkit: every person of the file exists
once, every account's password file holds its real password (a bind says so), and the
journal verifies and says what the run did, including what a killed attempt did before
it died. Also here: a finished run is not resumed, a killed bulk password reset is not
done again for the rows it had done, and an add whose answer the network loses (a
proxy drops it) keeps the password it set.

The kill points come from a seeded RNG: the seed is printed, and `ADMINKIT_CRASH_SEED=N`
replays it (the points are delays, so a replay hits the same moments only roughly);
`ADMINKIT_CRASH_KILLS=N` kills N imports per directory instead of 20.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import ldap3
import pytest
import yaml

from adminkit.journal.store import Filters, Journal
from tests.integration import test_accounts_cli as accounts
from tests.integration import test_reconnect as reconnect
from tests.integration.test_accounts_cli import GROUP, Cli, Dir

directory = accounts.directory  # the same fixture: each lab directory, reset for this module
dropping = reconnect.lab  # each lab directory behind a proxy that can lose its answers

SEED = int(os.environ.get("ADMINKIT_CRASH_SEED") or random.SystemRandom().randrange(1, 2**31))
KILLS = int(os.environ.get("ADMINKIT_CRASH_KILLS") or 20)  # per directory
# Samba hashes each new password slowly: fewer rows there
ROWS = {"lab": 40, "lab-openldap": 80}
GIVEN = ("Jana", "Jiřina")  # the same login for both: every second row gets a suffix
USERS = {"ad": "(&(objectCategory=person)(objectClass=user))",
         "openldap": "(objectClass=inetOrgPerson)"}


def letters(n: int, width: int = 2) -> str:
    out = ""
    for _ in range(width):
        n, r = divmod(n, 26)
        out = chr(97 + r) + out
    return out


@dataclass
class Tally:
    kills: int = 0  # killed during the writes
    late: int = 0  # the import had finished its writes before the kill
    made: int = 0  # accounts the killed attempts had made
    settled: int = 0  # rows a killed attempt announced, that the resume found done
    twice: int = 0  # resumes killed during their writes too


class Trial:
    """One import of fresh people into `folder`, perhaps killed, then checked."""

    def __init__(self, d: Dir, cli: Cli, tmp: Path, number: int, *, rows: int | None = None,
                 group: str | None = "", tag: str | None = None) -> None:
        """`group`: the one every row names ("": the directory's lab group; None: none);
        `tag`: in every surname (default: from `number`, fresh in a directory just reset)."""
        self.d, self.cli, self.number = d, cli, number
        self.profile = d.profile  # what the import runs with
        self.dir = tmp / f"t{number:02d}"
        self.folder = self.dir / "pw"
        self.folder.mkdir(parents=True, mode=0o700)
        tag = tag or letters(number)
        self.people = [(GIVEN[i % 2], f"Pádová{tag}{letters(i // 2)}")
                       for i in range(rows or ROWS[d.profile])]
        self.group = GROUP[d.profile] if group == "" else group
        self.csv = self.dir / "hires.csv"
        self.csv.write_text("given_name,surname,groups\n" + "".join(
            f"{g},{s},{self.group or ''}\n" for g, s in self.people), encoding="utf-8")
        self.where = f"ADMINKIT_CRASH_SEED={SEED}, {d.profile}, trial {number}"

    @property
    def argv(self) -> list[str]:
        return ["--profile", self.profile, "-o", "json", "account", "import", str(self.csv),
                "--deliver", f"file:{self.folder}"]


# -- the journal, read while the import writes it -----------------------------------------

def last_seq(journal: Path) -> int:
    if not journal.exists():
        return 0
    db = sqlite3.connect(journal)
    try:
        return int(db.execute("SELECT coalesce(max(seq), 0) FROM entries").fetchone()[0])
    finally:
        db.close()


def first_write(journal: Path, after: int, proc: subprocess.Popen[str]) -> float | None:
    """When the import's journal first announces a write (None: it ended before any)."""
    db: sqlite3.Connection | None = None
    try:
        while proc.poll() is None:
            try:
                if db is None and journal.exists():
                    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5,
                                         isolation_level=None)
                if db is not None and db.execute(
                        "SELECT 1 FROM entries WHERE seq > ? AND kind = 'action' "
                        "AND status = 'started' LIMIT 1", (after,)).fetchone():
                    return time.monotonic()
            except sqlite3.OperationalError:  # not made yet
                pass
            time.sleep(0.002)
        return None
    finally:
        if db is not None:
            db.close()


def run_of(journal: Path, after: int) -> str:
    db = sqlite3.connect(journal)
    try:
        row = db.execute("SELECT run_id FROM entries WHERE seq > ? AND kind = 'run' "
                         "ORDER BY seq LIMIT 1", (after,)).fetchone()
    finally:
        db.close()
    assert row is not None, "the import journaled no run"
    return str(row[0])


def write_time(rows: list[dict[str, Any]]) -> float:
    """Seconds from a finished run's first announced write to its end row, by the journal."""
    first = min(r["time"] for r in rows if r["kind"] == "action" and r["status"] == "started")
    [end] = [r["time"] for r in rows if r["kind"] == "end"]
    return (datetime.fromisoformat(end) - datetime.fromisoformat(first)).total_seconds()


def journal_rows(journal: Path, run_id: str) -> tuple[list[dict[str, Any]], bool]:
    """The run's rows, its announced writes too, and whether the whole journal verifies."""
    j = Journal(journal)
    try:
        return j.entries(Filters(run_id=run_id, kinds=("run", "action", "end"),
                                 settled_intents=True)), j.verify().ok
    finally:
        j.close()


# -- the server, read directly --------------------------------------------------------------

def users(d: Dir) -> dict[str, dict[str, Any]]:
    """Every user account on the server, by login (lower case)."""
    attrs = [d.login_attr, "givenName", "sn", "memberOf"]
    if d.cfg.kind == "openldap":
        attrs.append("uidNumber")
    found = d.conn.extend.standard.paged_search(d.cfg.base_dn, USERS[d.cfg.kind],
                                                attributes=attrs, paged_size=500,
                                                generator=False)
    out: dict[str, dict[str, Any]] = {}
    for e in found:
        if e["type"] != "searchResEntry":
            continue
        login = e["attributes"][d.login_attr]
        login = login[0] if isinstance(login, list) else login
        assert login.lower() not in out, f"two entries with the login {login}"
        out[login.lower()] = {"dn": e["dn"], **e["attributes"]}
    return out


def one(value: Any) -> Any:
    """A single-valued attribute's value (AD's schema says single, slapd's may not)."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


class Binds:
    """Binds as users on one connection of their own (a TLS handshake once, not per user).

    A bind says whether a password is right: AD refuses a right password of an account
    that must change it with data 773 and a wrong one with 52e; slapd binds with pwdReset.
    """

    def __init__(self, d: Dir) -> None:
        self.d = d
        self.conn = ldap3.Connection(d.server, raise_exceptions=False)
        self.conn.open()

    def __enter__(self) -> Binds:
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.unbind()

    def right(self, login: str, password: str) -> tuple[bool, str]:
        d = self.d
        who = f"{login}@samdom.example.com" if d.cfg.kind == "ad" else \
            f"uid={login},{d.cfg.users_ou}"
        if self.conn.rebind(who, password, read_server_info=False):
            return True, "bound"
        result = self.conn.result
        message = str(result.get("message", ""))
        if d.cfg.kind == "ad" and "data 773" in message:
            return True, "must change (773)"
        return False, f"{result.get('description')}: {message}"


# -- the checks ---------------------------------------------------------------------------

def check(t: Trial, before: dict[str, dict[str, Any]], run_id: str,
          outputs: list[dict[str, Any]]) -> None:
    """Everything the issue asks, read back from the server and the journal."""
    d, where = t.d, t.where
    after = users(d)
    mine = {(one(e.get("givenName")), one(e.get("sn"))): login for login, e in after.items()}
    counts = Counter((one(e.get("givenName")), one(e.get("sn"))) for e in after.values())
    for person in t.people:  # every person exactly once
        assert counts[person] == 1, f"{where}: {person} has {counts[person]} account(s)"
    if d.cfg.kind == "openldap":
        numbers = Counter(str(one(e["uidNumber"])) for e in after.values() if e.get("uidNumber"))
        twice = [n for n, c in numbers.items() if c > 1]
        assert not twice, f"{where}: uidNumber(s) given twice: {twice}"
    logins = {person: mine[person] for person in t.people}
    with Binds(d) as binds:
        for person, login in logins.items():
            file = t.folder / f"{login}.password"
            assert file.exists(), f"{where}: {login} ({person}) exists with no password file"
            password = file.read_text().strip()
            assert password, f"{where}: {login}'s password file is empty"
            assert file.stat().st_mode & 0o777 == 0o600
            right, why = binds.right(login, password)
            assert right, f"{where}: {login}'s password file is not its password ({why})"
            groups = {dn.split(",")[0].split("=")[1].lower()
                      for dn in after[login].get("memberOf", [])}
            assert t.group is None or t.group.lower() in groups, \
                f"{where}: {login} is not in {t.group}"

    rows, verified = journal_rows(t.cli.journal, run_id)  # type: ignore[attr-defined]
    assert verified, f"{where}: the journal does not verify"
    outcome = {r["idx"] for r in rows if r["kind"] == "action" and r["status"] in ("ok", "changed")}
    assert outcome == set(range(len(t.people))), \
        f"{where}: rows without an outcome: {sorted(set(range(len(t.people))) - outcome)}"
    changed = {r["target"] for r in rows if r["kind"] == "action" and r["status"] == "changed"}
    new = set(after) - set(before)
    assert new == {x.lower() for x in logins.values()}, f"{where}: accounts made: {sorted(new)}"
    unjournaled = sorted(x for x in new if x not in {c.lower() for c in changed})
    assert not unjournaled, f"{where}: made by the run but not journaled as changed: {unjournaled}"
    said = [r for r in rows if r["kind"] == "action"] + \
        [r for out in outputs for r in out.get("results", [])]
    for r in said:  # never "ok, already exists" for an account whose password nobody has
        if r["status"] == "ok" and "already exists" in (r["summary"] or ""):
            file = t.folder / f"{r['target']}.password"
            assert file.exists() and file.read_text().strip(), \
                f"{where}: {r['target']} reported ok ({r['summary']}) with no password file"


def outcome_json(done: subprocess.CompletedProcess[str] | tuple[str, str], where: str
                 ) -> dict[str, Any]:
    out, err = (done.stdout, done.stderr) if not isinstance(done, tuple) else done
    assert out.strip().startswith("{"), f"{where}: no report: {err}"
    return dict(json.loads(out))


# -- the test -------------------------------------------------------------------------------

@dataclass
class Killed:
    """How one attempt ended: killed during its writes, or not."""

    killed: bool
    returncode: int
    out: str
    err: str


def kill_during_writes(cli: Cli, args: list[str], delay: float) -> Killed:
    """Start `adminkit ARGS`; `delay` seconds after its journal announces its first write,
    SIGKILL it. Not killed: it had ended (or finished its writes: the end row is there)."""
    journal: Path = cli.journal  # type: ignore[attr-defined]
    after = last_seq(journal)
    proc = subprocess.Popen([*cli.argv, *args],  # type: ignore[attr-defined]
                            env={**os.environ, **cli.env},  # type: ignore[attr-defined]
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    began = first_write(journal, after, proc)
    if began is not None:
        time.sleep(max(0.0, began + delay - time.monotonic()))
        proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode in (0, -signal.SIGKILL), err
    db = sqlite3.connect(journal)
    try:
        ended = db.execute("SELECT 1 FROM entries WHERE seq > ? AND kind = 'end'",
                           (after,)).fetchone()
    finally:
        db.close()
    return Killed(proc.returncode == -signal.SIGKILL and not ended, proc.returncode, out, err)


def test_import_killed_during_its_writes_resumes_to_every_account_with_its_password(
        cli: Cli, directory: Dir, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = directory
    rng = random.Random(f"{SEED}:{d.profile}")
    journal: Path = cli.journal  # type: ignore[attr-defined]
    tally = Tally()
    began = time.monotonic()

    # an import that is not killed: it must pass the same checks, and it says how long
    # the writes take here (the kills fall within that)
    t = Trial(d, cli, tmp_path, 0)
    before, after_seq = users(d), last_seq(journal)
    whole = cli(*t.argv)
    assert whole.returncode == 0, f"{t.where}: {whole.stderr}"
    run_id = run_of(journal, after_seq)
    window = write_time(journal_rows(journal, run_id)[0])
    check(t, before, run_id, [outcome_json(whole, t.where)])

    number = 0
    while tally.kills < KILLS:
        number += 1
        assert number <= 3 * KILLS, f"ADMINKIT_CRASH_SEED={SEED}: the imports kept finishing " \
                                    f"before the kill ({tally})"
        # every second file names no group: an account the killed attempt made is then
        # complete, and the resume must find it done (with a group it has one to add)
        t = Trial(d, cli, tmp_path, number, group="" if number % 2 else None)
        before, after_seq = users(d), last_seq(journal)
        delay = rng.uniform(0, window)
        attempt = kill_during_writes(cli, t.argv, delay)
        run_id = run_of(journal, after_seq)
        if not attempt.killed:  # too late: the writes were over
            tally.late += 1
            window = min(window, write_time(journal_rows(journal, run_id)[0]))
            # killed while it printed its report: the report is cut short
            check(t, before, run_id, [outcome_json((attempt.out, attempt.err), t.where)]
                  if attempt.returncode == 0 else [])
            continue
        tally.kills += 1
        t.where += f", killed {delay:.3f} s into the writes"
        mid = users(d)  # what the killed attempt had made
        which = "last" if number % 2 else run_id
        if rng.random() < 0.25:  # the resume is killed too, in its own writes
            delay = rng.uniform(0, window / 2)
            again = kill_during_writes(cli, ["-o", "json", "run", "--resume", which], delay)
            t.where += f", its resume killed {delay:.3f} s into its writes" if again.killed \
                else ", its first resume was not killed"
            tally.twice += again.killed
            which = run_id if not again.killed else which
        resumed = cli("-o", "json", "run", "--resume", which)
        assert resumed.returncode == 0, f"{t.where}: {resumed.stderr}"
        report = outcome_json(resumed, t.where)
        assert report["run"]["id"] == run_id
        check(t, before, run_id, [report])
        tally.made += len(set(mid) - set(before))
        tally.settled += sum(1 for r in report["results"]
                             if "done by the interrupted attempt" in r["summary"])

    verify = cli("journal", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    with capsys.disabled():
        print(f"\n  crash test {d.profile}: ADMINKIT_CRASH_SEED={SEED}, {tally.kills} kills "
              f"within {window:.2f} s of writes ({tally.late} came too late; {tally.twice} "
              f"resumes killed too), {ROWS[d.profile]} rows each; the killed attempts made "
              f"{tally.made} accounts, the resumes found {tally.settled} announced rows done; "
              f"{time.monotonic() - began:.0f} s")


def test_resume_of_a_finished_import_changes_nothing_in_an_emptied_directory(
        cli: Cli, directory: Dir, tmp_path: Path) -> None:
    """A run that finished well is done: resuming it does not redo it, even when the
    directory has lost what it made since (running the command again is how to redo)."""
    d = directory
    t = Trial(d, cli, tmp_path, 99, rows=3, group=None)
    before = users(d)
    first = cli(*t.argv)
    assert first.returncode == 0, first.stderr
    run_id = outcome_json(first, t.where)["run"]["id"]
    made = set(users(d)) - set(before)
    assert len(made) == 3
    for login in made:  # the directory forgets them behind adminkit's back
        assert d.conn.delete(users(d)[login]["dn"]), d.conn.result
    rows_before = journal_rows(cli.journal, run_id)[0]  # type: ignore[attr-defined]

    resumed = cli("-o", "json", "run", "--resume", run_id)
    assert resumed.returncode == 0, resumed.stderr
    assert f"run {run_id} finished at" in resumed.stderr
    assert "nothing to resume" in resumed.stderr
    assert not outcome_json(resumed, t.where)["results"]
    assert not set(users(d)) - set(before)  # nothing was made again
    rows, verified = journal_rows(cli.journal, run_id)  # type: ignore[attr-defined]
    assert verified and rows == rows_before  # and nothing journaled

    last = cli("run", "--resume", "last")  # it is not the last unfinished run either
    assert last.returncode == 2, last.stderr
    assert "no interrupted or failed run" in last.stderr
    assert not set(users(d)) - set(before)


def dropping_profile(lab: reconnect.Lab, config_dir: Path) -> str:
    """The lab directory's profile, reached through the proxy that loses answers; one
    worker, so that a bulk run's writes after a lost answer go on one connection."""
    data = yaml.safe_load(lab.profile.file.read_text())
    data["directory"]["url"] = lab.proxied_cfg().url
    data.setdefault("accounts", {})["workers"] = 1
    name = f"{lab.profile.name}-dropping"
    (config_dir / "profiles" / f"{name}.yaml").write_text(yaml.safe_dump(data))
    return name


@pytest.mark.parametrize("lost", [1, 2])
def test_an_import_whose_add_answers_are_lost_keeps_the_passwords_it_set(
        cli: Cli, dropping: reconnect.Lab, lab_config_dir: Path, tmp_path: Path,
        lost: int) -> None:
    """The directory creates the account and its answer is lost on the way (a network or
    the server failing): the password the account got stays delivered, the row fails
    saying its outcome is unknown, and the resume finds the account made by the run.
    Twice: two answers in a row, the second on the connection opened again. OpenLDAP
    pipelines a unit's adds: every add on the way when the connection drops is unknown
    (30 rows: two units, so the second loss is on the connection opened again)."""
    d = Dir(dropping.profile.name, lab_config_dir)
    pipelined = d.cfg.kind == "openldap"
    try:
        fresh = letters(uuid.uuid4().int, 4)  # this directory was not reset for it
        t = Trial(d, cli, tmp_path, 98, rows=30 if pipelined else 4, group=None, tag=fresh)
        t.profile = dropping_profile(dropping, lab_config_dir)
        before, dropped = users(d), len(dropping.proxy.dropped)
        dropping.proxy.drop_answer("addResponse", times=lost)
        first = cli(*t.argv)
        assert dropping.proxy.dropped[dropped:] == ["addResponse"] * lost, first.stderr
        assert first.returncode == 3, first.stderr
        report = outcome_json(first, t.where)
        failed = [r for r in report["results"] if r["status"] == "failed"]
        assert len(failed) >= lost if pipelined else len(failed) == lost, failed
        now = users(d)
        made = set()
        with Binds(d) as binds:
            for row in failed:
                assert "may or may not have been done" in row["error"]
                assert "the new password was delivered" in row["error"]
                login = row["target"]
                file = t.folder / f"{login}.password"
                assert file.exists(), f"{login}: the password it was given was taken back"
                if login not in now:  # pipelined: sent, and lost before the directory
                    assert pipelined, f"{login}: the directory did not do it"
                    continue
                made.add(login)
                assert binds.right(login, file.read_text().strip())[0]
        assert len(made) >= lost  # the answers dropped were the directory's

        resumed = cli("-o", "json", "run", "--resume", "last")
        assert resumed.returncode == 0, resumed.stderr
        again = outcome_json(resumed, t.where)
        for row in failed:
            [now_row] = [r for r in again["results"] if r["target"] == row["target"]]
            assert now_row["status"] == "changed", now_row
            if row["target"] in made:
                assert "done by the interrupted attempt" in now_row["summary"]
        check(t, before, report["run"]["id"], [again])
    finally:
        d.conn.unbind()


@pytest.mark.parametrize("dropping", ["slapd"], indirect=True)  # OpenLDAP pipelines its adds
def test_an_import_whose_connection_drops_mid_pipeline_resends_nothing_and_resumes(
        cli: Cli, dropping: reconnect.Lab, lab_config_dir: Path, tmp_path: Path) -> None:
    """A unit's ten adds go out without waiting for answers; the connection drops with
    six of them done at the directory and three of those answered: those three are
    created; the other seven (three done with the answer lost, four that never got
    there) are each "may or may not have been done", with their passwords kept. No add
    is ever sent twice, and the resume settles every row from the directory: each
    person exactly once, each password file the account's password."""
    d = Dir(dropping.profile.name, lab_config_dir)
    try:
        fresh = letters(uuid.uuid4().int, 4)
        t = Trial(d, cli, tmp_path, 97, rows=10, group=None, tag=fresh)
        t.profile = dropping_profile(dropping, lab_config_dir)
        before, sent = users(d), len(dropping.proxy.adds)
        dropping.proxy.cut_after_adds(6, 3)
        first = cli(*t.argv)
        assert first.returncode == 3, first.stderr
        report = outcome_json(first, t.where)
        status = Counter(r["status"] for r in report["results"])
        assert status == {"changed": 3, "failed": 7}, report["results"]
        for row in report["results"]:
            if row["status"] == "failed":
                assert "may or may not have been done" in row["error"], row
                assert "the new password was delivered" in row["error"], row
                assert (t.folder / f"{row['target']}.password").exists()
        passed = dropping.proxy.adds[sent:]
        assert len(passed) == len(set(passed)) == 6, passed
        assert len(set(users(d)) - set(before)) == 6  # what reached the directory, once

        resumed = cli("-o", "json", "run", "--resume", "last")
        assert resumed.returncode == 0, resumed.stderr
        again = outcome_json(resumed, t.where)
        every = dropping.proxy.adds[sent:]
        assert len(every) == len(set(every)) == 10, every  # the four missing, once each
        check(t, before, report["run"]["id"], [again])
    finally:
        d.conn.unbind()


def first_outcomes(journal: Path, after: int, count: int, proc: subprocess.Popen[str]) -> bool:
    """Wait until the journal has `count` outcome rows after row `after`."""
    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5, isolation_level=None)
    try:
        while proc.poll() is None:
            done = db.execute("SELECT count(*) FROM entries WHERE seq > ? AND kind = 'action' "
                              "AND status = 'changed'", (after,)).fetchone()[0]
            if done >= count:
                return True
            time.sleep(0.002)
        return False
    finally:
        db.close()


def test_a_killed_bulk_password_reset_resumes_without_resetting_done_rows_again(
        cli: Cli, directory: Dir, tmp_path: Path) -> None:
    """A password reset always plans a change (a password cannot be read back), so the
    plan cannot say that a row journaled as done needs doing again: the resume does the
    rows not done and leaves the passwords it delivered before as they are."""
    d = directory
    t = Trial(d, cli, tmp_path, 97, rows=24, group=None)
    made = cli(*t.argv)
    assert made.returncode == 0, made.stderr
    logins = [r["target"] for r in outcome_json(made, t.where)["results"]]
    leavers = t.dir / "reset.csv"
    leavers.write_text("login\n" + "".join(f"{x}\n" for x in logins))
    folder = t.dir / "reset"
    folder.mkdir(mode=0o700)
    journal: Path = cli.journal  # type: ignore[attr-defined]
    after = last_seq(journal)
    proc = subprocess.Popen([*cli.argv, "--profile", d.profile, "account", "bulk",  # type: ignore[attr-defined]
                             "password", str(leavers), "--deliver", f"file:{folder}"],
                            env={**os.environ, **cli.env},  # type: ignore[attr-defined]
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert first_outcomes(journal, after, 4, proc), proc.communicate()
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    run_id = run_of(journal, after)
    rows = journal_rows(journal, run_id)[0]
    done = {r["target"] for r in rows if r["kind"] == "action" and r["status"] == "changed"}
    delivered = {x: (folder / f"{x}.password").read_text() for x in done}
    assert done and len(done) < len(logins)

    resumed = cli("-o", "json", "run", "--resume", run_id)
    assert resumed.returncode == 0, resumed.stderr
    rows, verified = journal_rows(journal, run_id)
    assert verified
    resets = Counter(r["target"] for r in rows if r["kind"] == "action"
                     and r["status"] == "changed")
    assert resets == Counter(logins), "a row was reset twice (or not at all)"
    with Binds(d) as binds:
        for login in logins:
            password = (folder / f"{login}.password").read_text()
            if login in delivered:
                assert password == delivered[login], f"{login}: its password was reset again"
            assert binds.right(login, password.strip())[0], login
