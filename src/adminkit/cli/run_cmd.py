"""`adminkit run`: run a playbook, or resume an interrupted run."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from adminkit.cli.state import GlobalState, state_of
from adminkit.core.errors import UsageError


def run(
    ctx: typer.Context,
    playbook: Annotated[str | None, typer.Argument(
        help="A playbook name (see `adminkit playbook list`) or file.")] = None,
    input_: Annotated[list[str] | None, typer.Option(
        "--input", "-i", help="An input as NAME=VALUE (repeat).")] = None,
    inputs: Annotated[Path | None, typer.Option(
        help="A YAML or JSON file of inputs.")] = None,
    approved_by: Annotated[str | None, typer.Option(
        help="Who approved it, for playbooks that require approval.")] = None,
    resume: Annotated[str | None, typer.Option(
        "--resume", help="Run id of an interrupted run: skip what is journaled as done.")
    ] = None,
    force: Annotated[bool, typer.Option(
        help="Allow a step to disable or delete more accounts than the profile's limit.")
    ] = False,
) -> None:
    """Run a playbook; every step is journaled and noted on the ticket.

    Examples:

      adminkit -p acme -t 4711 run onboard-user -i given_name=Jiří -i surname=Čermák

      adminkit -p acme --check run offboard-user -i login=jnovak

      adminkit run --resume R-20261125-134501-3f9a2c
    """
    state = state_of(ctx)
    if playbook is None:
        if resume is None:
            raise UsageError("nothing to run", hint="give a playbook, or --resume RUN")
        _rerun(state, resume)
        return
    _run_playbook(state, playbook, input_ or [], inputs, approved_by, resume, force)


def _run_playbook(state: GlobalState, name: str, pairs: list[str], inputs_file: Path | None,
                  approved_by: str | None, resume: str | None, force: bool) -> None:
    from adminkit.cli.playbook_cmd import find
    from adminkit.cli.session import execute, finish, profile_of
    from adminkit.core.errors import PolicyRefused
    from adminkit.playbook.execute import PlaybookRun, deliver_factory
    from adminkit.playbook.inputs import resolve_inputs
    from adminkit.playbook.loader import load

    loaded = load(find(state, name))
    book = loaded.playbook
    given: dict[str, Any] = _read_inputs(inputs_file) if inputs_file else {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise UsageError(f"--input {pair!r}: expected NAME=VALUE")
        given[key] = value
    values = resolve_inputs(book, given)
    if book.requires_approval and not approved_by and not state.check:
        raise PolicyRefused(f"playbook {book.name} requires approval",
                            hint="run it with --approved-by NAME once it is approved")
    profile = profile_of(state)
    ticket = _ticket_fields(state, profile)
    command = f"run {book.name}" + (f" (approved by {approved_by})" if approved_by else "")

    def actions(runner: Any) -> Any:
        play = PlaybookRun(loaded, values, ticket=ticket, profile_name=state.profile,
                           run_id=runner.run.id, deliver=deliver_factory(profile),
                           bulk_limit=profile.policy.bulk_limit if profile else 25,
                           force=force)
        return play.actions(runner)

    finish(execute(state, command, actions, profile=profile, resume_id=resume))


def _read_inputs(path: Path) -> dict[str, Any]:
    from adminkit.core import yamlsource

    data = yamlsource.load(path).data
    if not isinstance(data, dict):
        raise UsageError(f"{path}: inputs must be a mapping of NAME: VALUE")
    return data


def _ticket_fields(state: GlobalState, profile: Any) -> dict[str, Any] | None:
    """The ticket's fields for templates; plain data, never rendered again."""
    if not state.ticket:
        return None
    from adminkit.tickets.base import parse_ref
    from adminkit.tickets.systems import open_system

    cfg = profile.tickets if profile else None
    ref = parse_ref(state.ticket, cfg.kind if cfg else None)
    system = open_system(profile, ref.kind)
    try:
        ticket = system.get(ref.id)
    finally:
        system.close()
    return {"id": ref.id, "ref": str(ref), "subject": ticket.subject, "status": ticket.status,
            "queue": ticket.queue, "requester": ticket.requester, "fields": ticket.fields}


def _rerun(state: GlobalState, resume: str) -> None:
    """Run a journaled command again under the same run id."""
    from adminkit.cli.session import RESUME_ENV, open_journal

    journal = open_journal(state)
    earlier = journal.run(resume)
    journal.close()
    if earlier is None:
        raise UsageError(f"no run {resume} in the journal",
                         hint="`adminkit journal list` shows recent runs")
    argv = (earlier.get("detail") or {}).get("argv") or []
    if not argv:
        raise UsageError(f"run {resume} cannot be resumed: its command was not recorded")
    if "--resume" not in argv:
        argv = [*argv, "--resume", resume] if "run" in argv else argv
    os.environ[RESUME_ENV] = resume
    from adminkit.cli.main import app

    sys.argv = [sys.argv[0], *argv]
    app(args=argv)
