"""The monthly report arrives in the lab's SMTP sink over STARTTLS, its CSV equal to a
direct count of the journal."""

from __future__ import annotations

import csv
import io
import sqlite3
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from adminkit.journal.store import Journal
from adminkit.lab.base import LabServer
from tests.integration.rtread import _as_root

pytestmark = pytest.mark.integration


def test_the_report_is_mailed_over_starttls(smtp_sink: LabServer, rt: LabServer,
                                            cli: Callable[..., Any],
                                            lab_config_dir: Path) -> None:
    contact = f"report-{uuid.uuid4().hex[:8]}@customer.example.test"
    data = yaml.safe_load((lab_config_dir / "profiles" / "lab.yaml").read_text())
    data["name"] = "lab-report"
    data["automation"] = {"report": {"contacts": [contact]}}
    (lab_config_dir / "profiles" / "lab-report.yaml").write_text(yaml.safe_dump(data))
    month = datetime.now(UTC).strftime("%Y-%m")
    journal = Journal(cli.journal)  # type: ignore[attr-defined]
    common = {"operator": "jnovak", "profile": "lab-report", "ticket": "rt:5", "mode": "apply"}
    for n, status in enumerate(["changed", "changed", "failed", "ok"]):
        journal.append(kind="run", run_id=f"R-{n}", status="started", summary="x", **common)
        journal.append(kind="action", run_id=f"R-{n}", idx=0, action="account.disable",
                       target=f"u{n}", status=status, summary="disable", **common)
    journal.close()

    r = cli("--profile", "lab-report", "report", "monthly", "--month", month, "--mail")
    assert r.returncode == 0, r.stderr
    [msg] = [m for m in smtp_sink.messages()  # type: ignore[attr-defined]
             if contact in str(m["To"])]
    assert msg["Subject"] == f"adminkit monthly report: lab-report {month}"
    page = msg.get_body(("html",)).get_content()
    assert "<svg" in page and "4 action(s) in 4 run(s); 1 failed" in page
    [attachment] = msg.iter_attachments()
    rows = list(csv.reader(io.StringIO(attachment.get_content())))
    db = sqlite3.connect(cli.journal)  # type: ignore[attr-defined]
    counted = dict(((a, s), n) for a, s, n in db.execute(
        "SELECT action, status, COUNT(*) FROM entries WHERE profile = 'lab-report' AND "
        "kind = 'action' AND status != 'started' GROUP BY action, status"))
    db.close()
    assert {(r[1], r[2]): int(r[3]) for r in rows if r[0] == "action"} == counted
    # the month's requests, counted as RT's root counts them
    tickets = {r[1]: int(r[3]) for r in rows if r[0] == "tickets"}
    start = f"{month}-01"
    end = (datetime.strptime(start, "%Y-%m-%d").replace(day=28) + timedelta(days=4)
           ).replace(day=1).strftime("%Y-%m-%d")
    with _as_root(rt) as http:
        for name, field in (("opened", "Created"), ("resolved", "Resolved")):
            found = http.get("/tickets", params={
                "query": f"Queue = 'Helpdesk' AND {field} >= '{start}' AND {field} < '{end}'",
                "per_page": 1}).json()
            assert tickets[name] == found["total"], (name, found)
    assert f"Requests: {tickets['opened']} opened" in page
