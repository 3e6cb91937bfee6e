"""The `adminkit` Typer app: the root group, its global options, its sub-commands.

The entry point is cli/main.py, which answers the root's --help and --version without
importing this module (nor typer), and hoists the global options before parsing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from adminkit.cli import complete
from adminkit.cli.commands import LazyCommand, sub_commands
from adminkit.cli.lazy import LazyGroup
from adminkit.cli.roothelp import HELP
from adminkit.cli.state import GlobalState, OutputFormat


class RootGroup(LazyGroup):
    """`adminkit` itself: its sub-commands are those of `sub_commands()`."""

    def lazy_commands(self) -> dict[str, LazyCommand]:
        return sub_commands()


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
        from adminkit.cli.extras import version_text

        typer.echo(version_text(), nl=False)
        raise typer.Exit()


@app.callback()
def main_callback(
    ctx: typer.Context,
    profile: Annotated[str | None, typer.Option(
        "--profile", "-p", envvar="ADMINKIT_PROFILE", autocompletion=complete.profiles,
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
