"""`adminkit journal`: read, verify and export the journal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from adminkit.cli.output import console, csv_safe, emit_rows, write_json
from adminkit.cli.state import OutputFormat, state_of
from adminkit.core.errors import ExitCode, UsageError

app = typer.Typer(help="Read, verify and export the journal of runs and actions.",
                  no_args_is_help=True)

LIST_COLUMNS = ["time", "run_id", "operator", "ticket", "action", "target", "status", "summary"]
EXPORT_COLUMNS = ["seq", "kind", "time", "run_id", "idx", "operator", "profile", "ticket", "mode",
                  "action", "target", "status", "summary", "diff", "error", "detail",
                  "prev_hash", "hash"]


def parse_since(text: str) -> datetime:
    """`30m`, `12h`, `7d`, or an ISO date/time (UTC if no zone)."""
    units = {"m": "minutes", "h": "hours", "d": "days"}
    if text[:-1].isdigit() and text[-1:] in units:
        return datetime.now(UTC) - timedelta(**{units[text[-1]]: int(text[:-1])})
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--since {text!r}: not a duration or a date",
                         hint="use 30m, 12h, 7d or a date like 2026-11-01") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@app.command("list")
def list_(
    ctx: typer.Context,
    ticket: Annotated[str | None, typer.Option(
        help="Only this ticket (the global --ticket, wherever it stands).")] = None,
    target: Annotated[str | None, typer.Option(help="Only this target (a login, a queue).")] = None,
    operator: Annotated[str | None, typer.Option(help="Only this operator.")] = None,
    since: Annotated[str | None, typer.Option(help="30m, 12h, 7d or a date.")] = None,
    status: Annotated[str | None, typer.Option(help="ok, changed, failed or skipped.")] = None,
    run: Annotated[str | None, typer.Option("--run", help="Only this run id.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many (newest).", min=0,
                                       max=10**9)] = 50,
) -> None:
    """List journaled actions, newest last.

    Example: adminkit journal list --ticket 42 --since 7d --output json
    """
    from adminkit.cli.session import open_journal
    from adminkit.journal.store import Filters

    state = state_of(ctx)
    journal = open_journal(state)
    rows = journal.entries(Filters(ticket=ticket or state.ticket, target=target, operator=operator,
                                   status=status, run_id=run, limit=limit or None,
                                   since=parse_since(since) if since else None))
    journal.close()
    emit_rows(state, rows, LIST_COLUMNS, title="journal")


@app.command("show")
def show(ctx: typer.Context, run_id: Annotated[str, typer.Argument(help="A run id.")]) -> None:
    """Show one run: who, when, for which ticket, and every action with its diff."""
    from adminkit.cli.session import open_journal
    from adminkit.journal.store import Filters

    state = state_of(ctx)
    journal = open_journal(state)
    rows = journal.entries(Filters(run_id=run_id, kinds=("run", "action", "end")))
    journal.close()
    if not rows:
        raise UsageError(f"no run {run_id} in the journal",
                         hint="`adminkit journal list` shows recent runs")
    if state.output is not OutputFormat.TABLE:
        emit_rows(state, rows, EXPORT_COLUMNS[:-2], json_data=_run_json(rows))
        return
    out = console()
    head = rows[0]
    out.print(f"[bold]{head['run_id']}[/]  {head['summary']}")
    out.print(f"  operator {head['operator']} · profile {head['profile'] or '-'} · "
              f"ticket {head['ticket'] or '-'} · mode {head['mode']} · started {head['time']}")
    emit_rows(state, [r for r in rows if r["kind"] == "action"],
              ["time", "idx", "action", "target", "status", "summary"])
    for row in rows:
        if row["kind"] == "action" and row["diff"]:
            out.print(f"  [dim]{row['idx']} {row['target']}:[/]")
            for change in row["diff"]:
                out.print(f"      {change['op']} {change['field']}: "
                          f"{change.get('before')} -> {change.get('after')}", markup=False)
    end = [r for r in rows if r["kind"] == "end"]
    if end:
        out.print(f"  finished {end[-1]['time']}: {end[-1]['status']} {end[-1]['detail']}")


def _run_json(rows: list[dict[str, Any]]) -> dict[str, Any]:
    head = rows[0]
    end = [r for r in rows if r["kind"] == "end"]
    return {"run": {k: head[k] for k in ("run_id", "operator", "profile", "ticket", "mode",
                                         "time", "summary")},
            "actions": [r for r in rows if r["kind"] == "action"],
            "end": end[-1] if end else None}


@app.command("verify")
def verify(ctx: typer.Context) -> None:
    """Walk the hash chain; exit 1 and name the first bad row if anything was altered."""
    from adminkit.cli.session import open_journal

    state = state_of(ctx)
    journal = open_journal(state)
    result = journal.verify()
    journal.close()
    if state.output is OutputFormat.JSON:
        write_json({"ok": result.ok, "rows": result.rows, "first_bad": result.first_bad,
                    "reason": result.reason, "journal": str(journal.path)})
    elif result.ok:
        console().print(f"[green]ok[/]: {result.rows} rows, chain intact ({journal.path})")
    else:
        console(stderr=True).print(
            f"[bold red]TAMPERED[/]: row {result.first_bad}: {result.reason} ({journal.path})")
    if not result.ok:
        raise typer.Exit(ExitCode.FAILED)


@app.command("export")
def export(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", "-f", help="jsonl or csv.")] = "jsonl",
    out: Annotated[Path | None, typer.Option("--out", help="File to write (default stdout).")
                   ] = None,
    mode: Annotated[str, typer.Option(help="The --out file's mode, in octal.")] = "0600",
) -> None:
    """Export every row with its hashes, for an auditor or a SIEM (a file is 0600 unless
    --mode says otherwise)."""
    import contextlib
    import csv
    import json
    import sys

    if fmt not in ("jsonl", "csv"):
        raise UsageError(f"--format {fmt!r}: choose jsonl or csv")
    from adminkit.cli.session import open_journal
    from adminkit.core.files import parse_mode, written

    file_mode = parse_mode(mode)
    journal = open_journal(state_of(ctx))
    with contextlib.ExitStack() as stack:
        stack.callback(journal.close)
        stream = stack.enter_context(written(out, file_mode)) if out else sys.stdout
        writer = csv.DictWriter(stream, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
        if fmt == "csv":
            writer.writeheader()
        for raw in journal.iter_all():
            if fmt == "csv":
                writer.writerow({k: csv_safe(v) if isinstance(v, str) else v
                                 for k, v in dict(raw).items()})
            else:
                stream.write(json.dumps(dict(raw), ensure_ascii=False) + "\n")
