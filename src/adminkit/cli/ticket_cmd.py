"""`adminkit ticket`: the note outbox, and the embedded ticket store for teams without one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from adminkit.cli.state import state_of

if TYPE_CHECKING:
    from adminkit.tickets.base import TicketRef, TicketSystem
    from adminkit.tickets.outbox import FlushReport

app = typer.Typer(help="Ticket notes waiting in the outbox; the local ticket store.",
                  no_args_is_help=True)
TicketId = Annotated[str, typer.Argument(
    help="A local ticket number (or local:N), or a reference like rt:42 (with --profile).")]


@app.command("outbox")
def outbox(ctx: typer.Context,
           status: Annotated[str | None, typer.Option(
               help="pending, delivered, failed or published (default: all not delivered)."
           )] = None,
           ack: Annotated[list[int] | None, typer.Option(
               "--ack", metavar="ID", min=1, max=2**63 - 1,
               help="Acknowledge this failed or published note (by id; repeat the option "
                    "for more): runs stop reporting it.")] = None) -> None:
    """Notes that wait for delivery, failed for good (missing ticket, refused login, out of
    attempts), or went public although they were internal (`published`).

    Example: adminkit ticket outbox --status published; adminkit ticket outbox --ack 12
    """
    from adminkit.cli.output import console, emit_rows
    from adminkit.cli.session import open_journal

    state = state_of(ctx)
    journal = open_journal(state)
    try:
        if ack:
            ack = sorted(set(ack))  # an id given twice is one note, acknowledged once
            done = journal.acknowledge_notes(ack)
            console(stderr=True).print(f"acknowledged {done} of {len(ack)} note(s)")
            if done < len(ack):  # a typo in an id must not pass for done
                console(stderr=True).print("the others are not failed or published notes, "
                                           "or were acknowledged already", markup=False)
                raise typer.Exit(2)
            return
        rows = journal.outbox(status) if status else [
            r for r in journal.outbox() if r["status"] != "delivered"]
    finally:
        journal.close()
    for row in rows:
        row["ticket"] = f"{row['system']}:{row['ticket']}"
        row["acknowledged"] = row.get("acknowledged") or ""
    emit_rows(state, rows, ["id", "run_id", "ticket", "status", "attempts", "next_attempt",
                            "last_error", "acknowledged"], title=f"outbox ({len(rows)})")


@app.command("flush")
def flush(ctx: typer.Context,
          retry_failed: Annotated[bool, typer.Option(
              "--retry-failed", help="Also retry notes that failed for good.")] = False,
          now: Annotated[bool, typer.Option(
              "--now", help="Try every waiting note now, whatever its backoff says (the "
                            "ticket system is back).")] = False,
          deadline: Annotated[float | None, typer.Option(
              help="Stop after this many seconds (default: until done).")] = None) -> None:
    """Deliver due notes now, and say what still waits and when it is next tried.

    Safe to run any time: a note is never posted twice. Exit 3 while notes still wait.
    """
    from adminkit.cli.output import console, write_json
    from adminkit.cli.session import open_journal
    from adminkit.cli.state import OutputFormat
    from adminkit.tickets.outbox import flush as deliver
    from adminkit.tickets.systems import limits, opener

    state = state_of(ctx)
    journal = open_journal(state)
    try:
        if retry_failed:
            from adminkit.tickets.outbox import retry_failed as requeue

            requeue(journal)
        report = deliver(journal, opener(state.config_dir), deadline=deadline, backoff=not now,
                         limits=limits(state.config_dir))
    finally:
        journal.close()
    counts = {"delivered": report.delivered, "retrying": report.retrying,
              "failed": report.failed, "not_reached": report.not_reached,
              "waiting": report.waiting, "busy": report.busy}
    if report.published:  # only then: the JSON shape of a flush stays as it was
        counts["published"] = report.published
    if state.output is OutputFormat.JSON:
        write_json({**counts, "next_try": report.next_try.isoformat() if report.next_try
                    else None})
    else:
        console().print(", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items()
                                  if v or k in ("delivered", "retrying", "failed")))
        if report.left:
            console(stderr=True).print(_still_waiting(report), markup=False)
        if report.published:
            console(stderr=True).print(
                f"{report.published} internal note(s) went PUBLIC: the account may not write "
                "internal notes; `adminkit ticket outbox --status published` lists them",
                markup=False)
    if report.failed or report.left or report.published:
        raise typer.Exit(3)


def _still_waiting(report: FlushReport) -> str:
    from datetime import UTC, datetime

    text = f"{report.left} note(s) still waiting"
    if report.busy:
        text += f" ({report.busy} being delivered by another adminkit right now)"
    if report.next_try is not None:
        seconds = (report.next_try - datetime.now(UTC)).total_seconds()
        when = "now" if seconds <= 0 else f"in {_duration(seconds)}"
        text += f"; next try {when} ({report.next_try.isoformat(timespec='seconds')})"
    if report.waiting:
        text += "; `adminkit ticket flush --now` tries them without waiting"
    return text


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {secs} s" if minutes \
        else f"{secs} s"


@app.command("new")
def new(ctx: typer.Context,
        subject: Annotated[str, typer.Argument(help="What is asked.")],
        requester: Annotated[str | None, typer.Option(help="Who asked.")] = None) -> None:
    """Open a ticket in the local store; prints its number."""
    from adminkit.tickets.local import LocalTickets

    store = LocalTickets()
    number = store.new(subject, requester)
    store.close()
    typer.echo(number)


@app.command("list")
def list_(ctx: typer.Context,
          status: Annotated[str | None, typer.Option(help="open or closed.")] = None) -> None:
    """List local tickets."""
    from adminkit.cli.output import emit_rows
    from adminkit.tickets.local import LocalTickets

    store = LocalTickets()
    rows = store.all(status)
    store.close()
    emit_rows(state_of(ctx), rows, ["id", "status", "subject", "requester", "updated"],
              title="local tickets")


@app.command("show")
def show(ctx: typer.Context, ticket: Annotated[str, typer.Argument(
        help="A local ticket number, or a reference like rt:42 (with --profile).")]) -> None:
    """A ticket with its notes, every page of them: the local store's, or the profile's
    system's (Request Tracker, Redmine, Jira, ServiceNow, Zammad, GLPI).

    Example: adminkit --profile acme ticket show redmine:42 -o json
    """
    from adminkit.cli.output import emit_rows
    from adminkit.cli.session import profile_of
    from adminkit.core.errors import UsageError
    from adminkit.tickets.base import parse_ref
    from adminkit.tickets.systems import open_system

    state = state_of(ctx)
    profile = profile_of(state, required=False)
    ref = parse_ref(ticket, "local", what="ticket")  # a bare number is the local store's
    system = open_system(profile, ref.kind)
    try:
        head = system.get(ref.id)
        lister = getattr(system, "notes", None)
        if lister is None:
            raise UsageError(f"adminkit cannot list the notes of {ref.kind} tickets yet")
        notes = lister(ref.id)
    finally:
        system.close()
    emit_rows(state_of(ctx), notes, ["time", "author", "internal", "body"],
              title=f"#{ticket} {head.subject} ({head.status})",
              json_data={"id": ticket, "subject": head.subject, "status": head.status,
                         "requester": head.requester, "notes": notes})


@app.command("note")
def note(ctx: typer.Context, ticket: TicketId,
         text: Annotated[str, typer.Argument(help="The note.")]) -> None:
    """Add a note to a ticket by hand: the local store's, or the profile's system's."""
    with _system_for(ctx, ticket) as (system, ref):
        system.add_note(ref.id, text)


@app.command("close")
def close(ctx: typer.Context, ticket: TicketId) -> None:
    """Close a ticket: the local store's, or the profile's system's."""
    with _system_for(ctx, ticket) as (system, ref):
        system.set_status(ref.id, "closed")


@contextmanager
def _system_for(ctx: typer.Context, ticket: str) -> Iterator[tuple[TicketSystem, TicketRef]]:
    """`12` or `local:12` (the local store), or `rt:42` with --profile, as `show` takes it."""
    from adminkit.automation.ticketcheck import check_ticket
    from adminkit.cli.session import profile_of
    from adminkit.core.run import current_operator
    from adminkit.tickets.base import parse_ref
    from adminkit.tickets.local import LocalTickets
    from adminkit.tickets.settings import allowed_queues, ticket_settings
    from adminkit.tickets.systems import open_system

    ref = parse_ref(ticket, "local", what="ticket")
    profile = profile_of(state_of(ctx), required=False)
    system = LocalTickets(author=current_operator()) if ref.kind == "local" else \
        open_system(profile, ref.kind)
    try:
        queues = allowed_queues(ticket_settings(profile), ref.kind)
        if queues:  # by hand too: a number one digit off is another team's ticket
            check_ticket(ref, system, queues)
        yield system, ref
    finally:
        system.close()
