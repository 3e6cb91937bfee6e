"""`adminkit --help` without importing typer.

Importing typer is most of what a bare `adminkit --help` costs: 55 to 90 ms of 70 to
100 on the project's 2-core machine, where python itself starts in 12 to 15. So
`main()` prints the root's help from HEAD (what Typer prints above the commands: the
usage, HELP and the global options) and the commands of `sub_commands()`, laid out as
click lays them out. The unit tests hold it to what Typer prints, so it cannot drift;
where it could not say the same (a terminal narrower than 80 columns, another program
name), `root_help` returns None and Typer answers.

Imports nothing beyond `os` and `sys`: `typing`, `shutil` or `re` would cost 10 ms each.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING:
    from adminkit.cli.commands import LazyCommand

WIDTH = 78  # click's help width where the terminal has 80 columns or more
COL_MAX = 30  # click's widest first column in a list of two columns

# The root's own help, for Typer (cli/app.py) and for HEAD. Its lines are wrapped as
# click wraps them at WIDTH, and the examples are kept as they stand (\b): then click
# prints it indented by two and nothing else, which the unit tests hold.
HELP = """Routine second-line work — accounts, print queues, installs — journaled and
noted on the ticket that asked for it.

\b
Examples:
  adminkit lab up                             # start the lab's real servers
  adminkit -p lab account create --given-name Jiří --surname Čermák
  adminkit -p lab --check account create ...  # only show the plan
  adminkit journal list --ticket 42 --output json
"""

# The global options as Typer lists them at WIDTH; after a change to one, paste here
# what the unit test says Typer prints.
OPTIONS = """\
Options:
  -p, --profile <str>            Customer profile to act on (see `adminkit
                                 profile list`).  [env var: ADMINKIT_PROFILE]
  -t, --ticket <str>             Ticket this work is for; each action is noted
                                 on it.
  --check                        Dry run: read and plan, show what would
                                 change, change nothing.
  -o, --output <table|json|csv>  table for people; json (stable) or csv for
                                 machines.  [default: table]
  --debug                        Show tracebacks and debug logs.
  --config <path>                Config folder (default
                                 $XDG_CONFIG_HOME/adminkit).  [env var:
                                 ADMINKIT_CONFIG]
  --version                      Print the version.
  --install-completion           Install completion for the current shell.
  --show-completion              Show completion for the current shell, to
                                 copy it or customize the installation.
  -h, --help                     Show this message and exit.
"""

# What Typer prints for `adminkit --help` above the list of commands, at WIDTH.
_DESCRIPTION = "".join(f"  {line}\n" if line else "\n"
                       for line in HELP.splitlines() if line != "\b")
HEAD = f"Usage: adminkit [OPTIONS] COMMAND [ARGS]...\n\n{_DESCRIPTION}\n{OPTIONS}"


def program_name() -> str | None:
    """The name click shows in "Usage:", where it is a file's name (not `python -m ...`)."""
    main = sys.modules.get("__main__")
    if getattr(main, "__package__", None) not in (None, ""):
        return None  # run as `python -m adminkit.cli.main`: click says so at length
    return os.path.basename(sys.argv[0])


def terminal_columns() -> int:
    """`shutil.get_terminal_size().columns` (what click asks), without importing shutil."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        stdout = sys.__stdout__
        try:
            columns = os.get_terminal_size(stdout.fileno()).columns if stdout else 0
        except (AttributeError, ValueError, OSError):
            columns = 0
        columns = columns or 80
    return columns


def short_help(text: str, limit: int) -> str:
    """`text` shortened to its first sentence and `limit` characters, as click does it."""
    paragraph_end = text.find("\n\n")
    words = (text if paragraph_end == -1 else text[:paragraph_end]).split()
    if words[:1] == ["\b"]:
        words = words[1:]
    length = 0
    for i, word in enumerate(words):
        length += len(word) + (i > 0)
        if length > limit:
            break
        if word.endswith("."):
            return " ".join(words[:i + 1])
        if length == limit and i != len(words) - 1:
            break
    else:
        return " ".join(words)
    length += len("...")
    while i > 0:
        length -= len(words[i]) + (i > 0)
        if length <= limit:
            break
        i -= 1
    return " ".join(words[:i]) + "..."


def root_help(prog: str | None, columns: int, commands: dict[str, LazyCommand]) -> str | None:
    """What Typer prints for `adminkit --help`, or None where it would print otherwise."""
    if prog != "adminkit" or columns < WIDTH + 2 or not commands:
        return None
    if os.environ.get("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION"):
        return None  # Typer then describes --install-completion otherwise
    longest = max(len(name) for name in commands)
    column = min(longest, COL_MAX) + 2  # click's first column, with its two spaces
    rows = []
    for name, entry in commands.items():
        text = short_help(entry.help, WIDTH - 6 - longest)  # click leaves it room on the line
        if not text:
            rows.append(f"  {name}")
        elif len(name) <= column - 2:
            rows.append(f"  {name.ljust(column)}{text}")
        else:
            rows.append(f"  {name}\n{' ' * (column + 2)}{text}")
    return HEAD + "\nCommands:\n" + "\n".join(rows) + "\n"
