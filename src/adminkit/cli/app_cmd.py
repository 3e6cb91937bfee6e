"""`adminkit app`: install, upgrade and remove applications on hosts; what is where.

install / upgrade / remove are actions, one per host: planned from the versions the host
reports (`--check` shows what each host would do), journaled, noted on the ticket.
list / outdated only read.
"""

from __future__ import annotations

import fnmatch
from typing import Annotated, Any

import typer

from adminkit.cli.hostsel import ForceOpt, ForksOpt, HostsOpt, host_limit, run_on_hosts, selected
from adminkit.cli.state import state_of

app = typer.Typer(help="Install, upgrade, remove applications on hosts; versions per host.",
                  no_args_is_help=True)

Packages = Annotated[list[str], typer.Argument(help="NAME or NAME=VERSION (repeat).")]
RebootIfNeeded = Annotated[bool, typer.Option(
    "--reboot-if-needed", help="Restart a host the change leaves wanting a reboot (a 3010 "
                               "from an MSI, Debian's reboot-required), and wait for it. A "
                               "host this run changes nothing on is not restarted for a "
                               "reboot pending from before (it says so).")]


def _package_run(ctx: typer.Context, verb: str, packages: list[str], hosts: str,
                 forks: int | None, force: bool, **extra: Any) -> None:
    """One `app.VERB` action per selected host; every name and version is checked before
    any host is contacted (exit 2); a removal, or a change that may restart hosts, is
    held to the profile's bulk limit."""
    from adminkit.cli.params import build
    from adminkit.deploy.actions import ACTIONS
    from adminkit.deploy.backend import parse_spec

    for text in packages:
        parse_spec(text)
    cls = ACTIONS[f"app.{verb}"]
    state = state_of(ctx)
    profile, inventory, selection = selected(state, hosts)
    actions: list[Any] = [cls(build(cls.params_model, host=h, packages=packages, **extra))
                          for h in selection.names]
    flags = " --reboot-if-needed" if extra.get("reboot_if_needed") else ""
    if cls.destructive or extra.get("reboot_if_needed"):
        host_limit(f"app {verb} --hosts {hosts}{flags}", len(actions), profile, force,
                   what="removed from" if verb == "remove" else "changed and maybe restarted")
    run_on_hosts(state, f"app {verb} {' '.join(packages)} --hosts {hosts}{flags}", actions,
                 inventory, forks)


@app.command("install")
def install(ctx: typer.Context, packages: Packages, hosts: HostsOpt,
            reboot_if_needed: RebootIfNeeded = False, force: ForceOpt = False,
            forks: ForksOpt = None) -> None:
    """Install packages; an installed one is left alone unless a VERSION is asked for.

    Examples:

      adminkit -p acme --check app install firefox-esr --hosts 'group:brno'

      adminkit -p acme -t 4711 app install adminkit-demo-app=1.0 --hosts 'web*,!web3'

      adminkit -p acme -t 4711 app install Contoso.Driver --hosts win1 --reboot-if-needed
    """
    _package_run(ctx, "install", packages, hosts, forks, force,
                 reboot_if_needed=reboot_if_needed)


@app.command("upgrade")
def upgrade(ctx: typer.Context, packages: Packages, hosts: HostsOpt,
            reboot_if_needed: RebootIfNeeded = False, force: ForceOpt = False,
            forks: ForksOpt = None) -> None:
    """Upgrade packages where installed: to VERSION, or to the newest offered.

    Example: adminkit -p acme -t 4711 app upgrade adminkit-demo-app --hosts all
    """
    _package_run(ctx, "upgrade", packages, hosts, forks, force,
                 reboot_if_needed=reboot_if_needed)


@app.command("remove")
def remove(ctx: typer.Context,
           packages: Annotated[list[str], typer.Argument(help="NAME (repeat).")],
           hosts: HostsOpt,
           purge: Annotated[bool, typer.Option("--purge", help="Also its configuration "
                                                              "files.")] = False,
           force: ForceOpt = False, forks: ForksOpt = None) -> None:
    """Remove packages where installed.

    Example: adminkit -p acme -t 4711 app remove adminkit-demo-app --purge --hosts h2
    """
    _package_run(ctx, "remove", packages, hosts, forks, force, purge=purge)


@app.command("list")
def list_(ctx: typer.Context, hosts: HostsOpt,
          name: Annotated[str | None, typer.Option(
              "--name", help="Only packages matching this glob (e.g. 'firefox*').")] = None,
          forks: ForksOpt = None) -> None:
    """Which host has which version installed: a row per host and package.

    Example: adminkit -p acme app list --hosts all --name 'openssl*' -o csv
    """
    from adminkit.cli.output import emit_rows
    from adminkit.deploy.fleet import exit_code, for_each

    state = state_of(ctx)
    profile, _, selection = selected(state, hosts)
    rows = for_each(profile, selection, lambda b: b.installed(), forks=forks)
    out: list[dict[str, Any]] = []
    for row in rows:
        if not row.ok or row.value is None:
            out.append({"host": row.host, "package": "", "version": "", "error": row.error})
            continue
        for package, version in sorted(row.value.items()):
            if name is None or fnmatch.fnmatchcase(package, name):
                out.append({"host": row.host, "package": package, "version": version,
                            "error": ""})
    emit_rows(state, out, ["host", "package", "version", "error"],
              title=f"installed{' ' + name if name else ''}: {hosts}")
    raise typer.Exit(exit_code(rows))


@app.command("outdated")
def outdated(ctx: typer.Context, hosts: HostsOpt, forks: ForksOpt = None) -> None:
    """Pending updates per host (the package index is refreshed first).

    Example: adminkit -p acme app outdated --hosts 'group:brno' -o json
    """
    from adminkit.cli.output import emit_rows
    from adminkit.deploy.fleet import exit_code, for_each

    state = state_of(ctx)
    profile, _, selection = selected(state, hosts)
    rows = for_each(profile, selection, lambda b: b.outdated(), forks=forks)
    out: list[dict[str, Any]] = []
    for row in rows:
        if not row.ok or row.value is None:
            out.append({"host": row.host, "error": row.error})
            continue
        for package, update in sorted(row.value.items()):
            out.append({"host": row.host, "package": package, "installed": update.installed,
                        "newest": update.newest, "origin": update.origin,
                        "security": update.security, "error": ""})
    emit_rows(state, out, ["host", "package", "installed", "newest", "security", "error"],
              title=f"outdated: {hosts}")
    raise typer.Exit(exit_code(rows))
