"""The runs in a journal, one line each: what an operator looks for before `run --resume`.

A run whose newest attempt has no end row may have been interrupted, or may still be
running in another process: nothing in the journal tells the two apart, so it is
listed as "no end row", never guessed at; its counts are its actions' newest rows, where
`started` is a write announced and never journaled as done (a resume settles it).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from adminkit.core.run import operator_is
from adminkit.journal.store import Journal

NO_END = "no end row"


def list_runs(journal: Journal, *, ticket: str | None = None, operator: str | None = None,
              since: datetime | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Runs newest first: id, start, who, where, what, how it ended and its counts."""
    with journal.lock:  # one read transaction: one consistent view, however busy writers are
        journal.db.execute("BEGIN")
        try:
            runs = _runs(journal)
        finally:
            journal.db.execute("COMMIT")
    out = []
    for run, start, end, tally in runs.values():
        if end is None or end[0] < start:  # the newest attempt has not ended
            run["status"] = NO_END
            counts = dict(tally)
        else:
            run["status"] = end[1]
            counts = {k: int(v) for k, v in (end[2].get("counts") or {}).items() if v}
        run["counts"] = counts
        run["count_text"] = ", ".join(f"{n} {s}" for s, n in counts.items()) or "nothing"
        out.append(run)
    out = [r for r in out
           if (ticket is None or r["ticket"] == ticket)
           and (operator is None or operator_is(r["operator"], operator))
           and (since is None or r["time"] >= since.astimezone(UTC).isoformat(
                timespec="microseconds"))]
    out.reverse()  # newest first: dicts keep the order of the first run rows
    return out[:limit] if limit else out


def _runs(journal: Journal) -> dict[str, tuple[dict[str, Any], int, tuple[int, str, dict[str, Any]]
                                             | None, Counter[str]]]:
    """Per run: its first run row, its newest start, its newest end, its actions' tally."""
    runs: dict[str, dict[str, Any]] = {}
    start: dict[str, int] = {}
    end: dict[str, tuple[int, str, dict[str, Any]]] = {}
    for row in journal.db.execute(
            "SELECT seq, kind, time, run_id, operator, profile, ticket, mode, summary, status, "
            "detail FROM entries WHERE kind IN ('run', 'end') ORDER BY seq"):
        run_id = row["run_id"]
        if row["kind"] == "end":
            end[run_id] = (row["seq"], row["status"], _json(row["detail"]))
            continue
        runs.setdefault(run_id, {
            "run_id": run_id, "time": row["time"], "operator": row["operator"],
            "profile": row["profile"], "ticket": row["ticket"], "mode": row["mode"],
            "command": row["summary"], "attempts": 0})["attempts"] += 1
        start[run_id] = row["seq"]
    tallies: dict[str, Counter[str]] = {}
    # Each action by its newest row: an intent (`started`) once its outcome is journaled,
    # or a failure redone by a resume, counts once, as it ended.
    for row in journal.db.execute(
            "SELECT run_id, status, count(*) AS n FROM entries AS e WHERE kind = 'action' "
            "AND seq = (SELECT max(seq) FROM entries AS later WHERE later.run_id = e.run_id "
            "AND later.idx IS e.idx AND later.kind = 'action') GROUP BY run_id, status"):
        tallies.setdefault(row["run_id"], Counter())[row["status"]] = row["n"]
    return {run_id: (run, start[run_id], end.get(run_id), tallies.get(run_id, Counter()))
            for run_id, run in runs.items()}


def _json(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
