"""A rich progress bar on stderr for bulk runs, as a runner hook."""

from __future__ import annotations

from typing import TYPE_CHECKING

from adminkit.core.result import Result, Status
from adminkit.core.run import Run

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from adminkit.core.runner import RunReport


class ProgressHook:
    def __init__(self, total: int, label: str) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        from adminkit.cli.output import console

        self.progress: Progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("[red]{task.fields[failed]} failed"), TimeRemainingColumn(),
            console=console(stderr=True), transient=True)
        self.task: TaskID = self.progress.add_task(label, total=total, failed=0)
        self.failed = 0

    def run_started(self, run: Run) -> None:
        self.progress.start()

    def action_finished(self, run: Run, index: int, result: Result) -> None:
        if result.status is Status.FAILED:
            self.failed += 1
        self.progress.update(self.task, advance=1, failed=self.failed)

    def run_finished(self, run: Run, report: RunReport) -> None:
        self.progress.stop()
