"""`adminkit run`: run a playbook, or resume an interrupted run."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from adminkit.cli.state import state_of
from adminkit.core.errors import UsageError


def run(
    ctx: typer.Context,
    resume: Annotated[str | None, typer.Option(
        "--resume", help="Run id of an interrupted run: run it again, skipping what is done.")
    ] = None,
) -> None:
    """Resume an interrupted run (playbooks come in a later release).

    A run journals every action before the next starts; `--resume RUN` runs the same
    command again under the same run id, and actions journaled as done are skipped.

    Example: adminkit run --resume R-20261125-134501-3f9a2c
    """
    if resume is None:
        raise UsageError("nothing to run", hint="give --resume RUN")
    from adminkit.cli.session import RESUME_ENV, open_journal

    journal = open_journal(state_of(ctx))
    earlier = journal.run(resume)
    journal.close()
    if earlier is None:
        raise UsageError(f"no run {resume} in the journal",
                         hint="`adminkit journal list` shows recent runs")
    argv = (earlier.get("detail") or {}).get("argv") or []
    if not argv or "run" in argv[:1]:
        raise UsageError(f"run {resume} cannot be resumed: its command was not recorded")
    os.environ[RESUME_ENV] = resume
    from adminkit.cli.main import app

    sys.argv = [sys.argv[0], *argv]
    app(args=argv)
