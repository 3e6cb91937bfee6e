"""`adminkit profile`: list, show and check customer profiles."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from adminkit.cli.state import OutputFormat, state_of

if TYPE_CHECKING:
    from adminkit.core.config import Profile
    from adminkit.core.health import Check

app = typer.Typer(help="List, show and check customer profiles.", no_args_is_help=True)
Name = Annotated[str, typer.Argument(help="Profile name (the file's name without .yaml).")]


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """List the profiles in the config folder."""
    from adminkit.cli.output import emit_rows
    from adminkit.core.config import list_profiles, profile_path

    state = state_of(ctx)
    rows = [{"name": n, "file": str(profile_path(n, state.config_dir))}
            for n in list_profiles(state.config_dir)]
    emit_rows(state, rows, ["name", "file"], title="profiles")


@app.command("show")
def show(ctx: typer.Context, name: Name) -> None:
    """Show a profile as adminkit understands it (secret references, never values)."""
    from adminkit.cli.output import write_json
    from adminkit.core.config import load_profile

    state = state_of(ctx)
    profile = load_profile(name, state.config_dir)
    data = profile.model_dump(mode="json", exclude_none=True)
    if state.output is OutputFormat.TABLE:
        import yaml

        typer.echo(f"# {profile.file}")
        typer.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip())
    else:
        write_json(data)


@app.command("check")
def check(ctx: typer.Context, name: Name) -> None:
    """Validate the file, then connect to every system it names and report each.

    Exit 2 if the file is invalid or a setting cannot be used (a secret reference that
    does not resolve, a credential that would travel in clear), else 3 if any system
    could not be reached or refused the credentials.
    """
    from adminkit.cli.output import emit_rows
    from adminkit.core.config import load_profile
    from adminkit.core.health import exit_code

    state = state_of(ctx)
    profile = load_profile(name, state.config_dir)  # raises ConfigError (exit 2)
    results = run_checks(profile)
    rows = [{"system": c.system, "target": c.target, "status": "ok" if c.ok else "failed",
             "detail": c.detail, "seconds": c.seconds} for c in results]
    emit_rows(state, rows, ["system", "target", "status", "detail", "seconds"],
              title=f"profile {name}: {profile.file}")
    if not all(c.ok for c in results):
        raise typer.Exit(exit_code(results))


def run_checks(profile: Profile) -> list[Check]:
    """Every system of the profile, checked side by side on a small thread pool.

    Each domain says what to try for its own sections (`core.domains.probes`); the
    mail relay is core's own."""
    from concurrent.futures import ThreadPoolExecutor

    from adminkit.core import domains
    from adminkit.core.health import Probe, run_check

    probes = domains.probes(profile)
    if profile.mail:
        from adminkit.core import mail

        probes.append(Probe("mail", f"{profile.mail.host}:{profile.mail.port}",
                            lambda: mail.check(profile)))
    if not probes:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(probes))) as pool:
        futures = [pool.submit(run_check, p.system, p.target, p.call) for p in probes]
        return [f.result() for f in futures]
