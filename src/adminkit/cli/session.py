"""From global options to the run service: the profile, the request, the rendered report."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

from adminkit.cli.output import emit_report
from adminkit.cli.state import GlobalState, OutputFormat
from adminkit.core.config import Profile, load_profile
from adminkit.core.errors import UsageError

if TYPE_CHECKING:
    from adminkit.accounts.directory import Directory
    from adminkit.automation.request import Bulk, PlaybookRequest, RunRequest
    from adminkit.automation.service import RunService
    from adminkit.core.action import Action
    from adminkit.core.runner import RunHook, RunReport
    from adminkit.journal.store import Journal


def profile_of(state: GlobalState, *, required: bool = True,
               lazy: bool = False) -> Profile | None:
    """The command's profile, read once. `lazy` (read-only commands): each domain's section
    is validated when first read, so `account show` builds no print or deploy model;
    anything else gets every section validated before it starts, as always."""
    if state.profile is None:
        if required:
            raise UsageError("this command needs a profile",
                             hint="pass --profile NAME or set ADMINKIT_PROFILE "
                                  "(`adminkit profile list` shows them)")
        return None
    if state.loaded is None or state.loaded.name != state.profile:
        state.loaded = load_profile(state.profile, state.config_dir, lazy=lazy)
    elif not lazy:
        state.loaded = state.loaded.complete()
    return state.loaded


def open_journal(state: GlobalState) -> Journal:
    from adminkit.core import paths
    from adminkit.journal.store import Journal

    return Journal(state.journal_path or paths.default_journal_path())


def service_of(state: GlobalState) -> RunService:
    from adminkit.automation.service import RunService

    return RunService(journal_path=state.journal_path, config_dir=state.config_dir,
                      debug=state.debug)


@contextmanager
def bound_directory(state: GlobalState) -> Iterator[tuple[Profile, Directory]]:
    """The profile and its bound directory, for read-only commands (no run, no journal)."""
    from adminkit.accounts.directory import open_directory

    profile = profile_of(state, lazy=True)
    assert profile is not None
    directory = open_directory(profile)
    try:
        yield profile, directory
    finally:
        directory.close()


def execute(state: GlobalState, command: str, actions: Sequence[Action[Any]] = (), *,
            bulk: Bulk | None = None, playbook: PlaybookRequest | None = None,
            stop_on_error: bool = False, workers: int = 1) -> RunReport:
    """Run actions (or a playbook) as one journaled run and render the report."""
    from adminkit.automation.request import RunRequest

    request = RunRequest(command=command, profile=profile_of(state, required=playbook is None),
                         actions=actions,
                         playbook=playbook, ticket=state.ticket, check=state.check,
                         bulk=bulk, stop_on_error=stop_on_error, workers=workers)
    seen = _Ending()
    with seen.on_ctrl_c():
        return render(state, service_of(state).run(request, hooks=_hooks(state, seen)))


def resume(state: GlobalState, run_id: str) -> RunReport:
    """Finish an interrupted run from its verified journal record (never from argv)."""
    seen = _Ending()
    with seen.on_ctrl_c():
        return render(state, service_of(state).resume(run_id, hooks=_hooks(state, seen)))


def render(state: GlobalState, report: RunReport) -> RunReport:
    for notice in report.notices:
        sys.stderr.write(notice + "\n")
    emit_report(state, report)
    return report


def _hooks(state: GlobalState, ending: _Ending) -> Any:
    """A progress bar on a terminal, for runs of several actions; and the run's end."""
    bar = state.output is OutputFormat.TABLE and sys.stderr.isatty()

    def hooks(request: RunRequest, count: int) -> list[RunHook]:
        if count <= 1 or not bar:
            return [ending]
        from adminkit.cli.progress import ProgressHook

        return [ProgressHook(count, request.command), ending]

    return hooks


class _Ending:
    """Keeps the run's report as it ends, so that Ctrl-C still says what was done."""

    def __init__(self) -> None:
        self.report: RunReport | None = None

    def run_started(self, run: Any) -> None:
        pass

    def action_finished(self, run: Any, index: int, result: Any) -> None:
        pass

    def run_finished(self, run: Any, report: RunReport) -> None:
        self.report = report

    @contextmanager
    def on_ctrl_c(self) -> Iterator[None]:
        try:
            yield
        except KeyboardInterrupt:
            report = self.report
            if report is not None and report.interrupted:
                counts = ", ".join(f"{n} {status}" for status, n in report.counts.items()
                                   if n)
                sys.stderr.write(f"interrupted: {counts}; what finished is in the journal "
                                 f"(run {report.run.id}).\n" if counts else
                                 f"interrupted before any action finished (run "
                                 f"{report.run.id}).\n")
                if not report.run.check:
                    sys.stderr.write(f"  finish it: adminkit run --resume {report.run.id}\n")
            raise


def finish(report: RunReport) -> None:
    raise typer.Exit(report.exit_code)
