"""`adminkit printer|job|queue|spooler`: print queues and jobs on the profile's print servers.

Every command that changes something is an action (`--check` shows the plan, a journal
row and a ticket note per action); listings read the servers directly. `--server`
picks a print server of the profile; without it the first one is meant, and the
listings ask every server side by side.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from adminkit.cli.state import GlobalState, state_of

if TYPE_CHECKING:
    from adminkit.core.action import Action
    from adminkit.core.config import Profile
    from adminkit.printing.server import PrintServer

printer_app = typer.Typer(help="Print queues: list, show, pause, resume, add, remove, defaults, "
                               "test page.", no_args_is_help=True)
job_app = typer.Typer(help="Print jobs: list, cancel, hold, release, restart, move.",
                      no_args_is_help=True)
queue_app = typer.Typer(help="Clear a print queue in one request.", no_args_is_help=True)
spooler_app = typer.Typer(help="Restart a Windows print server's spooler.",
                          no_args_is_help=True)

Server = Annotated[str | None, typer.Option(
    "--server", "-s", help="A print server of the profile (default: the first listed).")]
PrinterArg = Annotated[str, typer.Argument(help="The queue's name on the print server.")]
Reason = Annotated[str | None, typer.Option(help="Why, as users will see it.")]
JobIds = Annotated[list[int], typer.Argument(help="Job ids (numbers), one or more.")]
Force = Annotated[bool, typer.Option(help="Allow more than the profile's bulk limit.")]

PRINTER_COLUMNS = ["server", "name", "state", "accepting", "reason", "jobs", "location",
                   "model", "device_uri", "default"]
JOB_COLUMNS = ["server", "id", "printer", "owner", "name", "size_kb", "state", "age"]


def _run(ctx: typer.Context, command: str, actions: list[Action[Any]]) -> None:
    from adminkit.cli.session import execute, finish

    finish(execute(state_of(ctx), command, actions))


def _profile(state: GlobalState, *, lazy: bool = False) -> Profile:
    """The profile; `lazy` for listings, which read `print_servers` only (a run still
    validates every section, as every run does)."""
    from adminkit.cli.session import profile_of

    profile = profile_of(state, lazy=lazy)
    assert profile is not None
    return profile


def _each_server(state: GlobalState, server: str | None, read: Any) -> tuple[list[Any], int]:
    """`read(PrintServer)` on the named server, or on every print server side by side
    (a thread each: libcups state is per thread, and each sets its own). Rows of the
    servers that answered are shown; one that did not is named, and the exit code is
    its error's."""
    from adminkit.core.errors import AdminkitError
    from adminkit.printing.servers import opened, server_config
    from adminkit.printing.settings import print_servers

    profile = _profile(state, lazy=True)
    names = [server_config(profile, server).name] if server else \
        [s.name for s in print_servers(profile)] or [server_config(profile, None).name]

    def one(name: str) -> list[Any] | AdminkitError:
        try:
            with opened(profile, name) as found:
                return list(read(found))
        except AdminkitError as exc:
            return exc

    if len(names) == 1:
        answers = [one(names[0])]
    else:
        with ThreadPoolExecutor(max_workers=min(len(names), 32)) as pool:
            answers = list(pool.map(one, names))
    failed = [a for a in answers if isinstance(a, AdminkitError)]
    if failed and len(failed) == len(answers):
        raise failed[0]
    if failed:
        import sys

        from adminkit.cli.output import visible
        from adminkit.core.secrets import redact

        for exc in failed:
            sys.stderr.write(f"error: {visible(redact(str(exc)))}\n")
    rows = [row for a in answers if not isinstance(a, AdminkitError) for row in a]
    return rows, int(failed[0].exit_code) if failed else 0


def _exit(code: int) -> None:
    if code:
        raise typer.Exit(code)


# -- printer ---------------------------------------------------------------------------
@printer_app.command("list")
def printer_list(ctx: typer.Context, server: Server = None) -> None:
    """Queues with their state, whether they accept jobs and why not, and job counts.

    Examples:

      adminkit -p acme printer list

      adminkit -p acme printer list --server print2 -o csv
    """
    from adminkit.cli.output import emit_rows

    state = state_of(ctx)
    rows, code = _each_server(state, server, lambda s: [p.row() for p in s.printers()])
    emit_rows(state, rows, PRINTER_COLUMNS, title=f"printers ({len(rows)})")
    _exit(code)


@printer_app.command("show")
def printer_show(ctx: typer.Context, printer: PrinterArg, server: Server = None) -> None:
    """One queue: state, reason, jobs, location, driver, device URI (credentials
    masked) and default options."""
    from adminkit.cli.output import emit_rows
    from adminkit.cli.params import build
    from adminkit.core.errors import ValidationError
    from adminkit.printing.actions.base import PrinterParams
    from adminkit.printing.servers import opened

    state = state_of(ctx)
    params = build(PrinterParams, printer=printer, server=server)
    with opened(_profile(state, lazy=True), params.server) as found:
        info = found.printer(params.printer)
        if info is None:
            raise ValidationError(f"print server {found.name} has no printer {printer!r}",
                                  hint="`adminkit printer list` shows them")
    row = info.row()
    if state.output.value != "table":
        emit_rows(state, [row], list(row), json_data=row)
        return
    options = row.pop("options")
    lines = [{"field": k, "value": v} for k, v in row.items()]
    lines += [{"field": f"option {k}", "value": v} for k, v in sorted(options.items())]
    emit_rows(state, lines, ["field", "value"], title=info.name)


def _reason_command(name: str, doc: str) -> None:
    def command(ctx: typer.Context, printer: PrinterArg, server: Server = None,
                reason: Reason = None) -> None:
        from adminkit.cli.params import build
        from adminkit.printing.actions import registry as actions
        from adminkit.printing.actions.printers import ReasonParams

        cls = actions.ACTIONS[f"printer.{name}"]
        params = build(ReasonParams, printer=printer, server=server, reason=reason)
        _run(ctx, f"printer {name} {printer}", [cls(params)])

    command.__doc__ = doc
    printer_app.command(name)(command)


_reason_command("pause", "Stop printing; jobs wait in the queue.\n\n"
                         "Example: adminkit -p acme -t 4711 printer pause front-desk "
                         "--reason 'paper jam'")
_reason_command("resume", "Start printing again.")
_reason_command("reject", "Refuse new jobs (queued ones still print).\n\n"
                          "Example: adminkit -p acme printer reject old-lobby "
                          "--reason 'use lobby-2'")
_reason_command("accept", "Accept new jobs again.")


@printer_app.command("add")
def printer_add(
    ctx: typer.Context, printer: PrinterArg, server: Server = None,
    uri: Annotated[str | None, typer.Option(
        help="Device URI without credentials (ipp://host/ipp/print, socket://host:9100).")
    ] = None,
    uri_secret: Annotated[str | None, typer.Option(
        help="A device URI with credentials, as a secret reference: env:NAME, file:PATH, "
             "keyring:SERVICE/USER or prompt (masked in every output).")] = None,
    driver: Annotated[str, typer.Option(
        help="everywhere (IPP Everywhere) or a model from `lpinfo -m`.")] = "everywhere",
    location: Annotated[str | None, typer.Option(help="Where it stands.")] = None,
    shared: Annotated[bool, typer.Option("--shared/--no-shared",
                                         help="Share the queue.")] = False,
) -> None:
    """Add a queue, or bring an existing one in line with the URI, location and sharing.

    Examples:

      adminkit -p acme -t 4711 printer add floor3 --uri ipp://10.1.3.20/ipp/print

      SMB_URI='smb://svc:...@fs1/f3' adminkit -p acme printer add floor3 --uri-secret env:SMB_URI
    """
    from adminkit.cli.params import build
    from adminkit.core.secrets import resolve
    from adminkit.printing.actions.lifecycle import AddParams, AddPrinter

    secret = resolve(uri_secret, label="--uri-secret") if uri_secret else None
    params = build(AddParams, printer=printer, server=server, uri=uri, uri_secret=secret,
                   driver=driver, location=location, shared=shared)
    _run(ctx, f"printer add {printer}", [AddPrinter(params)])


@printer_app.command("remove")
def printer_remove(ctx: typer.Context, printer: PrinterArg, server: Server = None) -> None:
    """Delete a queue (and the jobs still in it)."""
    from adminkit.cli.params import build
    from adminkit.printing.actions.base import PrinterParams
    from adminkit.printing.actions.lifecycle import RemovePrinter

    params = build(PrinterParams, printer=printer, server=server)
    _run(ctx, f"printer remove {printer}", [RemovePrinter(params)])


@printer_app.command("set")
def printer_set(
    ctx: typer.Context, printer: PrinterArg,
    assignments: Annotated[list[str], typer.Argument(
        help="OPTION=VALUE: duplex=on|off, colour=on|off, media=iso_a4_210x297mm, "
             "number-up=2, or any IPP job template option.")],
    server: Server = None,
) -> None:
    """Set a queue's default options; read back to show what the server kept.

    Example: adminkit -p acme printer set front-desk duplex=on number-up=2
    """
    from adminkit.cli.params import build
    from adminkit.core.errors import UsageError
    from adminkit.printing.actions.lifecycle import OptionsParams, SetPrinterOptions

    options: dict[str, str] = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise UsageError(f"{item!r}: expected OPTION=VALUE")
        options[key] = value
    params = build(OptionsParams, printer=printer, server=server, options=options)
    _run(ctx, f"printer set {printer}", [SetPrinterOptions(params)])


@printer_app.command("default")
def printer_default(ctx: typer.Context, printer: PrinterArg, server: Server = None) -> None:
    """Make a queue the server's default."""
    from adminkit.cli.params import build
    from adminkit.printing.actions.base import PrinterParams
    from adminkit.printing.actions.lifecycle import DefaultPrinter

    params = build(PrinterParams, printer=printer, server=server)
    _run(ctx, f"printer default {printer}", [DefaultPrinter(params)])


@printer_app.command("test-page")
def printer_test_page(ctx: typer.Context, printer: PrinterArg, server: Server = None) -> None:
    """Print a short test page; the report gives its job id."""
    from adminkit.cli.params import build
    from adminkit.printing.actions.base import PrinterParams
    from adminkit.printing.actions.printers import TestPage

    params = build(PrinterParams, printer=printer, server=server)
    _run(ctx, f"printer test-page {printer}", [TestPage(params)])


# -- job -------------------------------------------------------------------------------
class JobState(StrEnum):
    ACTIVE = "active"
    PENDING = "pending"
    HELD = "held"
    PROCESSING = "processing"
    STOPPED = "stopped"
    COMPLETED = "completed"
    CANCELED = "canceled"
    ABORTED = "aborted"
    ALL = "all"


@job_app.command("list")
def job_list(
    ctx: typer.Context, server: Server = None,
    printer: Annotated[str | None, typer.Option(help="Only this queue.")] = None,
    user: Annotated[str | None, typer.Option(help="Only this user's jobs.")] = None,
    state_: Annotated[list[JobState] | None, typer.Option(
        "--state", help="Only jobs in this state (repeat); default: active.")] = None,
    older_than: Annotated[str | None, typer.Option(help="Only jobs older than, e.g. 2h.")
                          ] = None,
) -> None:
    """Jobs with id, owner, name, size, state and age.

    Examples:

      adminkit -p acme job list --printer front-desk --older-than 2h

      adminkit -p acme job list --user jnovak --state held -o json
    """
    from adminkit.cli.listing import emit_listing
    from adminkit.printing.server import ACTIVE

    state = state_of(ctx)
    age = _age(older_than)
    if printer is not None:  # checked like an action's parameters: exit 2, no server asked
        _checked("--printer", printer)
    if user is not None:
        _checked("--user", user)
    wanted = {s.value for s in state_ or [JobState.ACTIVE]}
    if "active" in wanted:
        wanted |= ACTIVE
    finished = bool(wanted - ACTIVE - {"active"})

    def read(found: PrintServer) -> list[dict[str, Any]]:
        jobs = found.jobs(printer)
        if finished:
            jobs += found.jobs(printer, finished=True)
        return [j.row() for j in jobs
                if ("all" in wanted or j.state in wanted)
                and (user is None or j.owner == user)
                and (age is None or (j.age_seconds() or 0) >= age)]

    rows, code = _each_server(state, server, read)
    emit_listing(state, rows, JOB_COLUMNS, title=f"jobs ({len(rows)})")
    _exit(code)


def _checked(option: str, value: str) -> None:
    """A queue or user name as `job list` takes it, without the action models' import
    (tens of milliseconds of a listing that asks the server for a few more)."""
    from adminkit.core.errors import ValidationError
    from adminkit.printing.server import check_printer_name

    try:
        if option == "--printer":
            check_printer_name(value)
        elif not 0 < len(value) <= 255 or any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ValueError("is not a user name (1 to 255 characters, no control ones)")
    except ValueError as exc:
        raise ValidationError(f"{option}: {exc}") from None


def _age(text: str | None) -> int | None:
    from adminkit.core.errors import UsageError
    from adminkit.printing.server import parse_age

    if text is None:
        return None
    try:
        return parse_age(text)
    except ValueError as exc:
        raise UsageError(f"--older-than: {exc}") from None


def _job_actions(ctx: typer.Context, name: str, ids: list[int], server: str | None,
                 force: bool | None = None) -> None:
    """One action per distinct id; with `force` given (a destructive verb), more ids than
    the profile's bulk limit are refused (exit 4) before any server is asked."""
    from adminkit.cli.params import build
    from adminkit.core.errors import PolicyRefused
    from adminkit.printing.actions import registry as actions
    from adminkit.printing.actions.base import JobParams

    ids = list(dict.fromkeys(ids))
    cls = actions.ACTIONS[f"job.{name}"]
    acts = [cls(build(JobParams, job_id=i, server=server)) for i in ids]
    if force is False:
        limit = _profile(state_of(ctx)).policy.bulk_limit
        if len(ids) > limit:
            raise PolicyRefused(f"job {name} of {len(ids)} jobs is over the profile's bulk "
                                f"limit of {limit}", hint="add --force if intended")
    shown = " ".join(map(str, ids[:20])) + (f" … ({len(ids)} jobs)" if len(ids) > 20 else "")
    _run(ctx, f"job {name} {shown}", acts)


def _job_command(name: str, doc: str) -> None:
    def command(ctx: typer.Context, ids: JobIds, server: Server = None) -> None:
        _job_actions(ctx, name, ids, server)

    command.__doc__ = doc
    job_app.command(name)(command)


@job_app.command("cancel")
def job_cancel(ctx: typer.Context, ids: JobIds, server: Server = None,
               force: Force = False) -> None:
    """Cancel jobs; one that finished meanwhile is ok. More jobs than the profile's bulk
    limit need --force.

    Example: adminkit -p acme -t 4711 job cancel 812 813
    """
    _job_actions(ctx, "cancel", ids, server, force)




_job_command("hold", "Hold jobs: they wait until released.")
_job_command("release", "Release held jobs.")
_job_command("restart", "Print stopped, canceled or finished jobs again from the start.")


@job_app.command("move")
def job_move(ctx: typer.Context, ids: JobIds,
             to: Annotated[str, typer.Option(help="The queue to move them to.")],
             server: Server = None) -> None:
    """Move jobs to another queue of the same server.

    Example: adminkit -p acme -t 4711 job move 812 --to back-office
    """
    from adminkit.cli.params import build
    from adminkit.printing.actions.jobs import MoveJob, MoveParams

    acts: list[Action[Any]] = [MoveJob(build(MoveParams, job_id=i, to=to, server=server))
                               for i in ids]
    _run(ctx, f"job move {' '.join(map(str, ids))} --to {to}", acts)


# -- queue, spooler ---------------------------------------------------------------------
@queue_app.command("purge")
def queue_purge(
    ctx: typer.Context, printer: PrinterArg, server: Server = None,
    user: Annotated[str | None, typer.Option(help="Only this user's jobs.")] = None,
    older_than: Annotated[str | None, typer.Option(help="Only jobs older than, e.g. 2h.")
                          ] = None,
    force: Force = False,
) -> None:
    """Cancel a queue's jobs: all of them in one request, or a user's, or old ones.

    Cancelling more jobs of other users than --user (every job, without it) than the
    profile's bulk limit needs --force.

    Examples:

      adminkit -p acme -t 4711 queue purge front-desk

      adminkit -p acme queue purge front-desk --user jnovak --older-than 1d
    """
    from adminkit.cli.params import build
    from adminkit.printing.actions.queue import PurgeParams, PurgeQueue

    params = build(PurgeParams, printer=printer, server=server, user=user,
                   older_than=_age(older_than), force=force)
    _run(ctx, f"queue purge {printer}", [PurgeQueue(params)])


@spooler_app.command("restart")
def spooler_restart(
    ctx: typer.Context,
    server: Annotated[str, typer.Option("--server", "-s", help="The Windows print server.")],
) -> None:
    """Restart a Windows print server's spooler; the queues' state before and after.

    Example: adminkit -p acme -t 4711 spooler restart --server print1
    """
    from adminkit.cli.params import build
    from adminkit.printing.actions.queue import RestartSpooler, SpoolerParams

    _run(ctx, f"spooler restart --server {server}",
         [RestartSpooler(build(SpoolerParams, server=server))])
