"""`adminkit account`: user accounts in the profile's directory.

Every command that changes something is an action: `--check` shows the plan and
changes nothing, and a second run reports `ok`.
"""

from __future__ import annotations

import sys
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from adminkit.cli.state import GlobalState, state_of

if TYPE_CHECKING:
    from adminkit.core.action import Action
    from adminkit.core.config import Profile
    from adminkit.core.delivery import Delivery

app = typer.Typer(help="Create, block, unlock, delete accounts; passwords, groups, reports.",
                  no_args_is_help=True)
bulk_app = typer.Typer(help="The same operation for every login in a CSV file (column `login`).",
                       no_args_is_help=True)
app.add_typer(bulk_app, name="bulk")

Login = Annotated[str, typer.Argument(help="The account's login (sAMAccountName / uid).")]
DeliverOpt = Annotated[str, typer.Option(
    "--deliver", help="Where a generated password goes: terminal (shown once), "
                      "file:PATH (0600; a folder gets LOGIN.password), or mail.")]
PasswordStdin = Annotated[bool, typer.Option(
    "--password-stdin", help="Read the password from stdin (never give it as an argument).")]
MustChange = Annotated[bool, typer.Option(
    "--must-change/--no-must-change", help="The user must change it at next logon.")]
CsvFile = Annotated[Path, typer.Argument(help="CSV file (UTF-8; , or ; separated).",
                                         exists=False)]


def _run(ctx: typer.Context, command: str, actions: list[Action[Any]]) -> None:
    from adminkit.cli.session import execute, finish

    finish(execute(state_of(ctx), command, actions))


def _run_bulk(state: GlobalState, command: str, actions: list[Action[Any]],
              labels: list[str], profile: Profile, *, force: bool = False) -> None:
    """Every row checked and planned before any is written (the run service's pre-flight)."""
    from adminkit.accounts.settings import account_settings
    from adminkit.automation.request import Bulk
    from adminkit.cli.session import execute, finish

    bulk = Bulk(labels=labels, workers=account_settings(profile).workers, force=force)
    finish(execute(state, command, actions, bulk=bulk))


def _deliver(state: GlobalState, spec: str, profile: Profile, *,
             needed: bool) -> Delivery | None:
    """The delivery for generated passwords; refuse a terminal that is not there, early."""
    from adminkit.core.delivery import delivery
    from adminkit.core.errors import UsageError

    if not needed:
        return None
    if spec == "terminal" and not state.check and not sys.stderr.isatty():
        raise UsageError("no terminal to show the generated password on",
                         hint="use --deliver file:PATH (written 0600), --deliver mail, "
                              "or --password-stdin")
    if spec == "mail":
        from adminkit.core.mail import check_secret_route

        check_secret_route(profile.mail)
    return delivery(spec, profile)


def _stdin_password() -> Any:
    from adminkit.core.errors import UsageError
    from adminkit.core.secrets import Secret

    text = sys.stdin.readline().rstrip("\r\n")
    if not text:
        raise UsageError("--password-stdin: nothing on stdin")
    return Secret(text)


@app.command("create")
def create(
    ctx: typer.Context,
    given_name: Annotated[str, typer.Option("--given-name", help="Given name, as written.")],
    surname: Annotated[str, typer.Option("--surname", help="Surname, as written.")],
    login: Annotated[str | None, typer.Option(
        help="Login; default from the profile's naming rules (ASCII, unique).")] = None,
    mail: Annotated[str | None, typer.Option(help="E-mail address.")] = None,
    ou: Annotated[str | None, typer.Option(help="OU / container DN (default: the template's).")
                  ] = None,
    group: Annotated[list[str] | None, typer.Option(
        "--group", "-g", help="Group to join (repeat); default: the template's groups.")] = None,
    expires: Annotated[str | None, typer.Option(help="Last working day, YYYY-MM-DD.")] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Create it disabled.")] = False,
    must_change: Annotated[bool | None, typer.Option(
        "--must-change/--no-must-change", help="Must change the password at first logon "
                                               "(default: the template's).")] = None,
    password_stdin: PasswordStdin = False,
    deliver: DeliverOpt = "terminal",
) -> None:
    """Create an account from the profile's template; re-running it changes nothing.

    Examples:

      adminkit -p acme account create --given-name Jiří --surname Čermák -g Staff-All

      adminkit -p acme -t 4711 account create --given-name Jan --surname Novák --deliver mail
    """
    from adminkit.accounts.actions.create import CreateAccount, CreateParams
    from adminkit.cli.params import build
    from adminkit.cli.session import profile_of
    from adminkit.core.delivery import check_spec

    state = state_of(ctx)
    check_spec(deliver)
    password = _stdin_password() if password_stdin else None
    profile = profile_of(state)
    assert profile is not None
    params = build(CreateParams, given_name=given_name, surname=surname, login=login, mail=mail,
                   ou=ou, groups=group, expires=_date(expires), password=password,
                   must_change=must_change, enabled=not disabled)
    sink = _deliver(state, deliver, profile, needed=password is None)
    _run(ctx, f"account create {given_name} {surname}", [CreateAccount(params, deliver=sink)])


def _date(text: str | None) -> date | None:
    from adminkit.core.errors import UsageError

    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{text!r} is not a date", hint="write it as YYYY-MM-DD") from None


@app.command("show")
def show(ctx: typer.Context, login: Login) -> None:
    """Show an account: state, dates and groups."""
    from adminkit.accounts.logins import LoginOnly
    from adminkit.cli.output import emit_rows
    from adminkit.cli.params import build
    from adminkit.cli.session import bound_directory
    from adminkit.core.errors import ValidationError

    state = state_of(ctx)
    login = build(LoginOnly, login=login).login  # `jdoe@`: refused, not looked up
    with bound_directory(state) as (profile, directory):
        entry = directory.find_user(login)
        if entry is None:
            raise ValidationError(f"no account with the login {login!r}")
        groups = [g.name for g in directory.user_groups(entry)]
        protected = directory.protected_reason(entry, profile.policy)
        licences = {"licenses": directory.sku_names(entry)} \
            if hasattr(directory, "sku_names") else {}  # Entra ID: Microsoft 365 licences
    row = {**entry.row(), "groups": groups, **licences, "protected": protected}
    if state.output.value != "table":
        emit_rows(state, [row], list(row), json_data=row)
        return
    emit_rows(state, [{"field": k, "value": v if not isinstance(v, list) else ", ".join(v)}
                      for k, v in row.items()], ["field", "value"], title=entry.login)


class SearchIn(StrEnum):
    ANY = "any"
    LOGIN = "login"
    MAIL = "mail"
    NAME = "name"


USER_COLUMNS = ["login", "display_name", "mail", "enabled", "locked", "expires", "last_logon"]


@app.command("find")
def find(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="Login, e-mail or name to look for.")],
    field: Annotated[SearchIn, typer.Option("--in", help="Where to look.")] = SearchIn.ANY,
    wildcards: Annotated[bool, typer.Option(
        "--wildcards", help="Treat * in TEXT as a wildcard (otherwise it is a plain *).")
    ] = False,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 200,
) -> None:
    """Find accounts by login, e-mail or name.

    Example: adminkit -p acme account find 'nov*' --wildcards -o csv > found.csv
    """
    from adminkit.cli.output import emit_rows
    from adminkit.cli.session import bound_directory

    state = state_of(ctx)
    with bound_directory(state) as (_, directory):
        found = directory.search_users(text, field=field.value, wildcards=wildcards,
                                       limit=limit)
    emit_rows(state, [u.row() for u in found], USER_COLUMNS, title=f"accounts matching {text}")


def _simple(name: str, doc: str) -> None:
    def command(ctx: typer.Context, login: Login) -> None:
        from adminkit.accounts import actions
        from adminkit.accounts.actions.base import LoginParams
        from adminkit.cli.params import build

        cls = actions.ACTIONS[f"account.{name}"]
        _run(ctx, f"account {name} {login}", [cls(build(LoginParams, login=login))])

    command.__doc__ = doc
    app.command(name)(command)


_simple("disable", "Block an account: it can no longer log on. Nothing else changes.")
_simple("enable", "Allow an account to log on again.")
_simple("unlock", "Clear a lockout after failed logons; the password stays.")


@app.command("expire")
def expire(
    ctx: typer.Context, login: Login,
    on: Annotated[str | None, typer.Option(help="Last working day, YYYY-MM-DD.")] = None,
    never: Annotated[bool, typer.Option("--never", help="Never expires.")] = False,
) -> None:
    """Set the last day an account works, or --never."""
    from adminkit.accounts.actions.state import ExpireAccount, ExpireParams
    from adminkit.cli.params import build
    from adminkit.core.errors import UsageError

    if (on is None) == (not never):
        raise UsageError("give exactly one of --on DATE and --never")
    params = build(ExpireParams, login=login, on=_date(on))
    _run(ctx, f"account expire {login}", [ExpireAccount(params)])


@app.command("password")
def password(
    ctx: typer.Context, login: Login, password_stdin: PasswordStdin = False,
    must_change: MustChange = True, deliver: DeliverOpt = "terminal",
) -> None:
    """Reset a password: generated to fit the directory's policy, or read from stdin.

    The new password goes only where --deliver says; never into the journal or a note.

    Example: adminkit -p acme -t 4711 account password jnovak --deliver mail
    """
    from adminkit.accounts.actions.password import PasswordParams, ResetPassword
    from adminkit.cli.params import build
    from adminkit.cli.session import profile_of
    from adminkit.core.delivery import check_spec

    state = state_of(ctx)
    check_spec(deliver)
    secret = _stdin_password() if password_stdin else None
    profile = profile_of(state)
    assert profile is not None
    params = build(PasswordParams, login=login, password=secret, must_change=must_change)
    sink = _deliver(state, deliver, profile, needed=secret is None)
    _run(ctx, f"account password {login}", [ResetPassword(params, deliver=sink)])


@app.command("groups")
def groups(
    ctx: typer.Context, login: Login,
    add: Annotated[list[str] | None, typer.Option("--add", help="Join this group (repeat).")
                   ] = None,
    remove: Annotated[list[str] | None, typer.Option(
        "--remove", help="Leave this group (repeat).")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Exactly these groups (repeat): joins and leaves the difference.")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Leave every group.")] = False,
) -> None:
    """Change group membership; reports exactly what was added and removed.

    Example: adminkit -p acme account groups jnovak --add VPN-Users --remove Contractors
    """
    from adminkit.accounts.actions.groups import AccountGroups, GroupsParams
    from adminkit.cli.params import build

    exact = [] if clear else set_
    params = build(GroupsParams, login=login, add=add or [], remove=remove or [], set=exact)
    _run(ctx, f"account groups {login}", [AccountGroups(params)])


@app.command("licenses")
def licenses(
    ctx: typer.Context, login: Login,
    add: Annotated[list[str] | None, typer.Option(
        "--add", help="Assign this licence: SKU part number or id (repeat).")] = None,
    remove: Annotated[list[str] | None, typer.Option(
        "--remove", help="Take this licence away (repeat).")] = None,
) -> None:
    """Microsoft 365 licences of an Entra ID account (`account show` lists them).

    Example: adminkit -p contoso account licenses jnovak --add ENTERPRISEPACK --remove EMS
    """
    from adminkit.accounts.actions.licenses import AccountLicenses, LicensesParams
    from adminkit.cli.params import build

    params = build(LicensesParams, login=login, add=add or [], remove=remove or [])
    _run(ctx, f"account licenses {login}", [AccountLicenses(params)])


@app.command("restore")
def restore(ctx: typer.Context, login: Login) -> None:
    """Bring a deleted Entra ID account back from deleted items (kept 30 days).

    Example: adminkit -p contoso account restore jnovak
    """
    from adminkit.accounts.actions.base import LoginParams
    from adminkit.accounts.actions.restore import RestoreAccount
    from adminkit.cli.params import build

    _run(ctx, f"account restore {login}", [RestoreAccount(build(LoginParams, login=login))])


@app.command("move")
def move(ctx: typer.Context, login: Login,
         ou: Annotated[str, typer.Option(help="Target OU / container DN.")]) -> None:
    """Move an account to another OU."""
    from adminkit.accounts.actions.attributes import MoveAccount, MoveParams
    from adminkit.cli.params import build

    _run(ctx, f"account move {login}", [MoveAccount(build(MoveParams, login=login, ou=ou))])


@app.command("set")
def set_(ctx: typer.Context, login: Login,
         assignments: Annotated[list[str], typer.Argument(
             help="ATTR=VALUE (repeat an ATTR for several values; ATTR= removes it).")]) -> None:
    """Set attributes the profile allows (accounts.settable_attributes).

    Example: adminkit -p acme account set jnovak title=Accountant telephoneNumber=
    """
    from adminkit.accounts.actions.attributes import SetAttributes, SetParams
    from adminkit.cli.params import build
    from adminkit.core.errors import UsageError

    values: dict[str, list[str]] = {}
    for item in assignments:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"{item!r}: expected ATTR=VALUE")
        values.setdefault(name, [])
        if value:
            values[name].append(value)
    _run(ctx, f"account set {login}",
         [SetAttributes(build(SetParams, login=login, values=values))])


@app.command("delete")
def delete(ctx: typer.Context, login: Login,
           hard: Annotated[bool, typer.Option(
               "--hard", help="Remove the entry now instead of quarantining it.")] = False
           ) -> None:
    """Soft-delete: disable, leave every group, move to quarantine, stamp the date.

    The groups removed are kept in the journal. `--hard` deletes the entry at once.
    In Entra ID a soft delete goes to deleted items (`account restore` brings it back
    within 30 days); `--hard` purges it from there too.
    """
    from adminkit.accounts.actions.delete import DeleteAccount, DeleteParams
    from adminkit.cli.params import build

    _run(ctx, f"account delete {login}",
         [DeleteAccount(build(DeleteParams, login=login, hard=hard))])


@app.command("purge-quarantine")
def purge_quarantine(
    ctx: typer.Context,
    older_than: Annotated[str, typer.Option(help="Age in quarantine, e.g. 30d.")] = "30d",
    force: Annotated[bool, typer.Option(help="Allow more than the profile's bulk limit.")
                     ] = False,
) -> None:
    """Delete for good the accounts quarantined longer than --older-than (for a schedule)."""
    from adminkit.accounts.actions.delete import PurgeParams, PurgeQuarantine
    from adminkit.cli.params import build
    from adminkit.core.errors import UsageError

    if not (older_than.endswith("d") and older_than[:-1].isdigit()):
        raise UsageError(f"--older-than {older_than!r}: give days, like 30d")
    params = build(PurgeParams, older_than_days=int(older_than[:-1]), force=force)
    _run(ctx, f"account purge-quarantine --older-than {older_than}", [PurgeQuarantine(params)])


class Report(StrEnum):
    INACTIVE = "inactive"
    LOCKED = "locked"
    DISABLED = "disabled"
    PASSWORD_EXPIRING = "password-expiring"  # noqa: S105 - a report name
    NEVER_LOGGED_IN = "never-logged-in"
    LICENSED = "licensed"  # Entra ID


@app.command("report")
def report(
    ctx: typer.Context, kind: Annotated[Report, typer.Argument(help="Which report.")],
    days: Annotated[int, typer.Option(help="inactive: idle days; password-expiring: within.")
                    ] = 90,
) -> None:
    """Accounts that need attention, as a table, CSV or JSON.

    Examples:

      adminkit -p acme account report inactive --days 90 -o csv > inactive.csv

      adminkit -p acme account report password-expiring --days 14
    """
    from adminkit.cli.output import emit_rows
    from adminkit.cli.session import bound_directory

    state = state_of(ctx)
    with bound_directory(state) as (_, directory):
        found = directory.report(kind.value, days=days)
    emit_rows(state, [u.row() for u in found], USER_COLUMNS,
              title=f"{kind.value} ({len(found)})")


# -- bulk ----------------------------------------------------------------------------------
IMPORT_COLUMNS = ["given_name", "surname"]
IMPORT_OPTIONAL = ["login", "mail", "display_name", "ou", "groups", "expires", "password"]


@app.command("import")
def import_(ctx: typer.Context, file: CsvFile, deliver: DeliverOpt = "terminal",
            update_password: Annotated[bool, typer.Option(
                "--update-password", help="Also reset the password of accounts that exist.")
            ] = False) -> None:
    """Create (or update) an account per CSV row, validated as a whole before any change.

    Columns: given_name, surname; optional login, mail, display_name, ou, groups
    (separated by ;  or |), expires (YYYY-MM-DD). Existing accounts of the same person
    get the groups they lack. Rows run on a pool of connections; a failed row does not
    stop the others.

    Example: adminkit -p acme account import new-hires.csv --deliver file:/root/pw/
    """
    from adminkit.accounts.actions.create import CreateAccount, CreateParams
    from adminkit.cli.session import profile_of
    from adminkit.core.csvfile import parse_rows, read_rows

    state = state_of(ctx)
    profile = profile_of(state)
    assert profile is not None

    def convert(values: dict[str, str]) -> dict[str, Any]:
        out: dict[str, Any] = {k: v for k, v in values.items() if v}
        if update_password:
            out["update_password"] = "always"  # noqa: S105
        return out

    def actions_of() -> tuple[list[Action[Any]], list[str]]:
        """The rows as actions and labels; the file's rows are not kept for the run."""
        rows = read_rows(file, required=IMPORT_COLUMNS,
                         optional=[c for c in IMPORT_OPTIONAL if c != "password"])
        parsed = parse_rows(file, rows, CreateParams, convert)
        sink = _deliver(state, deliver, profile, needed=True)
        return ([CreateAccount(p, deliver=sink) for _, p in parsed],
                [f"{file}:{row.line}" for row, _ in parsed])

    actions, labels = actions_of()
    _run_bulk(state, f"account import {file.name}", actions, labels, profile)


def _bulk(name: str) -> None:
    def command(
        ctx: typer.Context, file: CsvFile,
        force: Annotated[bool, typer.Option(help="Allow more than the profile's bulk limit.")
                         ] = False,
        hard: Annotated[bool, typer.Option("--hard", help="delete: remove at once.")] = False,
        deliver: DeliverOpt = "terminal",
        must_change: MustChange = True,
    ) -> None:
        from adminkit.accounts import actions as registry
        from adminkit.accounts.actions.base import LoginParams
        from adminkit.accounts.actions.delete import DeleteParams
        from adminkit.accounts.actions.password import PasswordParams, ResetPassword
        from adminkit.cli.session import profile_of
        from adminkit.core.csvfile import parse_rows, read_rows

        state = state_of(ctx)
        profile = profile_of(state)
        assert profile is not None
        rows = read_rows(file, required=["login"], optional=["comment"])
        acts: list[Action[Any]]
        if name == "password":
            parsed_pw = parse_rows(file, rows, PasswordParams,
                                   lambda v: {"login": v["login"], "must_change": must_change})
            sink = _deliver(state, deliver, profile, needed=True)
            acts = [ResetPassword(p, deliver=sink) for _, p in parsed_pw]
            lines = [row.line for row, _ in parsed_pw]
        elif name == "delete":
            parsed_del = parse_rows(file, rows, DeleteParams,
                                    lambda v: {"login": v["login"], "hard": hard})
            acts = [registry.DeleteAccount(p) for _, p in parsed_del]
            lines = [row.line for row, _ in parsed_del]
        else:
            parsed = parse_rows(file, rows, LoginParams, lambda v: {"login": v["login"]})
            cls = registry.ACTIONS[f"account.{name}"]
            acts = [cls(p) for _, p in parsed]
            lines = [row.line for row, _ in parsed]
        _run_bulk(state, f"account bulk {name} {file.name}", acts,
                  [f"{file}:{n}" for n in lines], profile, force=force)

    command.__doc__ = (f"{name.capitalize()} every account listed in a CSV (column `login`).\n\n"
                       "The whole file is checked first (unknown logins, protected accounts);"
                       " nothing changes unless every row can be done.")
    bulk_app.command(name)(command)


_bulk("disable")
_bulk("enable")
_bulk("delete")
_bulk("password")
