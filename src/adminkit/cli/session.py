"""From global options to a running `Runner`: profile, run, journal hook, resume."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import typer

from adminkit.cli.output import emit_report
from adminkit.cli.state import GlobalState
from adminkit.core import paths
from adminkit.core.action import Action
from adminkit.core.config import Profile, load_profile
from adminkit.core.context import Context
from adminkit.core.errors import UsageError
from adminkit.core.run import Run
from adminkit.core.runner import Runner, RunReport
from adminkit.journal.hook import JournalHook
from adminkit.journal.store import Journal

RESUME_ENV = "ADMINKIT_RESUME_RUN"


def open_journal(state: GlobalState) -> Journal:
    return Journal(state.journal_path or paths.default_journal_path())


def profile_of(state: GlobalState, *, required: bool = True) -> Profile | None:
    if state.profile is None:
        if required:
            raise UsageError("this command needs a profile",
                             hint="pass --profile NAME or set ADMINKIT_PROFILE "
                                  "(`adminkit profile list` shows them)")
        return None
    return load_profile(state.profile, state.config_dir)


def execute(state: GlobalState, command: str, actions: Sequence[Action[Any]], *,
            profile: Profile | None = None, stop_on_error: bool = False,
            resume_id: str | None = None) -> RunReport:
    """Run actions as one journaled run and render the report; the caller exits with its code."""
    import os

    journal = open_journal(state)
    resume_id = resume_id or os.environ.get(RESUME_ENV)
    run = Run(command=command, profile=state.profile, ticket=state.ticket, check=state.check,
              argv=state.argv)
    done: set[int] = set()
    if resume_id:
        earlier = journal.run(resume_id)
        if earlier is None:
            raise UsageError(f"no run {resume_id} in the journal",
                             hint="`adminkit journal list` shows recent runs")
        run.id, run.resumed = resume_id, True
        done = journal.done_indexes(resume_id)
    ctx = Context(run=run, profile=profile)
    try:
        report = Runner(ctx, [JournalHook(journal)], done=done, stop_on_error=stop_on_error,
                        debug=state.debug).execute(actions)
    finally:
        ctx.close()
        journal.close()
    emit_report(state, report)
    return report


def finish(report: RunReport) -> None:
    raise typer.Exit(report.exit_code)
