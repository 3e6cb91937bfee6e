"""`adminkit approve|reject` at the command line: the OS login decides who approves.

`--as ID` used to be taken on the operator's word: anyone who could run adminkit could
type the boss's id. Now the login (the real user's, not ADMINKIT_OPERATOR, which the
unit conftest sets to "tester") must be mapped to an approver by
`automation.console_approvers`, `--as` may only restate that mapping, and the ticket
system (here ServiceNow, through its protocol-level fake) must still know the person,
active. The note and the journal name the approver and the login that typed it.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from adminkit.automation.console import console_login
from adminkit.automation.dispatch import Dispatcher
from adminkit.automation.service import RunService
from adminkit.core.config import load_profile
from adminkit.journal.store import Journal
from adminkit.journal.triggers import Triggers
from adminkit.tickets.servicenow import ServiceNow
from tests.fakes.servicenow import FakeServiceNow
from tests.fakes.ticketfake import SECRET_ENV

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"
NUMBER = "INC0012345"


class Rig:
    def __init__(self, env: Any, fake: FakeServiceNow) -> None:
        self.env, self.fake = env, fake
        self.anna = fake.sys_user("Anna Example", "anna.example")
        self.boss = fake.sys_user("Boss Person", "boss.person")
        fake.record(NUMBER, "unlock: jdoe", caller_id=self.anna)

    def profile(self, console: dict[str, str]) -> None:
        (self.env.profiles / "acme.yaml").write_text(yaml.safe_dump({
            "name": "acme", "tickets": {"kind": "servicenow", "url": self.fake.url,
                                        "user": self.fake.user,
                                        "password": f"env:{SECRET_ENV}"},
            "automation": {"approvers": [f"snow:{self.boss}", f"snow:{self.anna}"],
                           "console_approvers": console,
                           "rules": [{"name": "unlock", "playbook": "unlock-account",
                                      "requires_approval": True,
                                      "match": {"subject": r"^unlock:\s*(?P<login>\S+)$"},
                                      "fields": {"login": "subject:login"},
                                      "requesters": ["*"]}]}}))

    def wait(self) -> str:
        """The ticket's run, waiting for approval: its id."""
        profile = load_profile("acme", self.env.config)
        journal, system = Journal(self.env.journal), ServiceNow(profile)
        try:
            dispatcher = Dispatcher(RunService(journal_path=self.env.journal,
                                               config_dir=self.env.config),
                                    profile, system, journal,
                                    lambda name: PLAYBOOKS / f"{name}.yaml", source="test")
            triggers = Triggers(journal)
            triggers.add(f"snow:{NUMBER}:created", source="test", profile="acme",
                         ticket=f"snow:{NUMBER}")
            trigger = triggers.get(f"snow:{NUMBER}:created")
            assert trigger is not None
            outcome = dispatcher.handle(trigger)
            dispatcher.flush()
        finally:
            system.close()
            journal.close()
        assert outcome.status == "waiting" and outcome.run_id
        return outcome.run_id

    def said(self) -> list[str]:
        return [value for _, value in self.fake.journal_of(NUMBER)]

    def decisions(self) -> list[tuple[str, str, str]]:
        """(status, operator, summary) of each journaled decision, oldest first."""
        db = sqlite3.connect(self.env.journal)
        try:
            return [(str(r[0]), str(r[1]), str(r[2])) for r in db.execute(
                "SELECT status, operator, summary FROM entries WHERE kind = 'end' "
                "ORDER BY seq")]
        finally:
            db.close()


@pytest.fixture
def rig(env: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    with FakeServiceNow() as fake:
        monkeypatch.setenv(SECRET_ENV, fake.secret)
        yield Rig(env, fake)


def test_the_login_approves_as_the_approver_the_profile_maps_it_to(rig: Rig,
                                                                   cli: Any) -> None:
    login = console_login()
    rig.profile({login: f"snow:{rig.boss}"})
    run_id = rig.wait()
    r = cli("-p", "acme", "approve", run_id)  # --as defaults to the login's approver
    # the run starts (and fails: this profile has no directory for its action)
    assert r.code != 4 and f"run {run_id}" in r.out, (r.code, r.out, r.err)
    who = f"approved by Boss Person (snow:{rig.boss}) (adminkit approve by OS user {login} on "
    assert any(who in b for b in rig.said()), rig.said()
    approved = [d for d in rig.decisions() if d[0] == "approved"]
    assert approved and approved[0][1] == login  # the journal names who typed it


def test_an_approvers_id_typed_by_another_login_is_refused(rig: Rig, cli: Any) -> None:
    """The login is mapped to Anna; typing the boss's id does not make it the boss."""
    rig.profile({console_login(): f"snow:{rig.anna}"})
    run_id = rig.wait()
    r = cli("-p", "acme", "reject", run_id, "--as", f"snow:{rig.boss}")
    assert r.code == 4
    assert f"approves as snow:{rig.anna}, not as snow:{rig.boss}" in r.err
    assert not any("rejected by" in b for b in rig.said())


def test_a_login_the_profile_does_not_map_may_not_approve(rig: Rig, cli: Any) -> None:
    rig.profile({"someone-else": f"snow:{rig.boss}"})
    run_id = rig.wait()
    r = cli("-p", "acme", "approve", run_id, "--as", f"snow:{rig.boss}")
    assert r.code == 4
    assert f"OS user {console_login()} may not approve or reject at the command line" in r.err
    assert not any("approved by" in b for b in rig.said())


def test_an_approver_who_has_left_approves_nothing(rig: Rig, cli: Any) -> None:
    rig.profile({console_login(): f"snow:{rig.boss}"})
    run_id = rig.wait()
    rig.fake.store.users[rig.boss]["active"] = "false"
    r = cli("-p", "acme", "approve", run_id)
    assert r.code == 4 and f"Boss Person (snow:{rig.boss}) is inactive in servicenow" in r.err
    del rig.fake.store.users[rig.boss]  # deleted from sys_user
    r = cli("-p", "acme", "approve", run_id)
    assert r.code == 4 and f"snow:{rig.boss}: servicenow has no such user" in r.err
    assert not any("approved by" in b for b in rig.said())


def test_four_eyes_holds_at_the_command_line(rig: Rig, cli: Any) -> None:
    rig.profile({console_login(): f"snow:{rig.anna}"})  # the caller's own login
    run_id = rig.wait()
    r = cli("-p", "acme", "approve", run_id)
    assert r.code == 4 and "cannot approve it too (four eyes)" in r.err


def test_a_console_approver_not_among_the_approvers_is_refused_at_load(rig: Rig,
                                                                       cli: Any) -> None:
    rig.profile({console_login(): "snow:" + "0" * 32})
    r = cli("-p", "acme", "approve", "R-20261206-214501-3f9a2c")
    assert r.code == 2 and "who is not in automation.approvers" in r.err


def test_zammad_says_who_a_user_id_is_and_whether_they_are_active(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from adminkit.core.config import Profile
    from adminkit.tickets.zammad import Zammad
    from tests.fakes.zammad import FakeZammad

    with FakeZammad() as fake:
        monkeypatch.setenv(SECRET_ENV, fake.secret)
        boss = fake.person("boss@example.com", "Boss", "Person")
        system = Zammad(Profile.model_validate({"name": "acme", "tickets": {
            "kind": "zammad", "url": fake.url, "token": f"env:{SECRET_ENV}"}}))
        try:
            assert system.person(f"zammad:{boss.id}") == ("Boss Person", True)
            boss.active = False
            assert system.person(f"zammad:{boss.id}") == ("Boss Person", False)
            assert system.person("zammad:999999") is None
            assert system.person("Boss Person") is None
        finally:
            system.close()


@pytest.mark.parametrize("data_center", [False, True])
def test_jira_says_who_a_user_id_is_and_whether_they_are_active(
        monkeypatch: pytest.MonkeyPatch, data_center: bool) -> None:
    import dataclasses

    from adminkit.core.config import Profile
    from adminkit.tickets.jira import Jira
    from tests.fakes.jira import FakeJira, person

    with FakeJira(pat="jira-pat-1") as fake:
        monkeypatch.setenv(SECRET_ENV, fake.secret)
        monkeypatch.setenv("JIRA_PAT", "jira-pat-1")
        boss = person("boss", "Boss Person")
        fake.issue("HD-1", "unlock: jdoe").comments.clear()
        fake.comment("HD-1", "hello", author=boss)  # a user the instance knows
        tickets = ({"kind": "jira", "url": fake.url, "token": "env:JIRA_PAT"} if data_center
                   else {"kind": "jira", "url": fake.url, "user": fake.user,
                         "password": f"env:{SECRET_ENV}"})
        ident = f"jira:{boss.key if data_center else boss.account_id}"
        system = Jira(Profile.model_validate({"name": "acme", "tickets": tickets}))
        try:
            assert system.person(ident) == ("Boss Person", True)
            fake.people[boss.account_id] = dataclasses.replace(boss, active=False)
            assert system.person(ident) == ("Boss Person", False)
            assert system.person("jira:nobody-here") is None
            other = boss.account_id if data_center else boss.key  # the other system's form
            assert system.person(f"jira:{other}") is None
        finally:
            system.close()


# The map's file: only root, or the owner the profile names, may have written it.
NOBODY = 65534  # a uid that is not the test's (root)


def _owned_by(rig: Rig, owner: str) -> Path:
    """The profile mapping this login to the boss, naming `owner` as the map's owner."""
    rig.profile({console_login(): f"snow:{rig.boss}"})
    path = rig.env.profiles / "acme.yaml"
    data = yaml.safe_load(path.read_text())
    data["automation"]["console_approvers_owner"] = owner
    path.write_text(yaml.safe_dump(data))
    return path


def _refused(rig: Rig, r: Any, *words: str) -> None:
    assert r.code == 4, (r.code, r.out, r.err)
    assert all(w in r.err for w in words), r.err
    assert not any("approved by" in b for b in rig.said())


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_a_map_in_a_file_another_user_owns_is_refused(rig: Rig, cli: Any) -> None:
    path = rig.env.profiles / "acme.yaml"
    rig.profile({console_login(): f"snow:{rig.boss}"})
    os.chown(path, NOBODY, -1)
    r = cli("-p", "acme", "approve", rig.wait())
    _refused(rig, r, str(path), f"uid {NOBODY}", "not by root")


def test_a_map_in_a_group_writable_file_is_refused(rig: Rig, cli: Any) -> None:
    rig.profile({console_login(): f"snow:{rig.boss}"})
    path = rig.env.profiles / "acme.yaml"
    path.chmod(0o664)
    r = cli("-p", "acme", "approve", rig.wait())
    _refused(rig, r, str(path), "writable by group or others (mode 0664)")


def test_a_map_below_a_folder_others_can_write_is_refused(rig: Rig, cli: Any) -> None:
    rig.profile({console_login(): f"snow:{rig.boss}"})
    rig.env.config.chmod(0o777)  # not sticky: anyone could swap profiles/ for their own
    try:
        r = cli("-p", "acme", "approve", rig.wait())
    finally:
        rig.env.config.chmod(0o755)
    _refused(rig, r, f"{rig.env.config}: the folder is writable by group or others")


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_a_link_to_a_map_in_someone_elses_folder_is_refused(rig: Rig, cli: Any,
                                                            tmp_path: Path) -> None:
    rig.profile({console_login(): f"snow:{rig.boss}"})
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    path = rig.env.profiles / "acme.yaml"
    path.rename(theirs / "acme.yaml")
    path.symlink_to(theirs / "acme.yaml")
    os.chown(theirs, NOBODY, -1)  # its owner could replace the file the link leads to
    r = cli("-p", "acme", "approve", rig.wait())
    _refused(rig, r, f"{theirs}: owned by", f"uid {NOBODY}")


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_the_owner_the_profile_names_may_own_the_map(rig: Rig, cli: Any) -> None:
    import pwd

    path = _owned_by(rig, pwd.getpwuid(NOBODY).pw_name)
    os.chown(path, NOBODY, -1)
    r = cli("-p", "acme", "approve", rig.wait())
    assert r.code != 4 and any("approved by Boss Person" in b for b in rig.said()), r.err


def test_the_maps_owner_may_not_be_a_login_it_maps(rig: Rig, cli: Any) -> None:
    _owned_by(rig, console_login())
    r = cli("-p", "acme", "approve", rig.wait())
    _refused(rig, r, f"automation.console_approvers_owner {console_login()} is also a "
                     "login the map names")
