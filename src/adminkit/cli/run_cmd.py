"""`adminkit run`: run a playbook, or resume an interrupted run."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from adminkit.cli import complete
from adminkit.cli.state import GlobalState, state_of
from adminkit.core.errors import UsageError


def run(
    ctx: typer.Context,
    playbook: Annotated[str | None, typer.Argument(
        help="A playbook name (see `adminkit playbook list`) or file.",
        autocompletion=complete.playbooks)] = None,
    input_: Annotated[list[str] | None, typer.Option(
        "--input", "-i", help="An input as NAME=VALUE (repeat).")] = None,
    inputs: Annotated[Path | None, typer.Option(
        help="A YAML or JSON file of inputs (a secret input's env:NAME, file:/path or "
             "keyring:service/user there is a reference, as with -i).")] = None,
    secret_stdin: Annotated[list[str] | None, typer.Option(
        "--secret-stdin", help="Read this secret input from stdin, a line each (repeat).")
    ] = None,
    approved_by: Annotated[str | None, typer.Option(
        help="Who approved it, for playbooks that require approval.")] = None,
    resume: Annotated[str | None, typer.Option(
        "--resume", help="Run id of an interrupted or failed run (or `last`): finish it, "
                         "skipping what is journaled as done.")
    ] = None,
    force: Annotated[bool, typer.Option(
        help="Allow a run to disable or delete more accounts than the profile's limit.")
    ] = False,
) -> None:
    """Run a playbook; every step is journaled and noted on the ticket.

    Examples:

      adminkit -p acme -t 4711 run onboard-user -i given_name=Jiří -i surname=Čermák

      adminkit -p acme --check run offboard-user -i login=jnovak

      adminkit run --resume R-20261125-134501-3f9a2c
    """
    state = state_of(ctx)
    if resume is not None:  # the journal's record says what ran, with which inputs
        if input_ or inputs:
            raise UsageError("--resume takes no inputs: the run's record has them",
                             hint=f"adminkit run --resume {resume}")
        _rerun(state, resume)
        return
    if playbook is None:
        raise UsageError("nothing to run", hint="give a playbook, or --resume RUN")
    _run_playbook(state, playbook, input_ or [], inputs, secret_stdin or [], approved_by, force)


def _run_playbook(state: GlobalState, name: str, pairs: list[str], inputs_file: Path | None,
                  from_stdin: list[str], approved_by: str | None, force: bool) -> None:
    from adminkit.automation.request import PlaybookRequest
    from adminkit.cli.playbook_cmd import find
    from adminkit.cli.session import execute, finish
    from adminkit.core.secrets import Secret
    from adminkit.playbook.inputs import from_file
    from adminkit.playbook.loader import load

    given: dict[str, Any] = _read_inputs(inputs_file) if inputs_file else {}
    path = find(state, name)
    secret = {k for k, v in load(path).playbook.inputs.items() if v.type == "secret"}
    for key in secret & set(given):  # a file is a fit place for a secret value, or a reference
        given[key] = from_file(given[key], f"--inputs {inputs_file}: input {key}")
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise UsageError(f"--input {pair!r}: expected NAME=VALUE")
        given[key] = value  # a secret input given so must be a reference (checked later)
    for key in from_stdin:
        if key not in secret:
            raise UsageError(f"--secret-stdin {key}: the playbook has no secret input {key}")
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise UsageError(f"--secret-stdin {key}: nothing on stdin")
        given[key] = Secret(line)
    command = f"run {path.stem}" + (f" (approved by {approved_by})" if approved_by else "")
    request = PlaybookRequest(path=path.resolve(), inputs=given, approved_by=approved_by,
                              force=force)
    finish(execute(state, command, playbook=request))


def _read_inputs(path: Path) -> dict[str, Any]:
    from adminkit.core import yamlsource

    data = yamlsource.load(path).data
    if not isinstance(data, dict):
        raise UsageError(f"{path}: inputs must be a mapping of NAME: VALUE")
    return data


def _rerun(state: GlobalState, run_id: str) -> None:
    """Finish a journaled run under its id, rebuilt from its verified record."""
    from adminkit.cli.session import finish, resume

    finish(resume(state, run_id))
