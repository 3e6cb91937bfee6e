"""The monthly report over a journal seeded with a month of runs: its numbers (HTML and
CSV) equal a direct count of the journal's rows."""

from __future__ import annotations

import csv
import io
import json
import random
import sqlite3
from pathlib import Path
from typing import Any

import yaml

from adminkit.automation.report import monthly, to_csv, to_html
from adminkit.journal.store import Journal

ACTIONS = ["account.create", "account.disable", "account.unlock", "account.groups"]
OPERATORS = ["jnovak", "watch rt for boss@example.test", "webhook for eva@example.test",
             "schedule nightly"]


def seed(journal: Journal, rng: random.Random) -> None:
    """Runs across October, November and December, of two profiles; intents too."""
    for n in range(120):
        month = rng.choice(["2026-10", "2026-11", "2026-11", "2026-12"])
        day = rng.randint(1, 30 if month != "2026-12" else 31)
        when = f"{month}-{day:02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00+00:00"
        profile = rng.choice(["acme", "acme", "beta"])
        run = f"R-{n:04d}"
        common = {"run_id": run, "operator": rng.choice(OPERATORS), "profile": profile,
                  "ticket": f"rt:{rng.randint(1, 9)}", "mode": "apply", "time": when}
        journal.append(kind="run", status="started", summary="x", detail={"request": {}},
                       **common)
        for idx in range(rng.randint(1, 4)):
            action = rng.choice(ACTIONS)
            journal.append(kind="action", idx=idx, action=action, target=f"u{idx}",
                           status="started", summary="about to", **common)
            status = rng.choice(["changed", "changed", "ok", "failed"])
            journal.append(kind="action", idx=idx, action=action, target=f"u{idx}",
                           status=status, summary="done",
                           error=rng.choice(["boom\nmore", None]) if status == "failed" else None,
                           **common)
        journal.append(kind="end", status="changed", summary="x", **common)
    wait = {"run_id": "R-W1", "operator": "watch rt for boss@example.test", "profile": "acme",
            "ticket": "rt:77", "mode": "apply"}
    for kind, status, when in (("run", "started", "2026-11-03T08:00:00+00:00"),
                               ("end", "waiting", "2026-11-03T08:00:00+00:00")):
        journal.append(kind=kind, status=status, summary="w", detail={"event": "waiting"},
                       time=when, **wait)
    approved = {**wait, "run_id": "R-W2"}
    for kind, status in (("run", "started"), ("end", "approved")):
        journal.append(kind=kind, status=status, summary="approved by dispatch",
                       detail={"event": status}, time="2026-11-03T11:30:00+00:00", **approved)


def direct(path: Path, sql: str) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(path)
    rows = db.execute(sql).fetchall()
    db.close()
    return rows


def test_the_numbers_equal_a_direct_count(env: Any) -> None:
    journal = Journal(env.journal)
    seed(journal, random.Random(16))
    report = monthly(journal, "acme", "2026-11")
    journal.close()
    month = ("profile = 'acme' AND time >= '2026-11-01T00:00:00.000000+00:00' AND "
             "time < '2026-12-01T00:00:00.000000+00:00'")
    expected = {(a, s): n for a, s, n in direct(env.journal, (
        f"SELECT action, status, COUNT(*) FROM entries WHERE {month} AND kind = 'action' "
        "AND status != 'started' GROUP BY action, status"))}
    assert dict(report.actions) == expected and expected
    [(failed,)] = direct(env.journal, f"SELECT COUNT(*) FROM entries WHERE {month} AND "
                                      "kind = 'action' AND status = 'failed'")
    assert len(report.failures) == failed
    [(runs,)] = direct(env.journal, f"SELECT COUNT(*) FROM entries WHERE {month} AND "
                                    "kind = 'run' AND detail NOT LIKE '%\"event\"%'")
    assert report.runs == runs == sum(report.by_operator.values())
    assert set(report.by_operator) <= {"jnovak", "watch rt", "webhook", "schedule nightly"}
    assert report.approvals == [{"ticket": "rt:77", "outcome": "approved", "hours": 3.5,
                                 "summary": "approved by dispatch"}]

    rows = list(csv.reader(io.StringIO(to_csv(report))))
    from_csv = {(r[1], r[2]): int(r[3]) for r in rows[1:] if r[0] == "action"}
    assert from_csv == expected
    page = to_html(report)
    total = sum(expected.values())
    assert f"<p>{total} action(s) in {runs} run(s); {failed} failed; 1 waited" in page
    for (action, status), n in expected.items():
        assert f"<td>{action}</td><td>{status}</td><td>{n}</td>" in page
    assert "<svg" in page and "<script" not in page


def test_the_command_writes_html_and_csv(env: Any, cli: Any, tmp_path: Path) -> None:
    (env.profiles / "acme.yaml").write_text(yaml.safe_dump({"name": "acme"}))
    journal = Journal(env.journal)
    seed(journal, random.Random(3))
    journal.close()
    out = tmp_path / "acme.html"
    r = cli("-p", "acme", "-o", "json", "report", "monthly", "--month", "2026-11",
            "--out", str(out))
    assert r.code == 0, r.err
    summary = json.loads(r.out)
    assert f"<p>{summary['actions']} action(s)" in out.read_text()
    assert out.with_suffix(".csv").read_text().startswith("section,name,status,count")
    assert cli("-p", "acme", "report", "monthly", "--month", "2026-13").code == 2
    r = cli("-p", "acme", "report", "monthly", "--month", "2026-11", "--mail")
    assert r.code == 2 and "contacts" in r.err
