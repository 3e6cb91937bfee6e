"""`adminkit watch` on the lab's RT and AD: tickets in, runs and notes out.

Tickets are made in the lab's real RT; `adminkit watch --once` (the real command)
picks them up; outcomes are read back from AD (ldap3, not adminkit) and from RT (as
root, not through the backend under test).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from adminkit.core.config import load_profile
from adminkit.lab.base import LabServer
from adminkit.tickets.instance import instance
from tests.integration.rtread import notes
from tests.integration.test_playbooks import AD, unique_surname

pytestmark = pytest.mark.integration

Cli = Callable[..., Any]
PROFILE = "lab-watch"
BOSS = "boss@example.test"


@pytest.fixture(scope="module")
def rt_lab(rt: LabServer) -> LabServer:
    return rt


@pytest.fixture(scope="module")
def ad(samba: LabServer, lab_config_dir: Path) -> Iterator[AD]:
    """The lab's AD through a connection of our own (every test uses fresh names)."""
    directory = AD(lab_config_dir)
    yield directory
    directory.conn.unbind()


@pytest.fixture
def profile(lab_config_dir: Path, tmp_path: Path) -> Path:
    """The lab profile with rules: onboarding from the subject, and an unlock that needs
    an approver (tech1, the account our RT token belongs to)."""
    data = yaml.safe_load((lab_config_dir / "profiles" / "lab.yaml").read_text())
    pw = tmp_path / "pw"
    pw.mkdir()
    data["automation"] = {
        "approvers": ["tech1"],
        "rules": [
            {"name": "onboarding", "playbook": "onboard-user",
             "match": {"subject": r"^new hire:\s*(?P<given>\S+)?\s*(?P<surname>.*)$"},
             "fields": {"given_name": "subject:given", "surname": "subject:surname"},
             "inputs": {"deliver": f"file:{pw}"},
             "requesters": ["*@example.test", "tech1"]},
            {"name": "unlock", "playbook": "unlock-account", "requires_approval": True,
             "match": {"subject": r"^unlock:\s*(?P<login>\S+)$"},
             "fields": {"login": "subject:login"},
             "requesters": ["*@example.test", "tech1"]}]}
    path = lab_config_dir / "profiles" / f"{PROFILE}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return pw


def watch(cli: Cli, *args: str, profile: str = PROFILE) -> dict[str, Any]:
    r = cli("--profile", profile, "-o", "json", "watch", "--once", *args)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    return dict(json.loads(r.stdout))


def by_ticket(poll: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["trigger"].split(":")[1]: t for t in poll["triggers"]}


def runs_of(cli: Cli, ticket: int) -> list[dict[str, Any]]:
    db = sqlite3.connect(cli.journal)
    db.row_factory = sqlite3.Row
    rows = [dict(r) for r in db.execute(
        "SELECT run_id, summary, status, kind FROM entries WHERE ticket = ? AND kind != "
        "'action' ORDER BY seq", (f"rt:{ticket}",))]
    db.close()
    return rows


def comment(rt: Any, ticket: int, text: str) -> None:
    with rt.client() as http:  # as tech1
        r = http.post(f"/ticket/{ticket}/comment", json={"Content": text,
                                                         "ContentType": "text/plain"})
        assert r.status_code == 201, r.text


def test_new_tickets_run_their_rules_once(rt_lab: Any, ad: AD, cli: Cli, profile: Path,
                                          lab_config_dir: Path) -> None:
    rt = rt_lab
    fence = rt.new_ticket("before the watch")
    surname = unique_surname()
    good = rt.new_ticket(f"New hire: Jiří {surname}", requestor=BOSS)
    missing = rt.new_ticket("New hire: Jana", requestor=BOSS)
    stranger = rt.new_ticket(f"New hire: Eva {unique_surname()}", requestor="eve@evil.test")
    other = rt.new_ticket("The printer on 2 jams")

    poll = watch(cli, "--after", str(fence))
    assert poll["new"] == [str(t) for t in (good, missing, stranger, other)]
    got = by_ticket(poll)
    assert got[str(good)]["status"] == "done", got
    assert got[str(missing)]["status"] == "refused"
    assert got[str(stranger)]["status"] == "refused"
    assert got[str(other)]["status"] == "ignored"

    # the account is on the server, named from the ticket's subject
    run_id = got[str(good)]["run_id"]
    [entry] = [e for e in ad._search("OU=Staff,DC=samdom,DC=example,DC=com",
                                     f"(sn={surname})", ["sAMAccountName", "givenName"])]
    login = entry["attributes"]["sAMAccountName"]
    login = login[0] if isinstance(login, list) else login
    assert entry["attributes"]["givenName"] in ("Jiří", ["Jiří"])
    assert len(list(profile.iterdir())) == 1  # its first password, where the rule said

    # the ticket has the run's note; the others say why nothing ran
    good_notes = notes(rt, good)
    assert any(n.text.startswith(f"adminkit:{run_id}:0; account.create {login}")
               for n in good_notes), [n.text for n in good_notes]
    assert all(n.internal for n in good_notes)
    [why] = notes(rt, missing)
    assert "'subject:surname' is missing" in why.text and "cannot run" in why.text
    [why] = notes(rt, stranger)
    assert "eve@evil.test may not ask for onboarding" in why.text
    assert notes(rt, other) == []
    assert not ad._search("DC=samdom,DC=example,DC=com", "(givenName=Jana)", ["cn"])

    # a second watch neither repeats nor misses: only the new ticket is taken
    later = rt.new_ticket("Still printing badly")
    poll = watch(cli)
    assert poll["new"] == [str(later)]
    # the key names the event and the instance it is in (tickets/instance.py)
    assert [t["trigger"].partition("@")[::2] for t in poll["triggers"]] == [
        (f"rt:{later}:created", instance(load_profile(PROFILE, lab_config_dir), "rt"))]
    started = [r for r in runs_of(cli, good) if r["kind"] == "run"]
    assert len(started) == 1


def test_approval_by_an_approver_not_the_requester(rt_lab: Any, ad: AD, cli: Cli,
                                                   profile: Path) -> None:
    rt = rt_lab
    r = cli("--profile", "lab", "-o", "json", "account", "create", "--given-name", "Lea",
            "--surname", unique_surname(), "--deliver", f"file:{profile}")
    assert r.returncode == 0, r.stderr
    login = json.loads(r.stdout)["results"][0]["target"]
    fence = rt.new_ticket("before the watch")
    own = rt.new_ticket(f"Unlock: {login}", requestor="tech1")  # the approver asks himself
    asked = rt.new_ticket(f"Unlock: {login}", requestor=BOSS)
    poll = by_ticket(watch(cli, "--after", str(fence)))
    assert poll[str(own)]["status"] == "waiting" and poll[str(asked)]["status"] == "waiting"
    waiting_run = poll[str(asked)]["run_id"]
    [note] = notes(rt, asked)
    assert f"waits for approval as run {waiting_run}" in note.text

    comment(rt, own, "/approve")
    comment(rt, asked, "/approve\nfine by me")
    poll = by_ticket(watch(cli))
    assert poll[str(own)]["status"] == "waiting"  # four eyes: still waiting
    assert "cannot approve it too (four eyes)" in notes(rt, own)[-1].text
    assert poll[str(asked)]["status"] == "done"
    assert poll[str(asked)]["run_id"] == waiting_run
    texts = [n.text for n in notes(rt, asked)]
    assert any("approved by tech1" in t for t in texts), texts
    assert any(t.startswith(f"adminkit:{waiting_run}:0; account.unlock {login}") for t in texts)
    [run] = [r for r in runs_of(cli, asked) if r["run_id"] == waiting_run and r["kind"] == "run"]
    assert "approved by tech1" in run["summary"]

    # nothing more happens on a later poll: the approval is not taken twice
    poll = by_ticket(watch(cli))
    assert str(asked) not in poll
    comment(rt, own, "/reject")
    poll = by_ticket(watch(cli))
    assert poll[str(own)]["status"] == "waiting"  # the requester cannot reject either
