"""`adminkit lab`: the real test servers on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from adminkit.cli.state import state_of

if TYPE_CHECKING:
    from adminkit.lab.lab import Lab

app = typer.Typer(
    help="Install, start, check, reset and stop the lab: real Samba AD, OpenLDAP, CUPS, "
         "SSH hosts, Request Tracker and an SMTP sink on 127.0.0.0/8, for tests and demos.",
    no_args_is_help=True)

Servers = Annotated[list[str] | None, typer.Argument(
    help="samba, slapd, cups, ssh, rt, smtp, redmine (default: all).", show_default=False)]
LabDir = Annotated[Path | None, typer.Option(
    "--lab-dir", envvar="ADMINKIT_LAB_DIR",
    help="Lab state folder (default $XDG_STATE_HOME/adminkit/lab).")]


def _lab(ctx: typer.Context, lab_dir: Path | None) -> Lab:
    from adminkit.lab.lab import Lab

    return Lab(lab_dir, state_of(ctx).config_dir)


@app.command("install")
def install(ctx: typer.Context, servers: Servers = None, lab_dir: LabDir = None) -> None:
    """Install the Debian and Python packages the servers need (apt, non-interactive).

    The packages' system services are left as they were: not started, and not enabled
    at boot unless they already were. apt's output goes to install.log in the lab folder.
    """
    from adminkit.cli.output import console

    lab = _lab(ctx, lab_dir)
    report = lab.install(servers, progress=_say)
    out = console()
    for line in report.lines() or ["nothing to install"]:
        out.print(line, markup=False)


@app.command("up")
def up(ctx: typer.Context, servers: Servers = None, lab_dir: LabDir = None) -> None:
    """Install what is missing, start what is not running, wait until each answers.

    Writes the profiles `lab` (Samba AD) and `lab-openldap` (and `lab-redmine` once
    Redmine is set up). Idempotent.

    Example: adminkit lab up samba rt
    """
    from adminkit.cli.output import console

    lab = _lab(ctx, lab_dir)
    out = console(stderr=True)
    for line in lab.install(servers, progress=_say).lines():
        out.print(line, markup=False)
    with out.status("bringing the lab up…"):
        started = lab.up(servers, install=False)
    out.print(f"started: {' '.join(started)}" if started else "already running")
    _show_status(ctx, lab, servers)


@app.command("down")
def down(ctx: typer.Context, servers: Servers = None, lab_dir: LabDir = None,
         purge: Annotated[bool, typer.Option(help="Also delete the lab folder.")] = False) -> None:
    """Stop exactly the processes the lab started (by PID)."""
    from adminkit.cli.output import console

    lab = _lab(ctx, lab_dir)
    if purge:
        lab.destroy()
        console().print(f"stopped everything and removed {lab.dir}")
        return
    stopped = lab.down(servers)
    console().print(f"stopped: {' '.join(stopped)}" if stopped else "nothing was running")


@app.command("status")
def status(ctx: typer.Context, servers: Servers = None, lab_dir: LabDir = None) -> None:
    """Show each server: set up, running, answering an authenticated request."""
    lab = _lab(ctx, lab_dir)
    _show_status(ctx, lab, servers)
    if not all(s.ready for s in lab.status(servers)):
        raise typer.Exit(1)


@app.command("ticket")
def ticket(ctx: typer.Context,
           subject: Annotated[str, typer.Argument(help="The ticket's subject.")],
           requestor: Annotated[str, typer.Option(help="Who asks.")] = "jdoe@example.test",
           lab_dir: LabDir = None) -> None:
    """Open a ticket in the lab's Request Tracker (for demos and trying playbooks); prints
    its number."""
    server = _lab(ctx, lab_dir).server("rt")
    number = server.new_ticket(subject, requestor=requestor)  # type: ignore[attr-defined]
    typer.echo(number)


@app.command("reset")
def reset(ctx: typer.Context, servers: Servers = None, lab_dir: LabDir = None) -> None:
    """Back to the freshly seeded state (golden copies)."""
    lab = _lab(ctx, lab_dir)
    lab.reset(servers)
    _show_status(ctx, lab, servers)


def _say(line: str) -> None:
    from adminkit.cli.output import console

    console(stderr=True).print(line, markup=False)


def _show_status(ctx: typer.Context, lab: Lab, servers: list[str] | None) -> None:
    from adminkit.cli.output import emit_rows

    rows = [{"server": s.name, "set up": s.set_up, "running": s.running,
             "ready": s.ready, "detail": s.detail} for s in lab.status(servers)]
    emit_rows(state_of(ctx), rows, ["server", "set up", "running", "ready", "detail"],
              title=f"lab {lab.dir}")
