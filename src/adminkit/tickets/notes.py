"""The words of a ticket note: what was done, to what, by whom, in which run, and the result.

One line per action and a short diff; never a secret (values pass through `redact`,
Secrets print masked). Each note starts with a marker `adminkit:RUN:KEY;` so a
redelivery can find an earlier copy on the ticket and not post it twice.

A note ends with the journal's head as it was when the note was queued (`journal
head SEQ:HASH`, filled in by the journal in the same transaction): the ticket system
keeps an anchor of the journal off this host, which `adminkit journal verify
--anchor` checks. A run's last note therefore anchors the whole run: with one note
per run, its end row; with one note per action, its last action (a note is queued
with its own row, before anyone knows it is the last).
"""

from __future__ import annotations

from collections.abc import Sequence

from adminkit.core.result import Result
from adminkit.core.run import Run
from adminkit.core.runner import RunReport
from adminkit.core.secrets import redact
from adminkit.core.visible import flat

MAX_DIFF_LINES = 8

def marker(run_id: str, key: str) -> str:
    # No "[", "_" or "%": RT's search treats them as JSON and LIKE wildcards.
    return f"adminkit:{run_id}:{key};"


def _action_lines(result: Result) -> list[str]:
    mode = " (check: nothing changed)" if result.check else ""
    lines = [f"{result.status.value}{mode}: {flat(result.summary)}"]
    diff = [flat(c.line()) for c in result.changes]
    lines += [f"    {line}" for line in diff[:MAX_DIFF_LINES]]
    if len(diff) > MAX_DIFF_LINES:
        lines.append(f"    … {len(diff) - MAX_DIFF_LINES} more change(s) in the journal")
    if result.error and result.failed:
        lines.append(f"    error: {flat(result.error.splitlines()[0])}")
    return lines


def action_note(run: Run, index: int, result: Result) -> str:
    head = (f"{marker(run.id, str(index))} {flat(result.action)} {flat(result.target)} "
            f"by {flat(run.operator)} (profile {flat(run.profile or '-')}, run {run.id})")
    return redact("\n".join([head, *_action_lines(result)]))


def run_note(run: Run, report: RunReport) -> str:
    counts = ", ".join(f"{n} {s}" for s, n in report.counts.items() if n) or "nothing to do"
    head = (f"{marker(run.id, 'run')} {flat(run.command)} by {flat(run.operator)} "
            f"(profile {flat(run.profile or '-')}, run {run.id}, {run.mode}): {counts}")
    body = [f"- {flat(r.action)} {flat(r.target)}: " + "\n  ".join(_action_lines(r))
            for r in report.results]
    return redact("\n".join([head, *body]))


class TicketNotes:
    """The journal hook's note maker for one run's ticket (`--ticket`)."""

    def __init__(self, kind: str, ticket_id: str, *, per: str = "action",
                 public_actions: Sequence[str] = ()) -> None:
        self.kind, self.ticket_id, self.per = kind, ticket_id, per
        self.public_actions = set(public_actions)

    def _note(self, key: str, body: str, internal: bool) -> dict[str, object]:
        return {"key": key, "system": self.kind, "ticket": self.ticket_id,
                "internal": internal, "body": body, "anchor": True}

    def for_action(self, run: Run, index: int, result: Result) -> dict[str, object] | None:
        if self.per != "action" or run.check:
            return None  # a dry run changes nothing worth telling the ticket
        return self._note(f"{run.id}:{index}", action_note(run, index, result),
                          internal=result.action not in self.public_actions)

    def for_run(self, run: Run, report: RunReport) -> dict[str, object] | None:
        if self.per != "run" or run.check or not report.results:
            return None
        public = all(r.action in self.public_actions for r in report.results)
        return self._note(f"{run.id}:run", run_note(run, report), internal=not public)
