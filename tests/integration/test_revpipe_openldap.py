"""Hostile review of the pipelined OpenLDAP import, on the lab's real slapd: a unit where
some adds are refused by the directory mid-pipeline, a unit where some rows fail their
plan, and `--check`. Read back from slapd itself: each person exactly once, a password
file only for an account that was made, and every file's password binds.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path

import pytest

from tests.integration import test_crash_resume as crash
from tests.integration import test_reconnect as reconnect
from tests.integration.test_accounts_cli import Cli, Dir
from tests.integration.test_crash_resume import letters


@pytest.fixture
def d(slapd: object, lab_config_dir: Path) -> Dir:
    made = Dir("lab-openldap", lab_config_dir)
    yield made  # type: ignore[misc]
    made.conn.unbind()


def import_(cli: Cli, d: Dir, csv: Path, folder: Path, *extra: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    r = cli("--profile", d.profile, "-o", "json", *extra, "account", "import", str(csv),
            "--deliver", f"file:{folder}")
    assert r.stdout.strip().startswith("{"), r.stderr
    return r.returncode, json.loads(r.stdout)


def people(d: Dir, tag: str) -> list[str]:
    d.conn.search(d.cfg.base_dn, f"(sn=*{tag}*)", attributes=["uid"])
    return [str(e["attributes"]["uid"][0]) for e in d.conn.response
            if e["type"] == "searchResEntry"]


def test_adds_refused_mid_pipeline_leave_no_file_and_the_rest_bind(
        cli: Cli, d: Dir, tmp_path: Path) -> None:
    """12 rows, one unit; rows 3 and 8 name an OU that does not exist, so slapd refuses
    their adds (noSuchObject) among the others, which are answered in any order."""
    tag = letters(uuid.uuid4().int, 5)
    bad = {3, 8}
    rows = [(f"Pipa{letters(i, 1)}", f"Rvp{tag}", "\"ou=nosuch,dc=example,dc=org\"" if i in bad
             else "") for i in range(12)]
    csv = tmp_path / "hires.csv"
    csv.write_text("given_name,surname,ou\n" + "".join(f"{g},{s},{o}\n" for g, s, o in rows),
                   encoding="utf-8")
    folder = tmp_path / "pw"
    folder.mkdir(mode=0o700)
    code, out = import_(cli, d, csv, folder)
    assert code == 1, out
    results = out["results"]
    assert [r["status"] for r in results] == [
        "failed" if i in bad else "changed" for i in range(12)], results
    made = people(d, tag)
    assert sorted(made) == sorted(r["target"] for r in results if r["status"] == "changed")
    assert len(made) == len(set(made)) == 10
    files = sorted(p.name.removesuffix(".password") for p in folder.glob("*.password"))
    assert files == sorted(made)  # none for a refused add
    assert not [p for p in folder.iterdir() if not p.name.endswith(".password")]
    for login in made:
        password = (folder / f"{login}.password").read_text().strip()
        assert d.bind_result(login, password)["result"] == 0, login


def test_rows_failing_the_plan_leave_the_rest_of_the_unit_whole(
        cli: Cli, d: Dir, tmp_path: Path) -> None:
    """A row naming a group that does not exist fails its plan: the whole file is
    refused before anything is written (exit 2): no entry, no file."""
    tag = letters(uuid.uuid4().int, 5)
    csv = tmp_path / "hires.csv"
    csv.write_text("given_name,surname,groups\n" + "".join(
        f"Plan{letters(i, 1)},Rvp{tag},{'No-Such-Group' if i == 4 else 'staff'}\n"
        for i in range(8)), encoding="utf-8")
    folder = tmp_path / "pw"
    folder.mkdir(mode=0o700)
    r = cli("--profile", d.profile, "account", "import", str(csv), "--deliver",
            f"file:{folder}")
    assert r.returncode == 2, r.stderr
    assert people(d, tag) == []
    assert list(folder.iterdir()) == []


def test_check_mode_writes_nothing(cli: Cli, d: Dir, tmp_path: Path) -> None:
    tag = letters(uuid.uuid4().int, 5)
    csv = tmp_path / "hires.csv"
    csv.write_text("given_name,surname\n" + "".join(
        f"Chk{letters(i, 1)},Rvp{tag}\n" for i in range(6)), encoding="utf-8")
    folder = tmp_path / "pw"
    folder.mkdir(mode=0o700)
    code, out = import_(cli, d, csv, folder, "--check")
    assert code == 0, out
    assert [r["status"] for r in out["results"]] == ["changed"] * 6
    assert people(d, tag) == []
    assert list(folder.iterdir()) == []


# -- the connection dropping under a pipeline, on slapd through the dropping proxy --------
dropping = reconnect.lab  # slapd behind a proxy that can drop the connection


@pytest.mark.parametrize("dropping", ["slapd"], indirect=True)
@pytest.mark.parametrize(("passed", "answered"), [(12, 0), (5, 0), (12, 11)])
def test_the_connection_drops_with_adds_on_the_way_then_resume(
        cli: Cli, dropping: reconnect.Lab, lab_config_dir: Path, tmp_path: Path,
        passed: int, answered: int) -> None:
    """12 rows, one unit: `passed` adds reach slapd, `answered` answers come back, then
    the connection drops (12, 0: every add left and was done, no answer came). Every
    add that left without an answer is "may or may not" with its password kept; none is
    sent twice; the resume settles every row: each person once, each file binds."""
    d = Dir(dropping.profile.name, lab_config_dir)
    try:
        fresh = letters(uuid.uuid4().int, 4)
        t = crash.Trial(d, cli, tmp_path, 96, rows=12, group=None, tag=fresh)
        t.profile = crash.dropping_profile(dropping, lab_config_dir)
        before, sent = crash.users(d), len(dropping.proxy.adds)
        dropping.proxy.cut_after_adds(passed, answered)
        first = cli(*t.argv)
        assert first.returncode == 3, first.stderr
        report = crash.outcome_json(first, t.where)
        status = Counter(r["status"] for r in report["results"])
        assert status == {"changed": answered, "failed": 12 - answered} if answered else \
            {"failed": 12}, report["results"]
        for row in report["results"]:
            assert (t.folder / f"{row['target']}.password").exists(), row
            if row["status"] == "failed":
                assert "may or may not have been done" in row["error"], row
        passed_on = dropping.proxy.adds[sent:]
        assert len(passed_on) == len(set(passed_on)) == passed
        resumed = cli("-o", "json", "run", "--resume", "last")
        assert resumed.returncode == 0, resumed.stderr
        again = crash.outcome_json(resumed, t.where)
        every = dropping.proxy.adds[sent:]
        assert len(every) == len(set(every)) == 12, every
        crash.check(t, before, report["run"]["id"], [again])
    finally:
        d.conn.unbind()


def test_killed_mid_unit_every_account_made_already_has_its_file_and_resume_leaves_no_stray(
        cli: Cli, d: Dir, tmp_path: Path) -> None:
    """SIGKILL adminkit at points within its writes (10 tries). Right after the kill,
    before any resume: every account the killed attempt made has its password file,
    and that file's password binds (files are durable before the first add). After the
    resume: the folder holds exactly one file per person's account, no staged
    temporaries, and each binds."""
    import random

    rng = random.Random(20261207)
    journal: Path = cli.journal  # type: ignore[attr-defined]
    t = crash.Trial(d, cli, tmp_path, 0, rows=50, group=None,
                    tag=letters(uuid.uuid4().int, 5))
    after_seq = crash.last_seq(journal)
    whole = cli(*t.argv)
    assert whole.returncode == 0, whole.stderr
    window = crash.write_time(crash.journal_rows(journal, crash.run_of(journal, after_seq))[0])
    kills = 0
    for number in range(1, 31):
        if kills == 10:
            break
        t = crash.Trial(d, cli, tmp_path, number, rows=50, group=None,
                        tag=letters(uuid.uuid4().int, 5))
        before, after_seq = crash.users(d), crash.last_seq(journal)
        attempt = crash.kill_during_writes(cli, t.argv, rng.uniform(0, window))
        run_id = crash.run_of(journal, after_seq)
        if not attempt.killed:
            continue
        kills += 1
        made = set(crash.users(d)) - set(before)
        with crash.Binds(d) as binds:
            for login in made:
                file = t.folder / f"{login}.password"
                assert file.exists(), f"trial {number}: {login} made, no file"
                right, why = binds.right(login, file.read_text().strip())
                assert right, f"trial {number}: {login}: {why}"
        resumed = cli("-o", "json", "run", "--resume", run_id)
        assert resumed.returncode == 0, resumed.stderr
        crash.check(t, before, run_id, [crash.outcome_json(resumed, t.where)])
        final = set(crash.users(d)) - set(before)
        assert sorted(p.name for p in t.folder.iterdir()) == sorted(
            f"{login}.password" for login in final), f"trial {number}: stray files"
    assert kills >= 5, kills


@pytest.mark.parametrize("dropping", ["slapd"], indirect=True)
def test_a_uid_number_whose_answer_is_lost_leaves_no_password_file_for_an_add_never_sent(
        cli: Cli, dropping: reconnect.Lab, lab_config_dir: Path, tmp_path: Path) -> None:
    """The unit's first compare-and-swap of the uidNumber counter loses its answer:
    the first row's add is then never sent (its entry could not be built). Its password
    was never set, so its file must be taken back and the row must say the account was
    not made (it said "may or may not have been done" and kept the file); the other rows
    are made, each file binds."""
    d = Dir(dropping.profile.name, lab_config_dir)
    try:
        t = crash.Trial(d, cli, tmp_path, 95, rows=5, group=None,
                        tag=letters(uuid.uuid4().int, 4))
        t.profile = crash.dropping_profile(dropping, lab_config_dir)
        before, sent = crash.users(d), len(dropping.proxy.adds)
        dropping.proxy.drop_answer("modifyResponse")
        first = cli(*t.argv)
        report = crash.outcome_json(first, t.where)
        passed_on = dropping.proxy.adds[sent:]
        made = set(crash.users(d)) - set(before)
        assert len(passed_on) == len(set(passed_on)) == len(made) == 4, report["results"]
        files = {p.name.removesuffix(".password") for p in t.folder.glob("*.password")}
        row = report["results"][0]
        assert row["status"] == "failed", row
        assert files == made, (row["error"], files, made)  # no file for the one never sent
        assert "not sent, the account was not made" in row["error"], row["error"]
        assert "the new password was not set" in row["error"], row["error"]
        assert row["exit_code"] == 3, row
        with crash.Binds(d) as binds:
            for login in made:
                right, why = binds.right(login, (t.folder / f"{login}.password").read_text()
                                         .strip())
                assert right, why
    finally:
        d.conn.unbind()
