"""The `adminkit` command: its entry point, which turns errors into exit codes.

It answers the root's --help and --version itself, without importing typer (most of
the start-up; see cli/roothelp.py). Everything else goes to the Typer app (cli/app.py),
after the global options are moved in front (cli/hoist.py).
"""

from __future__ import annotations

import os
import sys

from adminkit.cli.commands import sub_commands
from adminkit.cli.roothelp import program_name, root_help, terminal_columns

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING:
    from typing import Any

    import typer


def __getattr__(name: str) -> typer.Typer:
    """`adminkit.cli.main.app`, the Typer app, imported when asked for."""
    if name == "app":
        from adminkit.cli.app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_root: Any = None  # typer's click command tree for the app, once built


def root_command() -> Any:
    """The app's click command tree, built on first use and kept. A warm process builds
    it whole before it forks (cli/warmstart.py): each child parses with it as built, and
    what one run does to it dies with that child (a fork), never reaching the next."""
    global _root
    if _root is None:
        import typer

        from adminkit.cli.app import app

        _root = typer.main.get_command(app)
    return _root


def answered_without_typer(argv: list[str]) -> bool:
    """Print the root's --help or --version as Typer would; False where Typer must answer."""
    text: str | None = None
    if argv == ["--version"]:
        from adminkit.cli.extras import version_text

        text = version_text()
    elif argv in (["--help"], ["-h"]):
        text = root_help(program_name(), terminal_columns(), sub_commands())
    if text is None:
        return False
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:  # the reader is gone (`| head -1`): exit 1 quietly, as click does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing at exit either
        sys.exit(1)
    return True


def closed_standard_streams() -> bool:
    """Give each closed fd 0-2 /dev/null, so that no file opened later takes its number
    (a child process, or anything written to that number, would write into that file).
    True when output or errors were closed: what a command says would be lost."""
    closed = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            closed.append(fd)
    for fd in closed:
        got = os.open(os.devnull, os.O_RDWR)  # the lowest free number: this one
        if got != fd:
            os.dup2(got, fd)
            os.close(got)
    if 0 in closed:
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 - fd 0's
    return 1 in closed or 2 in closed


def main(warm: bool = True) -> None:
    """Entry point: run the app, turn AdminkitErrors into messages and exit codes.
    `warm`: hand the invocation to a warm process if one runs (cli/warmclient.py); its
    forked child calls this with False."""
    debug = "--debug" in sys.argv or os.environ.get("ADMINKIT_DEBUG") == "1"
    if closed_standard_streams():
        os.write(2, b"adminkit: standard output or standard error is closed, so what "
                    b"this command says would be lost; redirect it instead (>/dev/null)\n")
        sys.exit(2)
    try:
        if answered_without_typer(sys.argv[1:]):  # plug-ins listed: may be refused
            return
        if warm:
            from adminkit.cli.warmclient import run_warm

            run_warm(sys.argv, debug=debug)  # exits when a warm process ran it
            from adminkit.core.startgc import hold

            hold()  # a cold start: settled once the profile is loaded (core/startgc.py)
        from adminkit.cli.errors import show_warnings

        show_warnings(debug=debug)
        from adminkit.cli.hoist import hoist_globals
        from adminkit.core.entrypoints import no_pydantic_plugin_scan

        no_pydantic_plugin_scan()  # typer coerces options with pydantic
        root = root_command()
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
