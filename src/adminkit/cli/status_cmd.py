"""`adminkit status TICKET`: the whole history of one request, from the journal."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from adminkit.cli.state import state_of

COLUMNS = ["time", "run_id", "kind", "operator", "action", "target", "status", "summary"]


def status(ctx: typer.Context, ticket: Annotated[str, typer.Argument(
        help="The ticket: 42 (the profile's system), rt:42, jira:HD-12, local:3 ...")]) -> None:
    """Every run and action ever taken for a ticket, approvals included, in order.

    Runs of the CLI, of `watch` and of `serve`, their actions, and the decisions taken
    without a run (a missing field, a requester who may not ask, waiting for approval,
    approved, rejected, cancelled), each with who and when; then what is still open.

    Examples:

      adminkit -p acme status 4711

      adminkit status rt:4711 -o json
    """
    from adminkit.cli.output import emit_rows, write_json
    from adminkit.cli.session import open_journal, profile_of
    from adminkit.cli.state import OutputFormat
    from adminkit.journal.store import Filters
    from adminkit.journal.triggers import Triggers
    from adminkit.tickets.base import parse_ref
    from adminkit.tickets.settings import ticket_settings

    state = state_of(ctx)
    cfg = ticket_settings(profile_of(state, required=False))
    ref = parse_ref(ticket, cfg.kind if cfg else None, what="ticket")
    names = {str(ref), f"{ref.kind}:{ref.id}"}
    if cfg is not None and cfg.kind == ref.kind:
        names.add(ref.id)  # runs given `--ticket 42` journal it as written
    journal = open_journal(state)
    try:
        rows: dict[int, dict[str, Any]] = {}
        for name in sorted(names):
            for row in journal.entries(Filters(ticket=name, kinds=("run", "action", "end"))):
                rows[int(row["seq"])] = row
        triggers = [t for name in sorted(names) for t in Triggers(journal).all(name)]
    finally:
        journal.close()
    entries = [{**row, "action": row["action"] or "", "summary": row["summary"] or ""}
               for _, row in sorted(rows.items())]
    open_ = [{"trigger": t.key, "status": t.status, "run_id": t.run_id, "since": t.created,
              "updated": t.updated, "why": t.detail.get("why")} for t in triggers]
    if state.output is OutputFormat.JSON:
        write_json({"ticket": str(ref), "entries": entries, "triggers": open_})
        return
    emit_rows(state, entries, COLUMNS, title=f"{ref}: {len(entries)} journal row(s)")
    if open_:
        emit_rows(state, open_, ["trigger", "status", "run_id", "since", "updated", "why"],
                  title="triggers")
