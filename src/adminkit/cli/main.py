"""The `adminkit` command: global options, sub-command groups, and error handling."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from adminkit import __version__
from adminkit.cli import (
    journal_cmd,
    lab_cmd,
    playbook_cmd,
    profile_cmd,
    run_cmd,
)
from adminkit.cli.state import GlobalState, OutputFormat

HELP = """Routine second-line work — accounts, print queues, installs — journaled and
noted on the ticket that asked for it.

Examples:

  adminkit lab up                                   # start the real test servers

  adminkit --profile lab account create --given-name Jiří --surname Čermák

  adminkit --profile lab --check account create ...  # show the plan, change nothing

  adminkit journal list --ticket 42 --output json
"""

app = typer.Typer(
    help=HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
)
app.add_typer(profile_cmd.app, name="profile")
app.add_typer(journal_cmd.app, name="journal")
app.add_typer(lab_cmd.app, name="lab")
app.add_typer(playbook_cmd.app, name="playbook")
app.command("run")(run_cmd.run)


def _domain_commands() -> None:
    """Each domain's command group, from the `adminkit.commands` entry points."""
    from importlib.metadata import entry_points

    for ep in sorted(entry_points(group="adminkit.commands"), key=lambda e: e.name):
        app.add_typer(ep.load(), name=ep.name)


_domain_commands()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"adminkit {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    ctx: typer.Context,
    profile: Annotated[str | None, typer.Option(
        "--profile", "-p", envvar="ADMINKIT_PROFILE",
        help="Customer profile to act on (see `adminkit profile list`).")] = None,
    ticket: Annotated[str | None, typer.Option(
        "--ticket", "-t", help="Ticket this work is for; each action is noted on it.")] = None,
    check: Annotated[bool, typer.Option(
        "--check", help="Dry run: read and plan, show what would change, change nothing.")] = False,
    output: Annotated[OutputFormat, typer.Option(
        "--output", "-o", help="table for people; json (stable) or csv for machines.")
    ] = OutputFormat.TABLE,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    config: Annotated[Path | None, typer.Option(
        "--config", envvar="ADMINKIT_CONFIG",
        help="Config folder (default $XDG_CONFIG_HOME/adminkit).")] = None,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version.")] = False,
) -> None:
    ctx.obj = GlobalState(profile=profile, ticket=ticket, check=check, output=output,
                          debug=debug, config_dir=config)


# Global options may stand anywhere on the line (`adminkit journal list -o json`); they
# are moved in front of the sub-command before parsing.
GLOBAL_WITH_VALUE = {"--profile", "-p", "--ticket", "-t", "--output", "-o", "--config"}
GLOBAL_FLAGS = {"--check", "--debug"}


def hoist_globals(argv: list[str]) -> list[str]:
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest.extend(argv[i:])
            break
        name = arg.split("=", 1)[0]
        if arg in GLOBAL_FLAGS or (name in GLOBAL_WITH_VALUE and "=" in arg):
            front.append(arg)
        elif arg in GLOBAL_WITH_VALUE and i + 1 < len(argv):
            front.extend(argv[i:i + 2])
            i += 1
        else:
            rest.append(arg)
        i += 1
    return front + rest


def main() -> None:
    """Entry point: run the app, turn AdminkitErrors into messages and exit codes."""
    from adminkit.cli.errors import show_warnings

    debug = "--debug" in sys.argv or os.environ.get("ADMINKIT_DEBUG") == "1"
    show_warnings()
    sys.argv[1:] = hoist_globals(sys.argv[1:])
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the one place that turns errors into exits
        from adminkit.cli.errors import report

        sys.exit(report(exc, debug=debug))


if __name__ == "__main__":
    main()
