"""The runner hook that writes the journal: a row as the run starts, per action, at the end."""

from __future__ import annotations

from typing import Any, Protocol

from adminkit.core.result import Result
from adminkit.core.run import Run
from adminkit.core.runner import RunReport
from adminkit.journal.store import Journal


class NoteMaker(Protocol):
    """What the ticket layer hands the journal: the note for an action or a whole run."""

    def for_action(self, run: Run, index: int, result: Result) -> dict[str, Any] | None: ...

    def for_run(self, run: Run, report: RunReport) -> dict[str, Any] | None: ...


class JournalHook:
    def __init__(self, journal: Journal, notes: NoteMaker | None = None) -> None:
        self.journal = journal
        self.notes = notes

    def _common(self, run: Run) -> dict[str, Any]:
        return {"run_id": run.id, "operator": run.operator, "profile": run.profile,
                "ticket": run.ticket, "mode": run.mode}

    def run_started(self, run: Run) -> None:
        self.journal.append(kind="run", summary=run.command, status="started",
                            detail={"request": run.record, "resumed": run.resumed},
                            **self._common(run))
        run.record = {}  # in the journal now; a bulk run's table is not held to the end

    def actions_starting(self, run: Run,
                         starting: list[tuple[int, str, str, str, dict[str, Any]]]) -> None:
        """Before a unit's writes: one `started` row per action, in one transaction, so a
        run killed during the writes leaves the intent of each write it may have made
        (a resume reads the systems to settle it, with the plan's `intent` if it kept
        one: the row's detail)."""
        self.journal.append_many(
            [(None, {"kind": "action", "idx": index, "action": name, "target": target,
                     "status": "started", "summary": f"about to {summary}",
                     "detail": {"intent": intent} if intent else None,
                     **self._common(run)})
             for index, name, target, summary, intent in starting])

    def action_finished(self, run: Run, index: int, result: Result) -> None:
        self.actions_finished(run, [(index, result)])

    def actions_finished(self, run: Run, done: list[tuple[int, Result]]) -> None:
        """Several results in one transaction (a bulk run's unit of rows). A failure's
        detail names its error class: a resume tells an unknown outcome from a refusal.
        Every text comes from `Result.public()`, scrubbed once."""
        rows = []
        for index, result in done:
            public = result.public()  # kept: a bulk run's spool writes it next
            # stored as encoded here (scrubbed rows): the spool's line reuses the texts
            detail: Any
            if result.failed and result.error_type:
                detail = {**public["data"], "error_type": result.error_type}
            else:
                detail = result.public_json("data") if public["data"] else None
            note = self.notes.for_action(run, index, result) if self.notes else None
            rows.append((note, {"kind": "action", "idx": index, "action": result.action,
                                "target": public["target"], "status": result.status.value,
                                "summary": public["summary"],
                                "diff": result.public_json("changes")
                                if public["changes"] else None,
                                "error": public["error"], "detail": detail,
                                **self._common(run)}))
        self.journal.append_many(rows, scrubbed=True)

    def run_finished(self, run: Run, report: RunReport) -> None:
        note = self.notes.for_run(run, report) if self.notes else None
        self.journal.append(note=note, kind="end", status=report.status, summary=run.command,
                            detail={"counts": report.counts, "exit_code": report.exit_code},
                            **self._common(run))
