"""`adminkit account`: user accounts in the profile's directory."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from adminkit.cli.state import state_of

app = typer.Typer(help="Create and manage user accounts in the profile's directory.",
                  no_args_is_help=True)


@app.command("create")
def create(
    ctx: typer.Context,
    given_name: Annotated[str, typer.Option("--given-name", help="Given name, as written.")],
    surname: Annotated[str, typer.Option("--surname", help="Surname, as written.")],
    login: Annotated[str | None, typer.Option(
        help="Login; default: first letter of the given name + surname, ASCII, unique.")] = None,
    mail: Annotated[str | None, typer.Option(help="E-mail address.")] = None,
    ou: Annotated[str | None, typer.Option(help="OU / container DN (default: the profile's).")
                  ] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Create it disabled.")] = False,
    must_change: Annotated[bool, typer.Option(
        "--must-change/--no-must-change", help="Password must be changed at first logon.")
    ] = True,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from stdin instead of generating one.")
    ] = False,
    deliver: Annotated[str, typer.Option(
        help="Where a generated password goes: terminal (shown once), file:PATH (0600), "
             "or mail (the profile's password_recipient).")
    ] = "terminal",
) -> None:
    """Create an account; re-running it for the same person changes nothing.

    Examples:

      adminkit -p lab account create --given-name Jiří --surname Čermák

      adminkit -p lab account create --given-name Jan --surname Novák --deliver file:/root/pw

      printf '%s' "$PW" | adminkit -p lab account create ... --password-stdin
    """
    from adminkit.accounts.actions import CreateAccount, CreateParams
    from adminkit.accounts.passwords import delivery
    from adminkit.cli.params import build
    from adminkit.cli.session import execute, finish, profile_of
    from adminkit.core.errors import UsageError
    from adminkit.core.secrets import Secret

    state = state_of(ctx)
    password = None
    if password_stdin:
        text = sys.stdin.readline().rstrip("\r\n")
        if not text:
            raise UsageError("--password-stdin: nothing on stdin")
        password = Secret(text)
    sink = delivery(deliver) if deliver != "mail" else None  # bad spelling: fail first
    profile = profile_of(state)
    sink = sink or delivery(deliver, profile)
    if deliver == "terminal" and password is None and not state.check and not sys.stderr.isatty():
        raise UsageError("no terminal to show the generated password on",
                         hint="use --deliver file:PATH (written 0600), or --password-stdin")
    params = build(CreateParams, given_name=given_name, surname=surname, login=login, mail=mail,
                   ou=ou, password=password, must_change=must_change, enabled=not disabled)
    report = execute(state, f"account create {given_name} {surname}",
                     [CreateAccount(params, deliver=sink)], profile=profile)
    finish(report)
