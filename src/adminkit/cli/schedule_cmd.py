"""`adminkit schedule`: the profile's scheduled runs: list, run one, install the timers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from adminkit.cli.state import state_of

app = typer.Typer(help="Scheduled runs: list them, run one now, install their systemd timers.",
                  no_args_is_help=True)


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """The profile's schedules: when, which playbook, on which ticket.

    Example: adminkit -p acme schedule list
    """
    from adminkit.automation.schedule import schedules
    from adminkit.cli.output import emit_rows
    from adminkit.cli.session import profile_of

    state = state_of(ctx)
    profile = profile_of(state)
    assert profile is not None
    rows = [{"name": s.name, "calendar": s.calendar, "playbook": s.playbook, "inputs": s.inputs,
             "ticket": s.ticket, "force": s.force} for s in schedules(profile)]
    emit_rows(state, rows, ["name", "calendar", "playbook", "inputs", "ticket", "force"],
              title=f"schedules of {profile.name} ({len(rows)})")


@app.command("run")
def run(ctx: typer.Context, name: Annotated[str, typer.Argument(
        help="The schedule's name (see `adminkit schedule list`).")]) -> None:
    """Run a schedule now (what its timer does); never two copies at once.

    Examples:

      adminkit -p acme schedule run nightly-disable

      adminkit -p acme --check schedule run nightly-disable
    """
    from adminkit.automation import schedule
    from adminkit.cli.playbook_cmd import find
    from adminkit.cli.session import finish, profile_of, render, service_of

    state = state_of(ctx)
    profile = profile_of(state)
    assert profile is not None
    report = schedule.run(service_of(state), profile, schedule.named(profile, name),
                          lambda book: find(state, book), check=state.check)
    finish(render(state, report))


@app.command("install")
def install(
    ctx: typer.Context,
    folder: Annotated[Path | None, typer.Option(
        "--dir", help="Where the unit files go (default /etc/systemd/system); given, "
                      "units are written even where systemd does not run.")] = None,
    adminkit: Annotated[str | None, typer.Option(
        help="The adminkit command the timers start (default: this one).")] = None,
    cron: Annotated[bool, typer.Option(
        "--cron", help="Write crontab lines instead of systemd units (the default where "
                       "systemd does not run this machine).")] = False,
    user: Annotated[str | None, typer.Option(
        help="With cron: whose crontab (crontab -u USER; default: yours).")] = None,
) -> None:
    """Write a systemd timer and service per schedule, and a timer that delivers the
    ticket outbox every two minutes; then `systemctl daemon-reload` and enable them.

    Where systemd is absent (or with --cron) the same goes into the user's crontab, as
    one block of lines for the profile between BEGIN and END comments, replaced whole
    on every install; the crontab's other lines are kept. A calendar cron cannot express
    (seconds, years, `~`) is refused, saying why.

    Examples:

      adminkit -p acme schedule install

      adminkit -p acme schedule install --dir ~/.config/systemd/user

      adminkit -p acme schedule install --cron --user svc-adminkit
    """
    from adminkit.automation import crontab
    from adminkit.automation.schedule import check_calendar, entries, units
    from adminkit.cli.output import console

    state = state_of(ctx)
    profile, command, environment = _target(state, adminkit)
    if cron or (folder is None and not crontab.systemd_present()):
        text = crontab.block(profile.name, entries(profile), command, environment)
        crontab.install(profile.name, text, user)
        whose = f"the crontab of {user}" if user else "your crontab"
        console().print(f"wrote {len(entries(profile))} crontab line(s) for profile "
                        f"{profile.name} into {whose}", markup=False, highlight=False)
        return
    from adminkit.core.errors import ValidationError

    for what, calendar, _ in entries(profile):
        problem = check_calendar(calendar)
        if problem:
            raise ValidationError(f"{what}: calendar {calendar!r}: {problem}")
    folder = folder or Path("/etc/systemd/system")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in units(profile, command, environment).items():
        (folder / name).write_text(text)
        written.append(name)
    timers = " ".join(n for n in written if n.endswith(".timer"))
    console().print(f"wrote {len(written)} unit(s) to {folder}; now: systemctl daemon-reload "
                    f"&& systemctl enable --now {timers}", markup=False, highlight=False)


@app.command("uninstall")
def uninstall(
    ctx: typer.Context,
    folder: Annotated[Path | None, typer.Option(
        "--dir", help="Where the unit files are (default /etc/systemd/system); given, "
                      "the files are removed and systemctl is left to you.")] = None,
    cron: Annotated[bool, typer.Option(
        "--cron", help="Take the crontab lines out instead (the default where systemd "
                       "does not run this machine).")] = False,
    user: Annotated[str | None, typer.Option(
        help="With cron: whose crontab (crontab -u USER; default: yours).")] = None,
) -> None:
    """Remove what `schedule install` wrote for the profile: its systemd units (only
    the files install marked as the profile's; a schedule since taken out of the
    profile too), after `systemctl disable --now` of its timers and followed by
    `systemctl daemon-reload`; or, with cron, the profile's block of the crontab (its
    other lines stay).

    Examples:

      adminkit -p acme schedule uninstall

      adminkit -p acme schedule uninstall --dir ~/.config/systemd/user

      adminkit -p acme schedule uninstall --cron --user svc-adminkit
    """
    import shutil

    from adminkit.automation import crontab, units
    from adminkit.cli.output import console
    from adminkit.cli.session import profile_of

    state = state_of(ctx)
    profile = profile_of(state)
    assert profile is not None
    say = console().print
    if cron or (folder is None and not crontab.systemd_present()):
        crontab.install(profile.name, None, user)
        say(f"removed profile {profile.name}'s lines from "
            f"{'the crontab of ' + user if user else 'your crontab'}", markup=False,
            highlight=False)
        return
    systemctl = shutil.which("systemctl") if folder is None else None
    where = folder or Path("/etc/systemd/system")
    removed = units.remove(where, profile.name, systemctl)
    if not removed:
        say(f"no unit of profile {profile.name} in {where} (units install wrote before it "
            "marked them are left: remove them by hand)", markup=False, highlight=False)
        return
    after = "" if systemctl else "; now: systemctl daemon-reload"
    say(f"removed {len(removed)} unit(s) of profile {profile.name} from {where}{after}",
        markup=False, highlight=False)


def _target(state: Any, adminkit: str | None) -> tuple[Any, list[str], dict[str, str]]:
    """The profile, the command the timers start, and the environment they need."""
    import os
    import sys

    from adminkit.cli.session import profile_of

    profile = profile_of(state)
    assert profile is not None
    me = Path(sys.argv[0]).resolve()
    # `python -m adminkit.cli.main`: argv[0] is main.py, which cannot be started itself
    started = me.suffix != ".py" and os.access(me, os.X_OK)
    command = [adminkit] if adminkit else [str(me)] if started else [
        sys.executable, "-m", "adminkit.cli.main"]
    environment = {k: v for k in ("ADMINKIT_CONFIG", "ADMINKIT_JOURNAL", "ADMINKIT_TICKETS")
                   if (v := os.environ.get(k))}
    if state.config_dir:
        environment["ADMINKIT_CONFIG"] = str(Path(state.config_dir).resolve())
    if state.journal_path:
        environment["ADMINKIT_JOURNAL"] = str(Path(state.journal_path).resolve())
    return profile, command, environment
