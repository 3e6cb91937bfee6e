"""The Redmine backend against the lab's real Redmine 5 (Debian's, SQLite, WEBrick).

The lab's API account is a member of the private project `helpdesk` with a role that may
add notes but, as seeded, not "Set notes as private", and that has no workflow. Tests
that need the permission grant it (`RedmineServer.switch`) and take it back. Notes
reach Redmine through the outbox as a run queues them, and `adminkit ticket flush`
delivers them; every outcome is read back from Redmine as the admin.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from adminkit.core import config
from adminkit.journal.store import Journal
from adminkit.lab.redmine import RedmineServer
from tests.fakes.outbox_rig import NOTE, crash_after_posting, make_due, queue_note

Cli = Callable[..., Any]
# a note is one Textile <pre> block: what it quotes is no markup (test_rev12b_note_markup)
PRE_NOTE = f"<pre>\n{NOTE}\n</pre>"
PROFILE = "redmine-only"  # lab-redmine's tickets section alone: `profile check` is its own


@pytest.fixture(scope="module")
def lab_redmine(redmine: RedmineServer, lab_config_dir: Path) -> Iterator[RedmineServer]:
    redmine.reset()  # the seeded state: issue 1, no "Set notes as private"
    config.profile_path(PROFILE, lab_config_dir).write_text(
        yaml.safe_dump({"tickets": redmine.profile()["tickets"]}))
    yield redmine
    redmine.switch("revoke-private-notes")


def journals(redmine: RedmineServer, issue: int) -> list[dict[str, Any]]:
    """The issue's journals with notes, as the admin sees them."""
    with redmine.client(admin=True) as http:
        r = http.get(f"/issues/{issue}.json", params={"include": "journals"})
    r.raise_for_status()
    return [j for j in r.json()["issue"]["journals"] if j["notes"]]


def queue(cli: Cli, issue: int | str, *, profile: str = PROFILE) -> None:
    journal = Journal(cli.journal)
    queue_note(journal, system="redmine", ticket=str(issue), profile=profile)
    journal.close()


def flush(cli: Cli) -> tuple[int, dict[str, Any]]:
    r = cli("ticket", "flush", "-o", "json")
    return r.returncode, json.loads(r.stdout)


def _all_rows(cli: Cli) -> list[dict[str, Any]]:
    journal = Journal(cli.journal)
    rows = journal.outbox()
    journal.close()
    return rows


def test_without_set_notes_private_the_note_is_published_not_delivered(
        lab_redmine: RedmineServer, cli: Cli) -> None:
    issue = lab_redmine.new_issue("Internal note without the right")
    queue(cli, issue)
    code, report = flush(cli)
    assert code == 3 and report["published"] == 1 and report["delivered"] == 0
    [journal] = journals(lab_redmine, issue)
    assert (journal["notes"], journal["private_notes"]) == (PRE_NOTE, False)  # Redmine: 204
    [row] = _all_rows(cli)
    assert (row["status"], row["remote_id"]) == ("published", str(journal["id"]))
    r = cli("journal", "list", "-o", "json")
    traces = [e for e in json.loads(r.stdout) if e["action"] == "ticket.note"]
    assert [(t["status"], t["target"]) for t in traces] == [("failed", f"redmine:{issue}")]
    r = cli("profile", "check", PROFILE)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "Set notes as private" in r.stdout + r.stderr


def test_a_run_whose_note_went_public_exits_3_and_says_so(lab_redmine: RedmineServer,
                                                         samba: Any, cli: Cli,
                                                         tmp_path: Path) -> None:
    surname = "Veřejný" + "".join(chr(97 + int(c, 16) % 26) for c in os.urandom(3).hex())
    issue = lab_redmine.new_issue(f"New hire: Radek {surname}")
    r = cli("--profile", "lab-redmine", "--ticket", f"redmine:{issue}", "-o", "json", "account",
            "create", "--given-name", "Radek", "--surname", surname, "--deliver",
            f"file:{tmp_path}")
    assert r.returncode == 3, r.stderr
    results = json.loads(r.stdout)["results"]
    assert results[0]["status"] == "changed"  # the account was made
    assert results[-1]["action"] == "ticket.note" and results[-1]["status"] == "failed"
    assert "went PUBLIC" in r.stderr
    [journal] = journals(lab_redmine, issue)
    assert journal["private_notes"] is False
    assert [row["status"] for row in _all_rows(cli)] == ["published"]


def test_notes_arrive_private_once_and_ticket_show_lists_them(lab_redmine: RedmineServer,
                                                              cli: Cli) -> None:
    lab_redmine.switch("grant-private-notes")
    r = cli("profile", "check", PROFILE)
    assert r.returncode == 0, r.stdout + r.stderr
    issue = lab_redmine.new_issue("Unlock Eva")
    queue(cli, issue)
    assert flush(cli) == (0, {"delivered": 1, "retrying": 0, "failed": 0, "not_reached": 0,
                              "waiting": 0, "busy": 0, "next_try": None})
    [journal] = journals(lab_redmine, issue)
    assert (journal["notes"], journal["private_notes"]) == (PRE_NOTE, True)  # byte-identical
    [row] = _all_rows(cli)
    assert (row["status"], row["remote_id"]) == ("delivered", str(journal["id"]))
    assert flush(cli)[0] == 0 and len(journals(lab_redmine, issue)) == 1

    r = cli("--profile", PROFILE, "ticket", "show", "redmine:1", "-o", "json")
    assert r.returncode == 0, r.stderr
    shown = json.loads(r.stdout)
    assert shown["subject"] == "Printer jammed" and shown["status"] == "New"
    assert [(n["internal"], n["body"]) for n in shown["notes"]] == [
        (False, "Looked at it: paper tray 2.\nSecond line.")]
    r = cli("--profile", PROFILE, "ticket", "show", f"redmine:{issue}", "-o", "json")
    assert [(n["internal"], n["body"], n["author"]) for n in json.loads(r.stdout)["notes"]] \
        == [(True, NOTE, "Adminkit Bot")]


def test_a_redelivery_after_a_crash_does_not_post_twice(lab_redmine: RedmineServer,
                                                        cli: Cli,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from adminkit.tickets.systems import opener

    issue = lab_redmine.new_issue("Crash between post and record")
    queue(cli, issue)
    journal = Journal(cli.journal)
    monkeypatch.setenv("ADMINKIT_CONFIG", cli.env["ADMINKIT_CONFIG"])
    system = opener()(PROFILE, "redmine")
    crash_after_posting(journal, system)  # posted, never recorded
    system.close()
    make_due(journal)
    journal.close()
    assert flush(cli)[1]["delivered"] == 1
    [posted] = journals(lab_redmine, issue)
    assert [row["remote_id"] for row in _all_rows(cli)] == [str(posted["id"])]


def test_a_missing_issue_fails_for_good(lab_redmine: RedmineServer, cli: Cli) -> None:
    queue(cli, 987654)
    code, report = flush(cli)
    assert code == 3 and report["failed"] == 1
    [row] = _all_rows(cli)
    assert row["status"] == "failed" and "no such ticket" in row["last_error"]


def test_a_run_for_an_issue_redmine_does_not_have_does_nothing(lab_redmine: RedmineServer,
                                                               samba: Any, cli: Cli,
                                                               tmp_path: Path) -> None:
    """Refused before the account is made, exit 2, naming the issue and Redmine."""
    surname = "Nikdo" + "".join(chr(97 + int(c, 16) % 26) for c in os.urandom(3).hex())
    before = json.loads(cli("journal", "list", "-o", "json").stdout)
    deliver = tmp_path / "deliver"
    deliver.mkdir(mode=0o700)
    r = cli("--profile", "lab-redmine", "--ticket", "redmine:987654", "account", "create",
            "--given-name", "Radek", "--surname", surname, "--deliver", f"file:{deliver}")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "ticket redmine:987654: Redmine" in r.stderr and "nothing was done" in r.stderr
    assert list(deliver.iterdir()) == []  # no password delivered: no account made
    r = cli("--profile", "lab-redmine", "account", "find", surname, "-o", "json")
    assert r.returncode == 0 and json.loads(r.stdout) == [], r.stdout + r.stderr
    assert json.loads(cli("journal", "list", "-o", "json").stdout) == before
    assert _all_rows(cli) == []


def test_an_issue_is_in_its_project_by_identifier_or_id(lab_redmine: RedmineServer,
                                                        lab_config_dir: Path) -> None:
    """An issue names its project by id and name; profiles name it by identifier
    (`tickets.queue: helpdesk`): the backend reads the identifier from Redmine, so
    `tickets.queues` may use it (any case) or `id:N`; the name, which the project's
    manager may change to anything, is only shown."""
    from adminkit.tickets.systems import open_system

    issue = lab_redmine.new_issue("Which project?")
    system = open_system(config.load_profile(PROFILE, lab_config_dir), "redmine")
    try:
        found = system.get(str(issue))
    finally:
        system.close()
    with lab_redmine.client(admin=True) as http:
        project = http.get("/projects/helpdesk.json").json()["project"]
    assert found.queue == project["name"]
    assert (found.queue_id, found.queue_names) == (str(project["id"]), ("helpdesk",))
    assert all(found.in_queue([name]) for name in ("HELPDESK", f"id:{project['id']}"))
    # a bare id is a name (refused at profile load); the editable name is only shown
    assert not found.in_queue(["payroll", "help", str(project["id"]), f"name:{project['id']}"])


def test_a_status_without_a_workflow_transition_is_refused(lab_redmine: RedmineServer,
                                                           cli: Cli) -> None:
    issue = lab_redmine.new_issue("Close me")
    r = cli("--profile", PROFILE, "ticket", "close", f"redmine:{issue}")
    assert r.returncode == 3, r.stderr
    assert "no workflow transition" in r.stderr
    with lab_redmine.client(admin=True) as http:
        status = http.get(f"/issues/{issue}.json").json()["issue"]["status"]["name"]
    assert status == "New"  # Redmine answered 204 and changed nothing


def test_a_wrong_key_fails_for_good_without_showing_it(lab_redmine: RedmineServer, cli: Cli,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    config_dir = Path(cli.env["ADMINKIT_CONFIG"])
    wrong = "0" * 40
    path = config.profile_path("redmine-wrong-key", config_dir)
    tickets = {**lab_redmine.profile()["tickets"], "token": "env:AK_TEST_REDMINE_KEY"}
    path.write_text(yaml.safe_dump({"tickets": tickets}))
    monkeypatch.setenv("AK_TEST_REDMINE_KEY", wrong)
    try:
        issue = lab_redmine.new_issue("Wrong key")
        queue(cli, issue, profile="redmine-wrong-key")
        code, report = flush(cli)
        assert code == 3 and report["failed"] == 1
        [row] = _all_rows(cli)
        assert "401" in row["last_error"] and wrong not in row["last_error"]
        r = cli("profile", "check", "redmine-wrong-key")
        assert r.returncode == 3 and wrong not in r.stdout + r.stderr
        assert journals(lab_redmine, issue) == []
    finally:
        path.unlink()


def test_a_stopped_server_is_retried_then_delivered_once(lab_redmine: RedmineServer,
                                                         cli: Cli) -> None:
    issue = lab_redmine.new_issue("Redmine sleeps")
    queue(cli, issue)
    lab_redmine.stop()
    try:
        code, report = flush(cli)
        assert code == 3 and report["retrying"] == 1
        [row] = _all_rows(cli)
        assert row["status"] == "pending" and "ConnectError" in row["last_error"]
    finally:
        lab_redmine.start()
        lab_redmine.wait_ready()
    journal = Journal(cli.journal)
    make_due(journal)
    journal.close()
    assert flush(cli)[1]["delivered"] == 1
    assert len(journals(lab_redmine, issue)) == 1


def test_with_the_rest_api_off_notes_fail_saying_so(lab_redmine: RedmineServer,
                                                    cli: Cli) -> None:
    issue = lab_redmine.new_issue("REST off")
    queue(cli, issue)
    lab_redmine.switch("rest-off")
    try:
        code, report = flush(cli)
        assert code == 3 and report["failed"] == 1
        [row] = _all_rows(cli)
        assert "REST API is switched off" in row["last_error"]
        r = cli("-o", "json", "profile", "check", PROFILE)
        assert r.returncode == 3 and "REST API is switched off" in r.stdout
    finally:
        lab_redmine.switch("rest-on")
    assert journals(lab_redmine, issue) == []
