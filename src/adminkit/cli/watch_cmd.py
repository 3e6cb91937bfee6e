"""`adminkit watch`, `approve` and `reject`: runs that tickets trigger, and their approval."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from adminkit.cli.state import GlobalState, state_of

if TYPE_CHECKING:
    from adminkit.automation.dispatch import Dispatcher, Outcome
    from adminkit.automation.watch import PollReport
    from adminkit.tickets.base import TicketSystem


def watch(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="Poll once and exit.")] = False,
    interval: Annotated[float | None, typer.Option(
        min=1, help="Seconds between polls (default automation.watch.interval, 30).")] = None,
    queue: Annotated[str | None, typer.Option(
        help="The queue to watch (default automation.watch.queue, else tickets.queue).")
    ] = None,
    after: Annotated[str | None, typer.Option(
        help="First watch only: take the tickets newer than this ticket id (0: every "
             "ticket in the queue; Redmine also takes a time, 2026-12-07T08:00:00Z). "
             "Later watches go on from the journal's cursor.")
    ] = None,
) -> None:
    """Poll the ticket system for new tickets and run what the profile's rules say.

    Request Tracker's queue by ticket id, Redmine's project by `updated_on`. Each new
    ticket that a rule takes runs its playbook through the run service, on the ticket
    (journaled, noted); a ticket with a missing or bad field gets a note and no run; a run
    that needs approval waits for /approve from an approver. The cursor is kept in the
    journal: a restart neither misses nor repeats a ticket, and a run left
    unfinished by a killed watcher is resumed. Ctrl-C stops.

    Examples:

      adminkit -p acme watch --after 4711

      adminkit -p acme -o json watch --once
    """
    from adminkit.automation.watch import Watcher, watcher_lock
    from adminkit.cli.playbook_cmd import find
    from adminkit.cli.session import profile_of, service_of

    state = state_of(ctx)
    profile = profile_of(state)
    assert profile is not None
    service = service_of(state)
    with _system(profile) as system:
        watcher = Watcher(service, profile, system, lambda name: find(state, name), queue=queue,
                          after=after)
        if interval is not None:
            watcher.interval = interval
        stop = threading.Event()
        try:
            with watcher_lock(service.journal_path, watcher.source):
                watcher.run(stop, once=once, on_poll=lambda r: _print(state, r))
        except KeyboardInterrupt:  # the trigger stays running: the next watch resumes it
            stop.set()
            raise typer.Exit(130) from None
        finally:
            watcher.close()


def approve(ctx: typer.Context, run_id: Annotated[str, typer.Argument(
                help="The waiting run's id, as its ticket note says.")],
            as_: Annotated[str | None, typer.Option(
                "--as", help="Who approves, as automation.approvers names them (Jira, "
                              "Zammad, Redmine, ServiceNow: a user id, jira:…); must be "
                              "the one automation.console_approvers maps your OS login "
                              "to (the default).")] = None) -> None:
    """Approve a run waiting for approval: it starts now.

    The requester cannot approve their own request (four eyes). Only an OS login that
    automation.console_approvers maps to an approver may, as that approver; where the
    ticket system keeps user records (ServiceNow, Zammad, Jira) the person must still exist
    there, active. The note and the journal name the approver and the login that typed
    it (exit 4 when refused).

    Example:

      adminkit -p acme approve R-20261206-214501-3f9a2c --as dispatch1
    """
    _answer(ctx, run_id, as_, approve=True)


def reject(ctx: typer.Context, run_id: Annotated[str, typer.Argument(
               help="The waiting run's id, as its ticket note says.")],
           as_: Annotated[str | None, typer.Option(
               "--as", help="Who rejects, as automation.approvers names them (Jira, "
                              "Zammad, Redmine, ServiceNow: a user id, jira:…); must be "
                              "the one automation.console_approvers maps your OS login "
                              "to (the default).")] = None) -> None:
    """Reject a run waiting for approval: nothing is done.

    The ticket is told who rejected it, and which OS login typed it; who may is checked
    as for `approve`.

    Example:

      adminkit -p acme reject R-20261206-214501-3f9a2c --as dispatch1
    """
    _answer(ctx, run_id, as_, approve=False)


def _answer(ctx: typer.Context, run_id: str, claimed: str | None, *, approve: bool) -> None:
    from adminkit.automation.console import console_approver

    state = state_of(ctx)
    with _dispatcher(state) as dispatcher:
        # the OS login decides who approves here; --as only restates it (see console.py)
        who = console_approver(dispatcher.cfg, dispatcher.system, claimed,
                               source=dispatcher.profile.file)
        outcome = dispatcher.answer(run_id, who.name, approve=approve, who_id=who.ident,
                                    via=who.via("approve" if approve else "reject"),
                                    operator=who.login)
        dispatcher.flush()
    _emit(state, [outcome])
    if outcome.already:  # another answer settled it first (a comment, another approver)
        from adminkit.core.errors import UsageError

        raise UsageError(outcome.why, hint="`adminkit status TICKET` shows who answered")
    if outcome.status in ("waiting", "cancelled"):  # refused: not an approver, the
        from adminkit.core.errors import PolicyRefused  # requester, or too late

        raise PolicyRefused(outcome.why)
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)


@contextmanager
def _dispatcher(state: GlobalState) -> Iterator[Dispatcher]:
    from adminkit.automation.dispatch import Dispatcher
    from adminkit.cli.playbook_cmd import find
    from adminkit.cli.session import open_journal, profile_of, service_of

    profile = profile_of(state)
    assert profile is not None
    journal = open_journal(state)
    try:
        with _system(profile) as system:
            yield Dispatcher(service_of(state), profile, system, journal,
                             lambda name: find(state, name), source="adminkit")
    finally:
        journal.close()


@contextmanager
def _system(profile: Any) -> Iterator[TicketSystem]:
    from adminkit.core.errors import UsageError
    from adminkit.tickets.settings import ticket_settings
    from adminkit.tickets.systems import open_system

    cfg = ticket_settings(profile)
    if cfg is None:
        raise UsageError(f"profile {profile.name} has no ticket system (tickets:)")
    system = open_system(profile, cfg.kind)
    try:
        yield system
    finally:
        system.close()


def _print(state: GlobalState, report: PollReport) -> None:
    _emit(state, report.outcomes, seen=report.seen, delivered=report.delivered,
          error=report.error)


def _emit(state: GlobalState, outcomes: list[Outcome], *, seen: list[str] | None = None,
          delivered: int = 0, error: str | None = None) -> None:
    from datetime import UTC, datetime

    from adminkit.cli.output import console, write_json
    from adminkit.cli.state import OutputFormat
    from adminkit.core.secrets import redact_obj

    rows = [{"trigger": o.key, "status": o.status, "run_id": o.run_id,
             "exit_code": o.exit_code, "why": o.why} for o in outcomes]
    if state.output is OutputFormat.JSON:
        write_json(redact_obj({"time": datetime.now(UTC).isoformat(timespec="seconds"),
                               "new": seen or [], "triggers": rows,
                               "notes_delivered": delivered,
                               **({"error": error} if error else {})}))
        return
    out = console()
    if error:
        out.print(f"not reached, tried again at the next poll: {error}", markup=False,
                  highlight=False)
    for row in redact_obj(rows):
        why = f": {row['why'].splitlines()[0]}" if row["why"] else ""
        out.print(f"{row['trigger']} {row['status']}"
                  f"{' run ' + row['run_id'] if row['run_id'] else ''}{why}", markup=False,
                  highlight=False)


def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(
        help="Address to listen on (default automation.serve.host, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(
        min=0, max=65535, help="Port (default automation.serve.port, 8099).")] = None,
    workers: Annotated[int | None, typer.Option(
        min=1, max=64, help="Runs at once (default automation.serve.workers, 4).")] = None,
) -> None:
    """Receive ticket-system webhooks and run what the profile's rules say.

    Each sender in automation.senders posts to /hooks/NAME and is authenticated (Zammad's
    HMAC signature; a token or a timestamped signature otherwise): anything else gets
    401 and queues nothing. A delivery is queued in the journal's database before the
    202 answer; the same ticket event twice makes one run; runs left unfinished by a
    killed serve are resumed when it starts again; due schedules are run too. Listens
    on loopback unless the profile gives a TLS certificate (behind a reverse proxy,
    keep loopback). Ctrl-C or SIGTERM stops.

    Examples:

      adminkit -p acme serve

      adminkit -p acme serve --port 8443 --workers 8
    """
    from adminkit.automation.runlock import held
    from adminkit.automation.serve import Hub, server
    from adminkit.cli.playbook_cmd import find
    from adminkit.cli.session import profile_of, service_of
    from adminkit.tickets.settings import ticket_settings
    from adminkit.tickets.systems import open_system

    state = state_of(ctx)
    profile = profile_of(state)
    assert profile is not None
    service = service_of(state)
    tickets = ticket_settings(profile)
    if tickets is None:
        from adminkit.core.errors import UsageError

        raise UsageError(f"profile {profile.name} has no ticket system (tickets:)")
    with held(service.journal_path, f"serve-{profile.name}",
              f"profile {profile.name} is served by another adminkit serve"):
        hub = Hub(service, profile, lambda: open_system(profile, tickets.kind),
                  lambda name: find(state, name))
        try:
            web = server(hub, host=host, port=port)
            hub.start(workers)
            hub.run_schedules()
            web.run()
        finally:
            hub.shutdown()
