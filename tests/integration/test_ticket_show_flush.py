"""`ticket show` reads a long RT history whole; `ticket flush` says what still waits."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adminkit.journal.store import Journal
from adminkit.lab.base import LabServer
from tests.integration.rtread import comments, notes

Cli = Callable[..., Any]


def _post(http: Any, ticket: int, text: str, kind: str = "comment") -> None:
    r = http.post(f"/ticket/{ticket}/{kind}", json={"Content": text, "ContentType": "text/plain"})
    assert r.status_code == 201, r.text


def test_ticket_show_lists_every_note_past_the_first_page(rt: LabServer, cli: Cli) -> None:
    """130 notes and the hidden rows between them (the autoreply and the mails each
    reply sends, which tech1 may not see): all 130 shown, in order."""
    ticket = rt.new_ticket("A long history")
    posted: list[tuple[str, bool]] = []
    with rt.client() as http:
        for i in range(130):
            kind = "correspond" if i % 40 == 7 else "comment"
            text = f"note {i:03d} ({kind})"
            _post(http, ticket, text, kind)
            posted.append((text, kind == "comment"))
    r = cli("--profile", "lab", "-o", "json", "ticket", "show", f"rt:{ticket}")
    assert r.returncode == 0, r.stderr
    shown = json.loads(r.stdout)["notes"]
    assert [(n["body"], n["internal"]) for n in shown] == posted
    assert {n["author"] for n in shown} == {"tech1"}
    # read back without adminkit: what RT holds is what was shown
    assert [(n.text, n.internal) for n in notes(rt, ticket)] == posted


def test_ticket_show_of_a_ticket_without_notes(rt: LabServer, cli: Cli) -> None:
    ticket = rt.new_ticket("Nothing said yet")
    r = cli("--profile", "lab", "-o", "json", "ticket", "show", f"rt:{ticket}")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["notes"] == []


def _queue(cli: Cli, ticket: int, count: int, *, wait: timedelta | None
           ) -> tuple[list[str], datetime]:
    """Notes for the lab's RT ticket, queued as a run queues them; `wait`: their backoff
    runs out that far from now (as after a failed attempt), else they are due now.
    Returns their texts and when they are due."""
    journal = Journal(cli.journal)
    bodies = []
    run_id = f"R-flush-{ticket}-{'w' if wait else 'd'}"
    for i in range(count):
        body = f"adminkit:{run_id}:{i}; toy note {i} ({'waiting' if wait else 'due'})"
        journal.append(kind="action", run_id=run_id, idx=i, operator="pytest", profile="lab",
                       ticket=f"rt:{ticket}", mode="apply", action="toy", target=f"t{i}",
                       status="changed", summary="toy",
                       note={"key": f"{run_id}:{i}", "system": "rt", "ticket": str(ticket),
                             "internal": True, "body": body})
        bodies.append(body)
    due = datetime.now(UTC) + (wait or timedelta(0))
    if wait is not None:
        journal.db.execute("UPDATE outbox SET next_attempt = ?, attempts = 1 WHERE run_id = ?",
                           (due.isoformat(timespec="microseconds"), run_id))
    journal.close()
    return bodies, due


def test_flush_says_what_still_waits_and_when(rt: LabServer, cli: Cli) -> None:
    ticket = rt.new_ticket("Notes in backoff")
    due, _ = _queue(cli, ticket, 3, wait=None)
    waiting, later = _queue(cli, ticket, 4, wait=timedelta(minutes=10))
    r = cli("-o", "json", "ticket", "flush")
    assert r.returncode == 3, r.stdout + r.stderr  # not done: notes still wait
    report = json.loads(r.stdout)
    assert (report["delivered"], report["retrying"], report["failed"], report["waiting"]) == \
        (3, 0, 0, 4)
    assert datetime.fromisoformat(report["next_try"]) == later
    assert comments(rt, ticket) == due  # on RT: the due ones, once each
    r = cli("ticket", "flush")
    assert r.returncode == 3
    assert "0 delivered, 0 retrying, 0 failed, 4 waiting" in r.stdout
    assert "4 note(s) still waiting; next try in " in r.stderr
    assert f"({later.isoformat(timespec='seconds')})" in r.stderr
    assert "ticket flush --now" in r.stderr
    assert comments(rt, ticket) == due  # none of the waiting ones went early
    r = cli("-o", "json", "ticket", "flush", "--now")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["delivered"] == 4
    assert comments(rt, ticket) == due + waiting


def test_flush_now_ignores_the_backoff(rt: LabServer, cli: Cli) -> None:
    ticket = rt.new_ticket("The system is back")
    waiting, _ = _queue(cli, ticket, 5, wait=timedelta(hours=1))
    r = cli("-o", "json", "ticket", "flush", "--now")
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert (report["delivered"], report["waiting"], report["next_try"]) == (5, 0, None)
    assert comments(rt, ticket) == waiting
    r = cli("-o", "json", "ticket", "flush", "--now")  # nothing left: nothing posted twice
    assert r.returncode == 0 and json.loads(r.stdout)["delivered"] == 0
    assert comments(rt, ticket) == waiting


@pytest.fixture(autouse=True)
def _rt(rt: LabServer) -> LabServer:
    return rt
