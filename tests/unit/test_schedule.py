"""Schedules: a run through the real command (bulk limit noted on its ticket, never two
copies at once), and the systemd units `schedule install` writes (verified by
systemd-analyze where it is installed)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from adminkit.tickets.local import LocalTickets

BOOK = """\
name: disable-three
steps:
  - uses: account.disable
    loop: [anna, bert, cyril]
    with: {login: "{{ item }}"}
    on_error: continue
"""


@pytest.fixture
def profile(env: Any) -> Path:
    books = env.config / "playbooks"
    books.mkdir()
    (books / "disable-three.yaml").write_text(BOOK)
    (env.profiles / "acme.yaml").write_text(yaml.safe_dump({
        "name": "acme", "tickets": {"kind": "local"}, "policy": {"bulk_limit": 2},
        "automation": {"schedules": [
            {"name": "nightly", "calendar": "*-*-* 02:30:00", "playbook": "disable-three",
             "ticket": "new"},
            {"name": "forced", "calendar": "Mon *-*-* 06:00", "playbook": "disable-three",
             "ticket": "new", "force": True}]}}))
    return books


def test_a_scheduled_bulk_disable_over_the_limit_stops_and_says_so(profile: Path,
                                                                   cli: Any) -> None:
    r = cli("-p", "acme", "-o", "json", "schedule", "run", "nightly")
    assert r.code == 4, r.out + r.err
    [ticket] = LocalTickets().all()
    assert ticket["subject"] == "schedule nightly: disable-three"
    notes = [n["body"] for n in LocalTickets().notes(str(ticket["id"]))]
    assert any("account.disable on 3 targets is over the profile's limit of 2" in n
               for n in notes), notes


def test_force_is_explicit_and_journaled(profile: Path, cli: Any, env: Any) -> None:
    import sqlite3

    r = cli("-p", "acme", "-o", "json", "schedule", "run", "forced")
    assert "over the profile's limit" not in r.out + r.err  # the items were tried
    db = sqlite3.connect(env.journal)
    [(summary, detail)] = db.execute(  # the run's row; its ticket's opening is an event
        "SELECT summary, detail FROM entries WHERE kind = 'run' AND detail NOT LIKE "
        "'%\"event\"%'").fetchall()
    assert "forced over the bulk limit" in summary and '"force": true' in detail


def test_two_copies_never_overlap(profile: Path, cli: Any, env: Any) -> None:
    from adminkit.automation.runlock import held

    with held(env.journal, "schedule-acme-nightly", "busy"):
        r = cli("-p", "acme", "schedule", "run", "nightly")
    assert r.code == 2 and "running already" in r.err
    assert LocalTickets().all() == []  # skipped before anything, even its ticket


def test_list_and_an_unknown_schedule(profile: Path, cli: Any) -> None:
    r = cli("-p", "acme", "-o", "json", "schedule", "list")
    assert [s["name"] for s in __import__("json").loads(r.out)] == ["nightly", "forced"]
    r = cli("-p", "acme", "schedule", "run", "weekly")
    assert r.code == 2 and "no schedule 'weekly'" in r.err


def test_bad_calendar_is_refused_by_the_profile(env: Any, cli: Any) -> None:
    (env.profiles / "bad.yaml").write_text(yaml.safe_dump({"name": "bad", "automation": {
        "schedules": [{"name": "x", "calendar": "daily; rm -rf /", "playbook": "p"}]}}))
    assert cli("-p", "bad", "schedule", "list").code == 2


def test_installed_units_verify(profile: Path, cli: Any, tmp_path: Path) -> None:
    folder = tmp_path / "units"
    r = cli("-p", "acme", "schedule", "install", "--dir", str(folder),
            "--adminkit", sys.executable)
    assert r.code == 0, r.err
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["adminkit-acme-forced.service", "adminkit-acme-forced.timer",
                     "adminkit-acme-nightly.service", "adminkit-acme-nightly.timer",
                     "adminkit-acme-outbox.service", "adminkit-acme-outbox.timer"]
    timer = (folder / "adminkit-acme-nightly.timer").read_text()
    assert "OnCalendar=*-*-* 02:30:00\n" in timer and "Unit=adminkit-acme-nightly.service" in timer
    service = (folder / "adminkit-acme-nightly.service").read_text()
    assert f'ExecStart="{sys.executable}" "--profile" "acme" "schedule" "run" "nightly"' \
        in service
    assert "OnCalendar=*:0/2" in (folder / "adminkit-acme-outbox.timer").read_text()
    tool = shutil.which("systemd-analyze")
    if tool is None:  # the text above is what is checked, then
        return
    done = subprocess.run([tool, "verify", *(str(folder / n) for n in names)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_serve_knows_which_schedules_are_due(profile: Path, env: Any, cli: Any) -> None:
    from datetime import UTC, datetime, timedelta

    from adminkit.automation.schedule import Due, next_elapse
    from adminkit.core.config import load_profile

    base = datetime(2026, 12, 6, 22, 0, tzinfo=UTC)
    assert next_elapse("*-*-* 02:30:00", base) == datetime(2026, 12, 7, 2, 30, tzinfo=UTC)
    due = Due(env.journal, load_profile("acme", env.config))
    due.started = base
    assert due.due(base + timedelta(hours=1)) == []
    assert [s.name for s in due.due(base + timedelta(hours=5))] == ["nightly"]
    assert [s.name for s in due.due(base + timedelta(days=2))] == ["nightly", "forced"]
    cli("-p", "acme", "schedule", "run", "nightly")  # it ran now: due again tomorrow
    assert "nightly" not in [s.name for s in due.due(datetime.now(UTC))]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_serve_fires_a_schedule_once_per_elapse_even_when_its_run_never_starts(
        profile: Path, env: Any) -> None:
    """A schedule whose run stops before its first row (its playbook broken, a ticket
    system that cannot open one, a timer's copy running: Busy) left no row to count
    from: serve found it due again at every 30 s look, tried it and logged a traceback,
    all day. It is tried once per elapse of its calendar."""
    from datetime import UTC, datetime, timedelta

    from adminkit.automation.schedule import Due
    from adminkit.core.config import load_profile

    base = datetime(2026, 12, 6, 22, 0, tzinfo=UTC)
    due = Due(env.journal, load_profile("acme", env.config))
    due.started = base
    fired = base + timedelta(hours=5)

    def nightly(when: datetime) -> bool:
        return "nightly" in [s.name for s in due.due(when)]

    assert nightly(fired)  # tried; its run stopped before a row, nothing journaled
    assert not nightly(fired + timedelta(seconds=30))
    assert not nightly(fired + timedelta(hours=12))
    assert nightly(fired + timedelta(days=1))
