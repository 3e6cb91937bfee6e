"""`adminkit probe`: a test-only command group (installed through an entry point at
test time) that shows what the process running a command sees, so that a warm run
can be compared with a cold one field by field."""

from __future__ import annotations

import getpass
import json
import os
import random
import shutil
import sys
import time

import typer

app = typer.Typer(help="What a command's process sees (tests only).", no_args_is_help=True)


@app.command("show")
def show(path: str = typer.Option("", help="A path to open, relative to the cwd.")) -> None:
    """Print the process's view as JSON."""
    content = open(path, encoding="utf-8").read() if path else None  # noqa: SIM115
    umask = os.umask(0)
    os.umask(umask)
    print(json.dumps({
        "umask": umask, "cwd": os.getcwd(), "probe": os.environ.get("PROBE"),
        "tz": time.strftime("%z", time.localtime(0)), "tzname": list(time.tzname),
        "stdin_tty": sys.stdin.isatty(), "stdout_tty": sys.stdout.isatty(),
        "columns": shutil.get_terminal_size().columns, "random": random.random(),
        "pid": os.getpid(), "ppid": os.getppid(), "content": content, "path": sys.path,
        "stdin": None if sys.stdin.isatty() else sys.stdin.read()}))


@app.command("wait")
def wait() -> None:
    """Say `waiting` with the pid, then sleep (a signal ends it)."""
    print(f"waiting {os.getpid()}", flush=True)
    time.sleep(60)


@app.command("ask")
def ask() -> None:
    """Read a secret as core/secrets.py's prompt does, and say only its length."""
    value = getpass.getpass("secret: ")
    print(f"got {len(value)} characters")


@app.command("proc")
def proc() -> None:
    """Print the process's nice level, groups and open-files limit as JSON."""
    import resource

    print(json.dumps({"nice": os.nice(0), "groups": sorted(os.getgroups()),
                      "nofile": list(resource.getrlimit(resource.RLIMIT_NOFILE))}))


@app.command("scribble")
def scribble(ctx: typer.Context,
             word: str = typer.Option("pristine", help="Said, then made the default.")
             ) -> None:
    """Say the option's default and a mark on the root command, then change both in
    the command tree (a warm child's changes must not reach the next run)."""
    root = ctx.find_root().command
    [option] = [p for p in ctx.command.params if p.name == "word"]
    print(json.dumps({"default": option.default, "mark": getattr(root, "probe_mark", None)}))
    option.default = word + "-scribbled"
    root.probe_mark = word  # type: ignore[attr-defined]
