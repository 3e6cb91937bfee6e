"""The runner hook that writes the journal: a row as the run starts, per action, at the end."""

from __future__ import annotations

from typing import Any

from adminkit.core.result import Result
from adminkit.core.run import Run
from adminkit.core.runner import RunReport
from adminkit.journal.store import Journal


class JournalHook:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def _common(self, run: Run) -> dict[str, Any]:
        return {"run_id": run.id, "operator": run.operator, "profile": run.profile,
                "ticket": run.ticket, "mode": run.mode}

    def run_started(self, run: Run) -> None:
        self.journal.append(kind="run", summary=run.command, status="started",
                            detail={"argv": run.argv, "resumed": run.resumed},
                            **self._common(run))

    def action_finished(self, run: Run, index: int, result: Result) -> None:
        diff = [c.model_dump(mode="json") for c in result.changes]
        self.journal.append(kind="action", idx=index, action=result.action, target=result.target,
                            status=result.status.value, summary=result.summary, diff=diff or None,
                            error=result.error,
                            detail=result.model_dump(mode="json")["data"] or None,
                            **self._common(run))

    def run_finished(self, run: Run, report: RunReport) -> None:
        self.journal.append(kind="end", status=report.status, summary=run.command,
                            detail={"counts": report.counts, "exit_code": report.exit_code},
                            **self._common(run))
