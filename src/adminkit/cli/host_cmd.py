"""`adminkit host`: the inventory's hosts: list, facts, check, patch, reboot, run.

Every command takes --hosts PATTERN. Reading (list, facts, check) is not journaled;
patch, reboot and run are actions: journaled per host, noted on the ticket, `--check`
shows them.
"""

from __future__ import annotations

import shlex
from typing import Annotated, Any

import typer

from adminkit.cli.hostsel import ForceOpt, ForksOpt, HostsOpt, host_limit, run_on_hosts, selected
from adminkit.cli.state import state_of

app = typer.Typer(help="The inventory's hosts: list, facts, check, patch; run a command.",
                  no_args_is_help=True)

LIST_COLUMNS = ["host", "address", "transport", "port", "user", "groups"]
FACT_COLUMNS = ["host", "status", "os", "os_version", "kernel", "package_manager",
                "uptime", "reboot_pending", "free_disk", "error"]
CHECK_COLUMNS = ["host", "status", "seconds", "detail"]
RebootIfNeeded = Annotated[bool, typer.Option(
    "--reboot-if-needed", help="Restart a host that wants a reboot once the updates are in "
                               "(also one with nothing to update), and wait for it (as "
                               "`host reboot`).")]


@app.command("list")
def list_(ctx: typer.Context, hosts: HostsOpt = "all") -> None:
    """The hosts a pattern selects, from the profile (no host is contacted).

    Example: adminkit -p acme host list --hosts 'group:brno,!web3'
    """
    from adminkit.cli.output import emit_rows

    state = state_of(ctx)
    _, inventory, selection = selected(state, hosts)
    ssh = inventory.ssh
    rows: list[dict[str, Any]] = [
        {"host": h.name, "address": h.address, "transport": h.transport,
         "port": h.port or (ssh.port if ssh and h.transport == "ssh" else None),
         "user": h.user or (ssh.user if ssh and h.transport == "ssh" else None),
         "groups": ", ".join(h.groups), "vars": h.vars} for h in selection.hosts]
    rows += [{"host": n, "address": "(not in the inventory)"} for n in selection.unknown]
    emit_rows(state, rows, LIST_COLUMNS, title=f"hosts: {hosts}")
    if selection.unknown:
        raise typer.Exit(2)


@app.command("facts")
def facts(ctx: typer.Context, hosts: HostsOpt, forks: ForksOpt = None) -> None:
    """OS and version, package manager, uptime, reboot pending, free disk, per host.

    Example: adminkit -p acme host facts --hosts 'web*' -o json
    """
    from adminkit.cli.output import emit_rows
    from adminkit.deploy.fleet import exit_code, for_each

    state = state_of(ctx)
    profile, _, selection = selected(state, hosts)
    rows = for_each(profile, selection, lambda b: b.facts(), forks=forks)
    out = []
    for row in rows:
        line: dict[str, Any] = {"host": row.host, "status": "ok" if row.ok else "failed",
                                "error": row.error}
        if row.value is not None:
            line.update(row.value.row())
            line["uptime"] = _duration(row.value.uptime_seconds)
            line["free_disk"] = _size(row.value.free_disk_bytes)
        out.append(line)
    emit_rows(state, out, FACT_COLUMNS, title=f"facts: {hosts}")
    raise typer.Exit(exit_code(rows))


@app.command("check")
def check(ctx: typer.Context, hosts: HostsOpt = "all", forks: ForksOpt = None) -> None:
    """Reach and log in to each host (strict host keys), run `true`; a row per host.

    Exit 3 if any host cannot be reached or refuses the login.

    Example: adminkit -p acme host check --hosts all
    """
    from adminkit.cli.output import emit_rows
    from adminkit.deploy.fleet import exit_code, for_each

    state = state_of(ctx)
    profile, _, selection = selected(state, hosts)

    def probe(backend: Any) -> str:
        own = getattr(backend, "probe", None)  # a host without `true` (Windows) says how
        if own is not None:
            return str(own())
        result = backend.run(["true"], timeout=30)
        return f"logged in, command exit {result.exit}"

    rows = for_each(profile, selection, probe, forks=forks)
    emit_rows(state, [{"host": r.host, "status": "ok" if r.ok else "failed",
                       "seconds": r.seconds, "detail": r.value if r.ok else r.error}
                      for r in rows], CHECK_COLUMNS, title=f"check: {hosts}")
    raise typer.Exit(exit_code(rows))


@app.command("patch")
def patch(
    ctx: typer.Context, hosts: HostsOpt,
    security_only: Annotated[bool, typer.Option(
        "--security-only", help="Only updates from a security source.")] = False,
    reboot_if_needed: RebootIfNeeded = False,
    force: ForceOpt = False,
    forks: ForksOpt = None,
) -> None:
    """Install the pending updates on each host (the scheduled maintenance job).

    A host that then wants a reboot says so (`reboot_required`); it is restarted only
    with --reboot-if-needed.

    Example: adminkit -p acme -t 4711 host patch --hosts 'group:brno' --security-only
    """
    from adminkit.cli.params import build
    from adminkit.deploy.actions.packages import PatchHost, PatchParams

    state = state_of(ctx)
    profile, inventory, selection = selected(state, hosts)
    actions: list[Any] = [PatchHost(build(PatchParams, host=name, security_only=security_only,
                                          reboot_if_needed=reboot_if_needed))
                          for name in selection.names]
    only = " --security-only" if security_only else ""
    only += " --reboot-if-needed" if reboot_if_needed else ""
    host_limit(f"host patch --hosts {hosts}{only}", len(actions), profile, force,
               what="patched")
    run_on_hosts(state, f"host patch --hosts {hosts}{only}", actions, inventory, forks)


@app.command("reboot")
def reboot(
    ctx: typer.Context, hosts: HostsOpt,
    if_needed: Annotated[bool, typer.Option(
        "--if-needed", help="Only hosts whose facts say a reboot is pending.")] = False,
    wait: Annotated[bool, typer.Option(
        "--wait/--no-wait", help="Wait until each host answers with a new boot id "
                                 "(default), or only ask for the restart.")] = True,
    timeout: Annotated[float, typer.Option(
        min=1, max=86400, help="Seconds a host may take to come back; then it "
                               "fails.")] = 600.0,
    force: ForceOpt = False,
    forks: ForksOpt = None,
) -> None:
    """Restart hosts and wait for each to come back with a new boot id.

    A host counts as rebooted only when it answers again with another boot id than
    before (Linux: /proc/sys/kernel/random/boot_id; Windows: the last boot time), so one
    that never went down fails, as does one not back within --timeout; each alone. The
    profile's bulk limit applies (--force beyond it).

    Examples:

      adminkit -p acme --check host reboot --hosts 'group:brno' --if-needed

      adminkit -p acme -t 4711 host reboot --hosts 'web1,web2' --timeout 300
    """
    from adminkit.cli.params import build
    from adminkit.deploy.actions.reboot import RebootHost, RebootParams

    state = state_of(ctx)
    profile, inventory, selection = selected(state, hosts)
    actions: list[Any] = [RebootHost(build(RebootParams, host=name, if_needed=if_needed,
                                           wait=wait, timeout=timeout))
                          for name in selection.names]
    flags = (" --if-needed" if if_needed else "") + ("" if wait else " --no-wait")
    host_limit(f"host reboot --hosts {hosts}", len(actions), profile, force, what="restarted")
    run_on_hosts(state, f"host reboot --hosts {hosts}{flags}", actions, inventory, forks)


@app.command("run", context_settings={"allow_interspersed_args": False})
def run(
    ctx: typer.Context,
    argv: Annotated[list[str], typer.Argument(help="The program and its arguments, after --.")],
    hosts: HostsOpt,
    sudo: Annotated[bool, typer.Option("--sudo", help="As root (sudo -n, or sudo -S with "
                                                      "the profile's secret).")] = False,
    timeout: Annotated[float | None, typer.Option(
        help="Seconds it may take on a host; then it is ended there.")] = None,
    forks: ForksOpt = None,
) -> None:
    """Run a program with arguments on each host: an argument list, never a shell line.

    Allowed only where the profile's inventory.run policy allows the program.

    Example: adminkit -p acme -t 4711 host run --hosts 'web*' -- systemctl is-active nginx
    """
    from adminkit.cli.params import build
    from adminkit.deploy.actions.run import RunCommand, RunParams

    state = state_of(ctx)
    _, inventory, selection = selected(state, hosts)
    actions: list[Any] = [RunCommand(build(RunParams, host=name, argv=argv, sudo=sudo,
                                           timeout=timeout)) for name in selection.names]
    # quoted as the plan says it: the journal's and the note's record of what ran ("a b"
    # one argument, not two; a line break in one not a line of its own)
    flags = (" --sudo" if sudo else "") + (f" --timeout {timeout:g}" if timeout else "")
    run_on_hosts(state, f"host run --hosts {shlex.quote(hosts)}{flags} -- {shlex.join(argv)}",
                 actions, inventory, forks)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    days, rest = divmod(int(seconds), 86400)
    return (f"{days}d " if days else "") + f"{rest // 3600}h {rest % 3600 // 60}m"


def _size(count: int | None) -> str:
    if count is None:
        return ""
    return f"{count / 2**30:.1f} GiB"
