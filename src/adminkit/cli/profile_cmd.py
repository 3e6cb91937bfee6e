"""`adminkit profile`: list, show and check customer profiles."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from adminkit.cli import complete
from adminkit.cli.state import OutputFormat, state_of

if TYPE_CHECKING:
    from adminkit.core.config import Profile
    from adminkit.core.health import Check

app = typer.Typer(help="List, show and check customer profiles.", no_args_is_help=True)
Name = Annotated[str, typer.Argument(help="Profile name (the file's name without .yaml).",
                                     autocompletion=complete.profiles)]


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


Ref = "a secret reference: env:NAME, file:/path or keyring:service/user"


@app.command("new")
def new(
    ctx: typer.Context,
    name: Name,
    description: Annotated[str | None, typer.Option(help="The customer, in words.")] = None,
    directory_kind: Annotated[str | None, typer.Option(
        help="ad, openldap or none.")] = None,
    directory_url: Annotated[str | None, typer.Option(
        help="The directory's host name or ldaps:// URL.")] = None,
    base_dn: Annotated[str | None, typer.Option(help="Where accounts are searched.")] = None,
    bind_user: Annotated[str | None, typer.Option(
        help="The service account (UPN, DOMAIN\\user or DN).")] = None,
    bind_password: Annotated[str | None, typer.Option(help=f"Its password, as {Ref}.")] = None,
    ca_file: Annotated[str | None, typer.Option(
        help="The CA certificate (PEM) that signed the directory's certificate.")] = None,
    users_ou: Annotated[str | None, typer.Option(help="OU for new accounts.")] = None,
    quarantine_ou: Annotated[str | None, typer.Option(
        help="OU `account delete` moves accounts to.")] = None,
    upn_suffix: Annotated[str | None, typer.Option(help="AD: UPN suffix of new accounts.")
                          ] = None,
    tickets_kind: Annotated[str | None, typer.Option(
        help="rt, jira, servicenow, zammad, glpi, redmine, local or none.")] = None,
    tickets_url: Annotated[str | None, typer.Option(help="The ticket system's API URL.")
                           ] = None,
    tickets_token: Annotated[str | None, typer.Option(help=f"Its API token, as {Ref}.")
                             ] = None,
    tickets_user: Annotated[str | None, typer.Option(
        help="Its user, where it takes a password instead of a token.")] = None,
    tickets_password: Annotated[str | None, typer.Option(
        help=f"That user's password, as {Ref}.")] = None,
    queue: Annotated[str | None, typer.Option(help="RT queue, Jira project, ...")] = None,
    mail_host: Annotated[str | None, typer.Option(help="The mail relay, for --deliver mail.")
                         ] = None,
    mail_port: Annotated[int | None, typer.Option(help="Its port (25).")] = None,
    mail_sender: Annotated[str | None, typer.Option(help="adminkit's sender address.")] = None,
    password_recipient: Annotated[str | None, typer.Option(
        help="Where `--deliver mail` sends new passwords.")] = None,
    store: Annotated[str | None, typer.Option(
        help="Where a secret typed in is kept: keyring (the default where there is one), "
             "file (0600, in the config folder) or env (only its name is written).")] = None,
    no_input: Annotated[bool, typer.Option(
        "--no-input", help="Ask nothing: every answer from the flags (for scripts).")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing profile.")
                     ] = False,
    no_check: Annotated[bool, typer.Option(
        "--no-check", help="Do not run `profile check` on it once written.")] = False,
) -> None:
    """Make a profile: asks for the directory, ticket system and mail relay.

    Secrets typed in go to the keyring (or a 0600 file); the profile holds references.
    The YAML is written with comments, then checked like `profile check` (its exit codes).

    \b
    Examples:
      adminkit profile new acme
      adminkit profile new acme --no-input --directory-kind ad \\
        --directory-url dc1.acme.example --bind-user svc-adminkit@acme.example \\
        --bind-password env:ACME_BIND_PW --tickets-kind rt \\
        --tickets-url https://rt.acme.example/REST/2.0 --tickets-token env:ACME_RT_TOKEN
    """
    from adminkit.cli import profile_new as pn
    from adminkit.core.config import PROFILE_NAME, profile_model, profile_path, profiles_dir
    from adminkit.core.errors import ConfigError, UsageError

    state = state_of(ctx)
    if not PROFILE_NAME.match(name):
        raise UsageError(f"{name!r} is not a profile name",
                         hint="profile names are lower-case letters, digits, - and _")
    path = profile_path(name, state.config_dir)
    pn.refuse_open_folders(path.parent)
    if path.exists() and not force:
        raise UsageError(f"the profile {name!r} exists ({path})", hint="--force replaces it")
    given = pn.Given(description, directory_kind, directory_url, base_dn, bind_user,
                     bind_password, ca_file, users_ou, quarantine_ou, upn_suffix, tickets_kind,
                     tickets_url, tickets_token, tickets_user, tickets_password, queue,
                     mail_host, mail_port, mail_sender, password_recipient, store)
    ask = pn.Asker(no_input=no_input, prompt=typer.prompt, echo=typer.echo)
    sections = pn.gather(name, given, ask, profiles_dir(state.config_dir).parent)
    try:  # the same validation as loading it: nothing invalid is written
        profile_model().model_validate({"name": name, **pn.data_of(sections)})
    except ValueError as exc:
        raise ConfigError(f"profile {name}: {exc}") from None
    for keep in ask.keep:  # the secrets typed in, now that the profile is sound
        keep()
    pn.write_private(path, pn.render(name, sections))
    typer.echo(f"wrote {path}", err=True)
    for note in ask.notes:
        typer.echo(f"to do: {note}", err=True)
    if not no_check:
        check(ctx, name)
