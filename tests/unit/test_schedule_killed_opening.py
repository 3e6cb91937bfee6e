"""A scheduled run killed with SIGKILL right after it opened its ticket (`ticket: new`),
before the run's first journal row: the ticket is journaled as it is opened, so
`adminkit status` shows it and the schedule's next run takes it up under the run's id
instead of opening another. Killed while the ticket system was making it: the next run
says so, and the ticket (if made) names the run. The real `adminkit` in a subprocess,
against the protocol-level Redmine fake, which holds its answer so the kill falls in
the window."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fakes.httpserver import Reply, Request
from tests.fakes.redmine import FakeRedmine
from tests.fakes.ticketfake import SECRET_ENV

SRC = Path(__file__).resolve().parents[2] / "src"
BOOK = """\
name: say-hello
steps:
  - uses: account.disable
    with: {login: nobody-here}
    on_error: continue
"""


class Stalling(FakeRedmine):
    """Does the request matching `stall` (method, path pattern), then holds its answer
    until released: the client is then waiting in that call."""

    def __init__(self) -> None:
        super().__init__()
        self.stall: tuple[str, str] | None = None
        self.stalled, self.release = threading.Event(), threading.Event()

    def _route(self, req: Request) -> Reply:
        if self.stall and req.method == self.stall[0] and re.fullmatch(self.stall[1], req.path):
            self.stall = None
            reply = super()._route(req)
            self.stalled.set()
            self.release.wait(60)
            return reply
        return super()._route(req)


@pytest.fixture
def fake(env: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stalling]:
    with Stalling() as redmine:
        monkeypatch.setenv(SECRET_ENV, redmine.secret)
        books = env.config / "playbooks"
        books.mkdir()
        (books / "say-hello.yaml").write_text(BOOK)
        (env.profiles / "acme.yaml").write_text(yaml.safe_dump({
            "name": "acme", "tickets": {"kind": "redmine", "url": redmine.url,
                                        "token": f"env:{SECRET_ENV}", "queue": "helpdesk"},
            "automation": {"schedules": [{"name": "nightly", "calendar": "daily",
                                          "playbook": "say-hello", "ticket": "new"}]}}))
        yield redmine
        redmine.release.set()


def killed_in(fake: Stalling, method: str, path: str) -> None:
    """`adminkit -p acme schedule run nightly` in a process of its own, SIGKILLed while
    it waits for the fake's answer to `method path`."""
    fake.stall = (method, path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "adminkit.cli.main", "-p", "acme", "schedule", "run", "nightly"],
        env={**os.environ, "PYTHONPATH": str(SRC)}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        if not fake.stalled.wait(120):
            proc.kill()
            raise AssertionError(f"never reached {method} {path}: {proc.communicate()}")
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        fake.release.set()
    assert proc.returncode == -signal.SIGKILL


def events(journal: Path) -> list[dict[str, Any]]:
    import sqlite3

    db = sqlite3.connect(journal)
    rows = db.execute("SELECT ticket, detail FROM entries WHERE kind = 'end'").fetchall()
    db.close()
    return [{"ticket": t, **json.loads(d)} for t, d in rows if '"event"' in (d or "")]


def runs_on(journal: Path, ticket: str) -> list[str]:
    import sqlite3

    db = sqlite3.connect(journal)
    rows = db.execute("SELECT run_id, detail FROM entries WHERE kind = 'run' AND ticket = ?",
                      (ticket,)).fetchall()
    db.close()
    return [r for r, d in rows if '"event"' not in (d or "")]


def test_killed_after_opening_its_ticket_the_next_run_takes_that_ticket_up(
        fake: Stalling, env: Any, cli: Any) -> None:
    killed_in(fake, "GET", r"/issues/\d+\.json")  # the run's check of its new ticket
    [issue] = fake.issues  # opened, and then the process was killed
    ref = f"redmine:{issue}"
    [opening, opened] = events(env.journal)
    assert (opening["event"], opened["event"]) == ("ticket opening", "ticket opened")
    assert opened["ticket"] == ref and opened["for_run"] == opening["for_run"]
    run_id = opened["for_run"]
    shown = cli("-p", "acme", "-o", "json", "status", ref)
    assert shown.code == 0 and run_id in shown.out, shown.out + shown.err

    again = cli("-p", "acme", "-o", "json", "schedule", "run", "nightly")
    assert list(fake.issues) == [issue], "a second ticket was opened"
    assert f"{ref} was opened for run {run_id}" in again.out + again.err
    assert runs_on(env.journal, ref) == [run_id]  # the killed run's id, on its ticket
    assert any(run_id in str(n["notes"]) for n in fake.notes_of(issue))

    cli("-p", "acme", "schedule", "run", "nightly")  # the next firing: a ticket of its own
    assert len(fake.issues) == 2


def test_killed_while_the_system_made_the_ticket_the_next_run_says_so(
        fake: Stalling, env: Any, cli: Any) -> None:
    killed_in(fake, "POST", r"/issues\.json")  # made on the server, the answer never read
    [issue] = fake.issues
    [opening] = events(env.journal)
    run_id = opening["for_run"]
    assert opening["event"] == "ticket opening"
    assert f"as run {run_id}" in fake.issues[issue]["description"]  # a person can find it

    again = cli("-p", "acme", "-o", "json", "schedule", "run", "nightly")
    assert f"run {run_id} was stopped while opening its ticket" in again.out + again.err
    assert len(fake.issues) == 2  # its answer was lost: this run opens its own
