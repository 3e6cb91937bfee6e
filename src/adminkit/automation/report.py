"""The monthly report a customer receives: what was done for them, from the journal.

Counted from the journal's rows of the profile in the month (UTC): each action's
outcome row (not the intent rows written before a write), so the numbers equal a
direct count of the journal; runs by who started them (a technician, `watch`,
`webhook`, a schedule); per ticket; the failures; and what waited for approval and
for how long. HTML with an inline SVG chart (no script, no remote resource) and the
same numbers as CSV.
"""

from __future__ import annotations

import csv
import html
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from adminkit.core.csvcell import csv_safe
from adminkit.core.errors import UsageError
from adminkit.core.run import operator_names
from adminkit.journal.store import Journal

OUTCOME = "kind = 'action' AND status != 'started'"


@dataclass
class Monthly:
    profile: str
    month: str  # 2026-11
    actions: Counter[tuple[str, str]] = field(default_factory=Counter)  # (action, status)
    by_operator: Counter[str] = field(default_factory=Counter)  # runs
    by_ticket: Counter[str] = field(default_factory=Counter)  # actions
    failures: list[dict[str, Any]] = field(default_factory=list)
    approvals: list[dict[str, Any]] = field(default_factory=list)  # ticket, waited, by
    runs: int = 0
    opened: int | None = None  # tickets opened and resolved in the month, where the
    resolved: int | None = None  # ticket system's API can search for them

    @property
    def total(self) -> int:
        return sum(self.actions.values())


def bounds(month: str) -> tuple[str, str]:
    """The month's first instant and the next month's, as the journal writes times."""
    try:
        start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise UsageError(f"--month {month!r}: expected YYYY-MM, like 2026-11") from None
    end = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    return (start.isoformat(timespec="microseconds"), end.isoformat(timespec="microseconds"))


def monthly(journal: Journal, profile: str, month: str) -> Monthly:
    start, end = bounds(month)
    report = Monthly(profile, month)
    where = "profile = ? AND time >= ? AND time < ?"
    args = (profile, start, end)
    db = journal.db
    for action, status, ticket, run_id, target, error, time in db.execute(
            f"SELECT action, status, ticket, run_id, target, error, time FROM entries "  # noqa: S608
            f"WHERE {where} AND {OUTCOME} ORDER BY seq", args).fetchall():
        report.actions[(str(action), str(status))] += 1
        report.by_ticket[str(ticket or "(no ticket)")] += 1
        if status == "failed":
            report.failures.append({"time": time, "run_id": run_id, "ticket": ticket,
                                    "action": action, "target": target,
                                    "error": next(iter((error or "").splitlines()), "")[:200]})
    started = db.execute(f"SELECT operator, detail FROM entries WHERE {where} "  # noqa: S608
                         "AND kind = 'run' ORDER BY seq", args).fetchall()
    for operator, detail in started:
        if detail and '"event"' in detail:  # a decision without a run
            continue
        report.runs += 1
        report.by_operator[_who(str(operator))] += 1
    waiting: dict[str, str] = {}
    for status, ticket, time, summary in db.execute(
            f"SELECT status, ticket, time, summary FROM entries WHERE {where} AND "  # noqa: S608
            "kind = 'end' AND status IN ('waiting', 'approved', 'rejected', 'cancelled') "
            "ORDER BY seq", args).fetchall():
        if status == "waiting":
            waiting[str(ticket)] = str(time)
        elif str(ticket) in waiting:
            since = datetime.fromisoformat(waiting.pop(str(ticket)))
            waited = datetime.fromisoformat(str(time)) - since
            report.approvals.append({"ticket": ticket, "outcome": status,
                                     "hours": round(waited.total_seconds() / 3600, 2),
                                     "summary": summary})
    for ticket, when in waiting.items():
        report.approvals.append({"ticket": ticket, "outcome": "still waiting", "hours": None,
                                 "summary": f"waiting since {when}"})
    return report


def ticket_counts(report: Monthly, system: Any, queue: str) -> None:
    """The month's opened and resolved tickets, from a system that can count them."""
    count = getattr(system, "count_tickets", None)
    if not callable(count):
        return
    start, end = (b[:10] for b in bounds(report.month))
    report.opened = int(count(queue, "Created", start, end))
    report.resolved = int(count(queue, "Resolved", start, end))


def _who(operator: str) -> str:
    """Runs are counted by who acted: the name claimed and the OS login, as journaled
    (`jnovak (login alice)`); a trigger's names the requester too (`watch rt for x@y
    (login adminkit)`), counted by trigger and login (`watch rt (login adminkit)`)."""
    names = operator_names(operator)
    return names.claim.split(" for ", 1)[0] + names.suffix


def to_csv(report: Monthly) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    rows: list[list[Any]] = [["section", "name", "status", "count"]]
    for (action, status), n in sorted(report.actions.items()):
        rows.append(["action", action, status, n])
    for who, n in sorted(report.by_operator.items()):
        rows.append(["runs by", who, "", n])
    for ticket, n in sorted(report.by_ticket.items()):
        rows.append(["ticket", ticket, "", n])
    for a in report.approvals:
        rows.append(["approval", a["ticket"], a["outcome"], a["hours"] or ""])
    for name, value in (("opened", report.opened), ("resolved", report.resolved)):
        if value is not None:
            rows.append(["tickets", name, "", value])
    # operators, tickets and actions are free text (ADMINKIT_OPERATOR, a plug-in's
    # action name): a spreadsheet must show them, never run them as formulas
    writer.writerows([csv_safe(c) if isinstance(c, str) else c for c in row] for row in rows)
    return out.getvalue()


def _chart(counts: Counter[str]) -> str:
    """A horizontal bar per action: inline SVG, nothing fetched."""
    if not counts:
        return "<p>No actions this month.</p>"
    top = max(counts.values())
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    bar, gap, label = 18, 6, 220
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="640" '
             f'height="{len(rows) * (bar + gap)}" role="img" aria-label="actions by kind">']
    for i, (name, n) in enumerate(rows):
        y = i * (bar + gap)
        width = max(1, round(360 * n / top))
        parts.append(f'<text x="0" y="{y + 13}" font-size="12">{html.escape(name)}</text>'
                     f'<rect x="{label}" y="{y}" width="{width}" height="{bar}" '
                     f'fill="#3b6ea5"/><text x="{label + width + 4}" y="{y + 13}" '
                     f'font-size="12">{n}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(head: list[str], rows: list[list[Any]]) -> str:
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table border='1' cellpadding='4'><tr>{cells}</tr>{body}</table>"


def to_html(report: Monthly) -> str:
    by_kind: Counter[str] = Counter()
    for (action, _), n in report.actions.items():
        by_kind[action] += n
    e = html.escape
    return "".join([
        f"<!doctype html><html><head><meta charset='utf-8'><title>adminkit: "
        f"{e(report.profile)} {e(report.month)}</title></head><body>",
        f"<h1>{e(report.profile)}: {e(report.month)}</h1>",
        f"<p>{report.total} action(s) in {report.runs} run(s); "
        f"{len(report.failures)} failed; {len(report.approvals)} waited for approval.</p>",
        "" if report.opened is None else
        f"<p>Requests: {report.opened} opened, {report.resolved} resolved.</p>",
        "<h2>Actions by kind</h2>", _chart(by_kind),
        _table(["action", "status", "count"],
               [[a, s, n] for (a, s), n in sorted(report.actions.items())]),
        "<h2>Runs by technician or trigger</h2>",
        _table(["who", "runs"], [[w, n] for w, n in sorted(report.by_operator.items())]),
        "<h2>Per ticket</h2>",
        _table(["ticket", "actions"], [[t, n] for t, n in sorted(report.by_ticket.items())]),
        "<h2>Failures</h2>",
        _table(["time", "ticket", "action", "target", "error"],
               [[f["time"][:19], f["ticket"] or "", f["action"], f["target"], f["error"]]
                for f in report.failures]),
        "<h2>Approvals</h2>",
        _table(["ticket", "outcome", "hours waited"],
               [[a["ticket"], a["outcome"], "" if a["hours"] is None else a["hours"]]
                for a in report.approvals]),
        "</body></html>"])


def message(report: Monthly, sender: str, to: list[str]) -> Any:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"], msg["To"] = sender, ", ".join(to)
    msg["Subject"] = f"adminkit monthly report: {report.profile} {report.month}"
    msg.set_content(f"{report.total} action(s) in {report.runs} run(s), "
                    f"{len(report.failures)} failed. The report is in HTML; the numbers "
                    "are attached as CSV.\n")
    msg.add_alternative(to_html(report), subtype="html")
    msg.add_attachment(to_csv(report).encode(), maintype="text", subtype="csv",
                       filename=f"adminkit-{report.profile}-{report.month}.csv")
    return msg
