"""The `adminkit` command: global options, sub-command groups, and error handling."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from adminkit import __version__
from adminkit.cli.hoist import hoist_globals
from adminkit.cli.lazy import LazyCommand, LazyGroup
from adminkit.cli.state import GlobalState, OutputFormat


def sub_commands() -> dict[str, LazyCommand]:
    """The sub-commands of `adminkit`, in the order `--help` lists them.

    The one list of them: the root group imports each only when it is used.
    """
    return {
        "run": LazyCommand("adminkit.cli.run_cmd:run",
                           "Run a playbook; every step is journaled and noted on the ticket."),
        "profile": LazyCommand("adminkit.cli.profile_cmd:app",
                               "List, show and check customer profiles."),
        "journal": LazyCommand("adminkit.cli.journal_cmd:app",
                               "Read, verify and export the journal of runs and actions."),
        "lab": LazyCommand("adminkit.cli.lab_cmd:app",
                           "Install, start, check, reset and stop the lab: real Samba AD, "
                           "OpenLDAP, CUPS, SSH hosts, Request Tracker and an SMTP sink on "
                           "127.0.0.0/8, for tests and demos."),
        "account": LazyCommand("adminkit.cli.account_cmd:app",
                               "Create, block, unlock, delete accounts; passwords, groups, "
                               "reports."),
        "group": LazyCommand("adminkit.cli.group_cmd:app", "Show groups and their members."),
        "ticket": LazyCommand("adminkit.cli.ticket_cmd:app",
                              "Ticket notes waiting in the outbox; the local ticket store."),
        "playbook": LazyCommand("adminkit.cli.playbook_cmd:app",
                                "List, show and validate playbooks; print the schema for "
                                "editors."),
    }


class RootGroup(LazyGroup):
    """`adminkit` itself: its sub-commands are those of `sub_commands()`."""

    def lazy_commands(self) -> dict[str, LazyCommand]:
        return sub_commands()


HELP = """Routine second-line work — accounts, print queues, installs — journaled and
noted on the ticket that asked for it.

Examples:

  adminkit lab up                                   # start the real test servers

  adminkit --profile lab account create --given-name Jiří --surname Čermák

  adminkit --profile lab --check account create ...  # show the plan, change nothing

  adminkit journal list --ticket 42 --output json
"""


app = typer.Typer(
    cls=RootGroup,
    help=HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
)


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
                          debug=debug, config_dir=config, argv=sys.argv[1:])


def main() -> None:
    """Entry point: run the app, turn AdminkitErrors into messages and exit codes."""
    debug = "--debug" in sys.argv or os.environ.get("ADMINKIT_DEBUG") == "1"
    try:
        root = typer.main.get_command(app)
        # Global options may stand anywhere on the line; click wants them in front.
        sys.argv[1:] = hoist_globals(sys.argv[1:], root)
        root()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the one place that turns errors into exits
        from adminkit.cli.errors import report

        sys.exit(report(exc, debug=debug))


if __name__ == "__main__":
    main()
