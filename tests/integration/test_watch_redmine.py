"""`adminkit watch` on the lab's Redmine and AD: issues in, runs and notes out.

Issues are made through Redmine's REST API (as its admin, or as the bot for a requester
the rule does not allow); `adminkit watch` (the real command) picks them up by
`updated_on` from its cursor; accounts are read back from AD (ldap3, not adminkit) and
notes from Redmine as its admin, not through the backend under test.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from adminkit.core.config import load_profile
from adminkit.lab.base import LabServer
from adminkit.lab.redmine import RedmineServer
from adminkit.tickets.instance import instance
from tests.integration.test_playbooks import AD, unique_surname
from tests.integration.test_watch import watch as rt_watch

pytestmark = pytest.mark.integration

Cli = Callable[..., Any]
PROFILE = "lab-watch-redmine"
ADMIN = "Redmine Admin"  # who opens the good issues (the lab's admin account)


@pytest.fixture(scope="module")
def ad(samba: LabServer, redmine: RedmineServer, lab_config_dir: Path) -> Iterator[AD]:
    directory = AD(lab_config_dir)
    yield directory
    directory.conn.unbind()


@pytest.fixture(scope="module")
def surname_field(redmine: RedmineServer) -> int:
    return redmine.custom_field("Surname")


def user_id(redmine: RedmineServer, *, admin: bool) -> str:
    """`redmine:N`, the admin's or the bot's: who is who in Redmine (its display names
    are each user's to edit)."""
    with redmine.client(admin=admin) as http:
        r = http.get("/users/current.json")
    r.raise_for_status()
    return f"redmine:{r.json()['user']['id']}"


@pytest.fixture
def profile(lab_config_dir: Path, tmp_path: Path, surname_field: int, ad: AD,
            redmine: RedmineServer) -> Path:
    """lab-redmine (AD + the lab's Redmine) with an onboarding rule: the tracker, the
    given name from the subject, the surname from a custom field, asked by the admin.
    Requesters and approvers are Redmine user ids."""
    admin, bot = user_id(redmine, admin=True), user_id(redmine, admin=False)
    data = yaml.safe_load((lab_config_dir / "profiles" / "lab-redmine.yaml").read_text())
    data["tickets"].update({"queue": "helpdesk", "allow_public_notes": True})
    pw = tmp_path / "pw"
    pw.mkdir()
    data["automation"] = {
        "approvers": [admin],
        "watch": {"interval": 1, "overlap": 30},
        "rules": [
            {"name": "onboarding", "playbook": "onboard-user",
             "match": {"type": "Support", "subject": r"^new hire:\s*(?P<given>\S+)"},
             "fields": {"given_name": "subject:given", "surname": "Surname"},
             "inputs": {"deliver": f"file:{pw}"}, "requesters": [admin]},
            {"name": "unlock", "playbook": "unlock-account", "requires_approval": True,
             "match": {"subject": r"^unlock:\s*(?P<login>\S+)$"},
             "fields": {"login": "subject:login"}, "requesters": [bot]}]}
    (lab_config_dir / "profiles" / f"{PROFILE}.yaml").write_text(
        yaml.safe_dump(data, allow_unicode=True))
    return pw


def watch(cli: Cli, *args: str) -> dict[str, Any]:
    return rt_watch(cli, *args, profile=PROFILE)


def by_issue(poll: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {int(t["trigger"].split(":")[1]): t for t in poll["triggers"]}


def notes(redmine: RedmineServer, issue: int) -> list[str]:
    """The issue's notes, oldest first, read as Redmine's admin: the text each shows
    (adminkit's own are one <pre> block, tests/integration/test_redmine.py)."""
    from adminkit.tickets.markup import textile_text

    with redmine.client(admin=True) as http:
        r = http.get(f"/issues/{issue}.json", params={"include": "journals"})
    r.raise_for_status()
    return [textile_text(j["notes"]) for j in r.json()["issue"]["journals"] if j["notes"]]


def hire(redmine: RedmineServer, field: int, given: str, surname: str | None, *,
         admin: bool = True) -> int:
    fields: dict[str, Any] = {"subject": f"New hire: {given}"}
    if surname is not None:
        fields["custom_fields"] = [{"id": field, "value": surname}]
    return redmine.new_issue_as(fields, admin=admin)


def runs(journal: Path) -> list[dict[str, Any]]:
    """The journal's run rows; none while the process that makes the journal has made
    the file but not yet its tables (a test that polls can look in between)."""
    db = sqlite3.connect(journal)
    db.row_factory = sqlite3.Row
    try:
        rows = [dict(r) for r in db.execute(
            "SELECT run_id, ticket, summary, status, kind FROM entries WHERE kind = 'run' "
            "ORDER BY seq")]
    except sqlite3.OperationalError as exc:
        if "no such table" not in str(exc):
            raise
        rows = []
    finally:
        db.close()
    return rows


def login_of(ad: AD, surname: str) -> str | None:
    found = ad._search("OU=Staff,DC=samdom,DC=example,DC=com", f"(sn={surname})",
                       ["sAMAccountName"])
    if not found:
        return None
    value = found[0]["attributes"]["sAMAccountName"]
    return str(value[0] if isinstance(value, list) else value)


def test_issues_are_taken_once_run_and_noted(redmine: RedmineServer, ad: AD, cli: Cli,
                                             profile: Path, surname_field: int,
                                             lab_config_dir: Path) -> None:
    fence = redmine.new_issue_as({"subject": "before the watch"})
    surname = unique_surname()
    good = hire(redmine, surname_field, "Jiří", surname)
    missing = hire(redmine, surname_field, "Jana", None)
    stranger = hire(redmine, surname_field, "Eva", unique_surname(), admin=False)
    other = redmine.new_issue_as({"subject": "The printer on 2 jams"})

    poll = watch(cli, "--after", str(fence))
    assert poll["new"] == [str(i) for i in (good, missing, stranger, other)]
    got = by_issue(poll)
    assert got[good]["status"] == "done", got
    assert got[missing]["status"] == "refused"
    assert got[stranger]["status"] == "refused"
    assert got[other]["status"] == "ignored"

    login = login_of(ad, surname)
    assert login is not None  # the account is in AD, named from the issue's fields
    [entry] = ad._search("OU=Staff,DC=samdom,DC=example,DC=com", f"(sn={surname})",
                         ["givenName"])
    assert entry["attributes"]["givenName"] in ("Jiří", ["Jiří"])
    run_id = got[good]["run_id"]
    assert any(n.startswith(f"adminkit:{run_id}:0; account.create {login}")
               for n in notes(redmine, good)), notes(redmine, good)
    [why] = notes(redmine, missing)
    assert "'Surname' is missing" in why and "cannot run" in why
    [why] = notes(redmine, stranger)
    assert f"Adminkit Bot ({user_id(redmine, admin=False)}) may not ask for onboarding" in why
    assert notes(redmine, other) == []
    assert len(list(profile.iterdir())) == 1

    # our own notes made the issues newer: a second poll reads them again (overlap and
    # cursor) and takes none of them twice; a new issue is the only one taken
    later = redmine.new_issue_as({"subject": "Still printing badly"})
    poll = watch(cli)
    assert poll["new"] == [str(later)]
    # the key names the event and the instance it is in (tickets/instance.py)
    assert [t["trigger"].partition("@")[::2] for t in poll["triggers"]] == [
        (f"redmine:{later}:created", instance(load_profile(PROFILE, lab_config_dir), "redmine"))]
    assert watch(cli)["new"] == []
    assert [r["ticket"] for r in runs(cli.journal)].count(f"redmine:{good}") == 1


def test_approval_comes_from_an_issue_note(redmine: RedmineServer, ad: AD, cli: Cli,
                                           profile: Path) -> None:
    r = cli("--profile", "lab", "-o", "json", "account", "create", "--given-name", "Lea",
            "--surname", unique_surname(), "--deliver", f"file:{profile}")
    assert r.returncode == 0, r.stderr
    login = json.loads(r.stdout)["results"][0]["target"]
    fence = redmine.new_issue_as({"subject": "before the watch"})
    asked = redmine.new_issue_as({"subject": f"Unlock: {login}"}, admin=False)  # the bot
    poll = by_issue(watch(cli, "--after", str(fence)))
    assert poll[asked]["status"] == "waiting"
    waiting = poll[asked]["run_id"]
    assert any(f"waits for approval as run {waiting}" in n for n in notes(redmine, asked))

    with redmine.client(admin=True) as http:  # the approver answers on the issue
        r = http.put(f"/issues/{asked}.json", json={"issue": {"notes": "/approve\nok"}})
        assert r.status_code == 204, r.text
    poll = by_issue(watch(cli))
    assert poll[asked]["status"] == "done" and poll[asked]["run_id"] == waiting
    texts = notes(redmine, asked)
    assert any(f"approved by {ADMIN}" in t for t in texts), texts
    assert any(t.startswith(f"adminkit:{waiting}:0; account.unlock {login}") for t in texts)


def test_watch_killed_with_sigkill_repeats_nothing_on_restart(
        redmine: RedmineServer, ad: AD, cli: Cli, profile: Path, surname_field: int) -> None:
    fence = redmine.new_issue_as({"subject": "before the watch"})
    surnames = [unique_surname() for _ in range(2)]
    issues = [hire(redmine, surname_field, "Ota", s) for s in surnames]
    proc = subprocess.Popen(
        [*cli.argv, "--profile", PROFILE, "-o", "json", "watch", "--after", str(fence)],  # type: ignore[attr-defined]
        env={**os.environ, **cli.env}, stdout=subprocess.PIPE,  # type: ignore[attr-defined]
        stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            if cli.journal.exists() and {r["ticket"] for r in runs(cli.journal)} >= {  # type: ignore[attr-defined]
                    f"redmine:{i}" for i in issues}:
                break
            time.sleep(0.5)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        os.kill(proc.pid, signal.SIGKILL)  # mid-poll or mid-run: whatever it was doing
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)

    poll = watch(cli)  # restarted: finishes what was left, takes nothing twice
    assert all(t["status"] in ("done",) for t in poll["triggers"]), poll
    started = [t for _, t in {(r["run_id"], r["ticket"])  # a resumed run keeps its id
                              for r in runs(cli.journal)}]  # type: ignore[attr-defined]
    for issue, surname in zip(issues, surnames, strict=True):
        assert started.count(f"redmine:{issue}") == 1, started
        assert login_of(ad, surname) is not None
    assert watch(cli)["new"] == []


def test_redmine_takes_the_id_filter_the_watch_reads_new_issues_by(
        redmine: RedmineServer) -> None:
    """The watch asks for `issue_id=>=N` sorted by id (a new issue stamped before its
    window, by a clock stepped back): the real Redmine honours it."""
    first = redmine.new_issue_as({"subject": "by id 1"})
    second = redmine.new_issue_as({"subject": "by id 2"})
    with redmine.client(admin=True) as http:
        r = http.get("/issues.json", params={"issue_id": f">={first + 1}", "sort": "id",
                                             "status_id": "*", "project_id": "helpdesk"})
    r.raise_for_status()
    assert [i["id"] for i in r.json()["issues"]] == [second]
