"""A schedule whose ticket is `new` opens one per run in the profile's real ticket system
(the lab's RT, the lab's Redmine), and the run's notes land on it: read back from RT as
root and from Redmine as its admin, not through the backend under test."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from adminkit.lab.base import LabServer
from adminkit.lab.redmine import RedmineServer
from tests.integration.rtread import notes as rt_notes
from tests.integration.test_playbooks import AD, unique_surname

pytestmark = pytest.mark.integration

Cli = Callable[..., Any]
BOOK = """\
name: disable-one
inputs:
  login: {type: string}
steps:
  - uses: account.disable
    with: {login: "{{ inputs.login }}"}
"""


@pytest.fixture(scope="module")
def ad(samba: LabServer, lab_config_dir: Path) -> Iterator[AD]:
    directory = AD(lab_config_dir)
    yield directory
    directory.conn.unbind()


def scheduled(cli: Cli, lab_config_dir: Path, tmp_path: Path, *, base: str, name: str,
              tickets: dict[str, Any] | None = None) -> tuple[str, str]:
    """A fresh account, a profile `name` (a copy of `base`) whose schedule disables it on
    a new ticket, the schedule run by the real command: (login, the ticket it opened)."""
    r = cli("--profile", "lab", "-o", "json", "account", "create", "--given-name", "Sid",
            "--surname", unique_surname(), "--deliver", f"file:{tmp_path}")
    assert r.returncode == 0, r.stderr
    login = json.loads(r.stdout)["results"][0]["target"]
    books = lab_config_dir / "playbooks"
    books.mkdir(exist_ok=True)
    (books / "disable-one.yaml").write_text(BOOK)
    data = yaml.safe_load((lab_config_dir / "profiles" / f"{base}.yaml").read_text())
    data["tickets"].update(tickets or {})
    data["automation"] = {"schedules": [
        {"name": "nightly", "calendar": "daily", "playbook": "disable-one",
         "inputs": {"login": login}, "ticket": "new"}]}
    (lab_config_dir / "profiles" / f"{name}.yaml").write_text(yaml.safe_dump(data))
    r = cli("--profile", name, "-o", "json", "schedule", "run", "nightly")
    assert r.returncode == 0, r.stdout + r.stderr
    assert cli("ticket", "flush").returncode == 0  # whatever the run's pump left
    db = sqlite3.connect(cli.journal)  # type: ignore[attr-defined]
    [(ticket,)] = db.execute("SELECT DISTINCT ticket FROM entries WHERE kind = 'run' "
                             "AND ticket IS NOT NULL")
    db.close()
    return login, str(ticket)


def test_a_new_rt_ticket_per_run_with_its_notes(rt: LabServer, ad: AD, cli: Cli,
                                                lab_config_dir: Path, tmp_path: Path) -> None:
    login, ticket = scheduled(cli, lab_config_dir, tmp_path, base="lab", name="lab-sched-rt")
    kind, _, ident = ticket.partition(":")
    assert kind == "rt"
    with rt.client() as http:  # type: ignore[attr-defined]
        data = http.get(f"/ticket/{ident}").json()
    assert data["Subject"] == "schedule nightly: disable-one"
    texts = [n.text for n in rt_notes(rt, int(ident))]
    assert any(f"account.disable {login}" in t for t in texts), texts
    entry = ad.entry(login, ["userAccountControl"])
    assert entry is not None
    control = entry["userAccountControl"]
    assert int(control[0] if isinstance(control, list) else control) & 2  # disabled


def test_a_new_redmine_issue_per_run_with_its_notes(redmine: RedmineServer, samba: LabServer,
                                                    ad: AD, cli: Cli, lab_config_dir: Path,
                                                    tmp_path: Path) -> None:
    login, ticket = scheduled(cli, lab_config_dir, tmp_path, base="lab-redmine",
                              name="lab-sched-redmine",
                              tickets={"queue": "helpdesk", "allow_public_notes": True})
    kind, _, ident = ticket.partition(":")
    assert kind == "redmine"
    with redmine.client(admin=True) as http:
        issue = http.get(f"/issues/{ident}.json", params={"include": "journals"}).json()["issue"]
    assert issue["subject"] == "schedule nightly: disable-one"
    assert issue["project"]["name"] == "Helpdesk"
    texts = [j["notes"] for j in issue["journals"] if j["notes"]]
    assert any(f"account.disable {login}" in t for t in texts), texts
