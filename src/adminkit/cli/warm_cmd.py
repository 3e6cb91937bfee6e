"""`adminkit warm`: start, stop and show the warm process (cli/warmstart.py).

Opt-in: without a warm process every `adminkit` imports typer and the app itself.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from typing import Annotated

import typer

from adminkit.cli import warmclient
from adminkit.cli.state import OutputFormat, state_of
from adminkit.core.errors import ActionFailed, UsageError

app = typer.Typer(help="A warm process that starts commands in milliseconds: start, stop, "
                       "status.",
                  no_args_is_help=True)

_UNITS = {"s": 1, "m": 60, "h": 3600}


def parse_idle(text: str) -> float:
    """`30m`, `2h`, `90s` or `90` (seconds) to seconds."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if not found or float(found[1]) <= 0:
        raise UsageError(f"--idle {text!r}: a duration such as 30m, 2h or 90s")
    return float(found[1]) * _UNITS[found[2] or "s"]


def ask(op: str) -> dict[str, object] | None:
    """The warm process's answer to `op` (status, stop), or None: none runs."""
    path = warmclient.socket_path()
    sock = warmclient.connect(path) if os.path.lexists(path) else None
    if sock is None:
        return None
    try:
        warmclient.send_frame(sock, {"op": op})
        return warmclient.read_frame(sock)
    finally:
        sock.close()


@app.command("start")
def start(ctx: typer.Context, idle: Annotated[str, typer.Option(
        "--idle", help="Exit after this long without a command (30m, 2h, 90s).")] = "30m",
          ) -> None:
    """Start the warm process: later `adminkit` commands fork from it (same output,
    exit codes and journal as a cold start; ADMINKIT_WARM=0 turns it off per command).

    It exits when the installed code changes, after --idle without a command, or on
    `adminkit warm stop`.

    Examples:

      adminkit warm start

      adminkit warm start --idle 2h
    """
    seconds = parse_idle(idle)
    running = ask("status")
    if running is not None:
        typer.echo(f"a warm process already runs (pid {running.get('pid')}): "
                   f"{running.get('socket')}")
        return
    read_fd, write_fd = os.pipe()
    env = {k: v for k, v in os.environ.items() if k != "ADMINKIT_WARM"}
    with open(os.devnull, "r+b") as null:
        subprocess.Popen(  # our own interpreter and module, no shell
            [sys.executable, "-m", "adminkit.cli.warmstart", str(seconds), str(write_fd)],
            stdin=null, stdout=null, stderr=null, pass_fds=(write_fd,),
            start_new_session=True, close_fds=True, env=env, cwd="/")
    os.close(write_fd)
    answer = _read_line(read_fd, deadline=time.monotonic() + 60)
    if not answer.startswith("ready "):
        raise ActionFailed(f"the warm process did not start: {answer or 'no answer'}")
    typer.echo(f"warm process ready: {answer.removeprefix('ready ')}")


def _read_line(fd: int, deadline: float) -> str:
    import select

    data = b""
    try:
        while b"\n" not in data and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    return data.decode(errors="replace").strip()


@app.command("stop")
def stop(ctx: typer.Context) -> None:
    """Stop the warm process (commands it runs finish first).

    Examples:

      adminkit warm stop
    """
    answer = ask("stop")
    typer.echo("no warm process runs" if answer is None
               else f"warm process {answer.get('stopping')} stops")


@app.command("status")
def status(ctx: typer.Context) -> None:
    """Whether a warm process runs: its pid, socket, commands served and refused,
    children running, threads (1 when it forks) and the per-command check's cost.

    Examples:

      adminkit warm status -o json
    """
    from adminkit.cli.output import emit_rows, write_json

    state = state_of(ctx)
    answer = ask("status")
    if answer is not None:
        answer = with_local_times(answer)
    if state.output is OutputFormat.JSON:
        write_json({"running": answer is not None, **(answer or {}),
                    "socket": warmclient.socket_path()})
        return
    if answer is None:
        typer.echo(f"no warm process runs (its socket would be {warmclient.socket_path()})")
        return
    rows = [{"key": k, "value": answer.get("started_at", v) if k == "started" else v}
            for k, v in answer.items() if k != "started_at"]  # the time as people read it
    emit_rows(state, rows, ["key", "value"], title="warm process")


def with_local_times(answer: dict[str, object]) -> dict[str, object]:
    """`started` (epoch seconds, as the warm process says it) also as a local ISO time,
    `started_at`, right after it."""
    import contextlib
    from datetime import datetime

    out: dict[str, object] = {}
    for key, value in answer.items():
        out[key] = value
        if key == "started" and isinstance(value, (int, float)) \
                and not isinstance(value, bool):
            # NaN, or past any clock's range: shown as the number it is
            with contextlib.suppress(OverflowError, OSError, ValueError):
                out["started_at"] = datetime.fromtimestamp(value).astimezone().isoformat(
                    timespec="seconds")
    return out
