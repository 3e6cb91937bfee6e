"""Every action on a ticket leaves exactly one internal note on the lab's real RT."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from adminkit.journal.store import Journal
from adminkit.lab.base import LabServer
from tests.fakes.outbox_rig import make_due
from tests.integration.noted import by_pytest
from tests.integration.rtread import notes

Cli = Callable[..., Any]


@pytest.fixture(scope="module")
def lab_with_rt(samba: LabServer, rt: LabServer) -> LabServer:
    samba.reset()  # the accounts below must not exist from an earlier run
    return rt


def make_user(cli: Cli, given: str, surname: str, tmp: Path) -> str:
    r = cli("--profile", "lab", "-o", "json", "account", "create", "--given-name", given,
            "--surname", surname, "--deliver", f"file:{tmp}")
    assert r.returncode == 0, r.stderr
    return str(json.loads(r.stdout)["results"][0]["target"])


def test_one_internal_note_per_action(lab_with_rt: Any, cli: Cli, tmp_path: Path) -> None:
    rt = lab_with_rt
    ticket = rt.new_ticket("Please block Tomáš Lístek")
    login = make_user(cli, "Tomáš", "Lístek", tmp_path)
    r = cli("--profile", "lab", "--ticket", str(ticket), "-o", "json", "account", "disable", login)
    assert r.returncode == 0, r.stderr
    run_id = json.loads(r.stdout)["run"]["id"]
    [note] = notes(rt, ticket)
    assert note.internal
    assert note.text.startswith(f"adminkit:{run_id}:0; account.disable {login} "
                               f"by {by_pytest()} ")
    assert "changed: disable " + login in note.text and "enabled: True -> False" in note.text
    # no correspondence: nothing was mailed to the requestor about it
    with rt.client() as http:
        types = [t["Type"] for t in http.get(f"/ticket/{ticket}/history",
                                             params={"fields": "Type"}).json()["items"]]
    assert "Correspond" not in types


def test_rt_down_then_flush_delivers_once(lab_with_rt: Any, cli: Cli, tmp_path: Path) -> None:
    rt = lab_with_rt
    ticket = rt.new_ticket("Unlock while RT sleeps")
    login = make_user(cli, "Ivana", "Spící", tmp_path)
    rt.stop()
    try:
        r = cli("--profile", "lab", "--ticket", str(ticket), "-o", "json", "account",
                "disable", login)
        assert r.returncode == 0, r.stderr  # the action never fails because of the ticket
        assert json.loads(r.stdout)["results"][0]["status"] == "changed"
        assert "1 waiting" in r.stderr
        assert "could not check that the ticket exists" in r.stderr  # and it acted anyway
        pending = json.loads(cli("ticket", "outbox", "-o", "json").stdout)
        assert [(p["ticket"], p["status"]) for p in pending] == [(f"rt:{ticket}", "pending")]
    finally:
        rt.start()
        rt.wait_ready()
    journal = Journal(cli.journal)
    make_due(journal)  # now, instead of after the backoff
    journal.close()
    r = cli("ticket", "flush", "-o", "json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["delivered"] == 1
    assert cli("ticket", "flush", "-o", "json").returncode == 0
    assert len(notes(rt, ticket)) == 1


def test_crash_after_posting_does_not_duplicate(lab_with_rt: Any, cli: Cli,
                                                tmp_path: Path) -> None:
    """The note reached RT but the process died before recording it: flush finds it."""
    rt = lab_with_rt
    ticket = rt.new_ticket("Crash between post and record")
    login = make_user(cli, "Karel", "Padlý", tmp_path)
    rt.stop()
    try:
        assert cli("--profile", "lab", "--ticket", str(ticket), "account", "disable",
                   login).returncode == 0
    finally:
        rt.start()
        rt.wait_ready()
    journal = Journal(cli.journal)
    [pending] = journal.outbox("pending")
    body = pending["body"]
    with rt.client() as http:  # what a delivery that died right after posting leaves behind
        assert http.post(f"/ticket/{ticket}/comment",
                         json={"Content": body, "ContentType": "text/plain"}).status_code == 201
    make_due(journal)
    journal.close()
    assert cli("ticket", "flush").returncode == 0
    assert [(n.text, n.internal) for n in notes(rt, ticket)] == [(body, True)]


def test_password_reset_note_says_how_not_what(lab_with_rt: Any, cli: Cli,
                                               tmp_path: Path) -> None:
    rt = lab_with_rt
    ticket = rt.new_ticket("Password reset for Hana")
    login = make_user(cli, "Hana", "Heslová", tmp_path / "a")
    canary = "Canary-Reset.98765-q"
    r = cli("--profile", "lab", "--ticket", str(ticket), "account", "password", login,
            "--password-stdin", input=canary + "\n")
    assert r.returncode == 0, r.stderr
    [note] = notes(rt, ticket)
    assert "reset the password of " + login in note.text and "set as given" in note.text
    assert canary not in note.text
    for f in cli.journal.parent.glob(cli.journal.name + "*"):
        assert canary.encode() not in f.read_bytes()
    assert canary not in r.stdout + r.stderr


def test_malformed_ticket_is_a_usage_error_before_anything(cli: Cli) -> None:
    r = cli("--profile", "lab", "--ticket", "jira:not-a-key", "account", "disable", "x")
    assert r.returncode == 2 and "not a jira ticket id" in r.stderr


def test_a_run_for_a_ticket_rt_does_not_have_does_nothing(lab_with_rt: Any, cli: Cli,
                                                          tmp_path: Path) -> None:
    """RT answers that the ticket does not exist: refused before the disable, exit 2, and
    nothing in the journal or the outbox (it used to act and leave a failed note)."""
    login = make_user(cli, "Ota", "Nikde", tmp_path)
    before = json.loads(cli("journal", "list", "-o", "json").stdout)
    r = cli("--profile", "lab", "--ticket", "rt:999999999", "account", "disable", login)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "ticket rt:999999999: RT ticket 999999999" in r.stderr
    assert "nothing was done" in r.stderr and "Traceback" not in r.stderr
    shown = json.loads(cli("--profile", "lab", "-o", "json", "account", "show", login).stdout)
    assert shown["enabled"] is True
    assert json.loads(cli("ticket", "outbox", "-o", "json").stdout) == []
    assert json.loads(cli("journal", "list", "-o", "json").stdout) == before
    for ref in ("0", "-1", "99999999999999999999", "1/../2", "1%2F2", "١٢", "rt:١٢"):
        r = cli("--profile", "lab", "--ticket", ref, "account", "disable", login)
        assert r.returncode == 2 and "not a rt ticket id" in r.stderr, (ref, r.stderr)
    shown = json.loads(cli("--profile", "lab", "-o", "json", "account", "show", login).stdout)
    assert shown["enabled"] is True


def test_a_run_for_a_ticket_outside_the_profiles_queues_does_nothing(
        lab_with_rt: Any, cli: Cli, tmp_path: Path, lab_config_dir: Path) -> None:
    """A ticket number one digit off names another team's ticket: a profile that names its
    queues refuses it before the disable (exit 2), and leaves no note on it. REST2 names
    a ticket's queue by id; the profile names it as people do, or by that id."""
    rt = lab_with_rt
    ticket = rt.new_ticket("Please block Ota Jinde")
    login = make_user(cli, "Ota", "Jinde", tmp_path)
    data = yaml.safe_load((lab_config_dir / "profiles" / "lab.yaml").read_text())

    def profile(queues: list[str]) -> str:
        data["tickets"]["queues"] = queues
        (lab_config_dir / "profiles" / "lab-queues.yaml").write_text(
            yaml.safe_dump(data, allow_unicode=True))
        return "lab-queues"

    before = json.loads(cli("journal", "list", "-o", "json").stdout)
    r = cli("--profile", profile(["Payroll", "Helpdesk-2"]), "--ticket", str(ticket),
            "account", "disable", login)
    assert r.returncode == 2, r.stdout + r.stderr
    assert re.search(rf"ticket rt:{ticket} is in queue Helpdesk \(id:\d+\); this profile "
                     r"acts only for tickets in Payroll, Helpdesk-2; nothing was done",
                     r.stderr), r.stderr
    shown = json.loads(cli("--profile", "lab", "-o", "json", "account", "show", login).stdout)
    assert shown["enabled"] is True
    assert json.loads(cli("journal", "list", "-o", "json").stdout) == before
    assert json.loads(cli("ticket", "outbox", "-o", "json").stdout) == []
    assert notes(rt, ticket) == []

    with rt.client() as http:
        queue_id = str(http.get("/queue/Helpdesk").json()["id"])
    r = cli("--profile", profile([queue_id]), "--ticket", str(ticket), "account", "disable",
            login)
    assert r.returncode == 2 and "is ambiguous: write id:" in r.stderr, r.stdout + r.stderr
    r = cli("--profile", profile([f"id:{queue_id}"]), "--ticket", str(ticket), "account",
            "disable", login)
    assert r.returncode == 0, r.stdout + r.stderr
    shown = json.loads(cli("--profile", "lab", "-o", "json", "account", "show", login).stdout)
    assert shown["enabled"] is False
