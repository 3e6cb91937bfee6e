"""`adminkit journal`: read, verify and export the journal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from adminkit.cli.state import OutputFormat, state_of
from adminkit.core.errors import ActionFailed, ExitCode, UsageError

app = typer.Typer(help="Read, verify and export the journal of runs and actions.",
                  no_args_is_help=True)

LIST_COLUMNS = ["time", "run_id", "operator", "ticket", "action", "target", "status", "summary"]
RUN_COLUMNS = ["run_id", "time", "operator", "profile", "ticket", "mode", "command", "status",
               "counts"]
EXPORT_COLUMNS = ["seq", "kind", "time", "run_id", "idx", "operator", "profile", "ticket", "mode",
                  "action", "target", "status", "summary", "diff", "error", "detail",
                  "prev_hash", "hash"]


def parse_since(text: str) -> datetime:
    """`30m`, `12h`, `7d`, or an ISO date/time (UTC if no zone)."""
    units = {"m": "minutes", "h": "hours", "d": "days"}
    try:
        if text[:-1].isdigit() and text[-1:] in units:
            return datetime.now(UTC) - timedelta(**{units[text[-1]]: int(text[:-1])})
        value = datetime.fromisoformat(text)
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        value.astimezone(UTC)  # as the journal compares it: a zone past year 9999 is refused
        return value
    except OverflowError:  # 999999d: before year 1; a zone past year 9999
        raise UsageError(f"--since {text!r}: outside years 1 to 9999",
                         hint="use 30m, 12h, 7d or a date like 2026-11-01") from None
    except ValueError:
        raise UsageError(f"--since {text!r}: not a duration or a date",
                         hint="use 30m, 12h, 7d or a date like 2026-11-01") from None


@app.command("list")
def list_(
    ctx: typer.Context,
    target: Annotated[str | None, typer.Option(help="Only this target (a login, a queue).")] = None,
    operator: Annotated[str | None, typer.Option(
        help="Only this operator: as journaled, or its claimed name (ADMINKIT_OPERATOR, a "
             "trigger's), or its OS login (sudo's user).")] = None,
    since: Annotated[str | None, typer.Option(help="30m, 12h, 7d or a date.")] = None,
    status: Annotated[str | None, typer.Option(help="ok, changed, failed or skipped.")] = None,
    run: Annotated[str | None, typer.Option("--run", help="Only this run id.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many (newest).", min=0,
                                       max=10**9)] = 50,
    runs: Annotated[bool, typer.Option(
        "--runs", help="One line per run, newest first, with how it ended ('no end row': "
                       "interrupted, or still running).")] = False,
) -> None:
    """List journaled actions, newest last; or runs (--runs), newest first.

    The global --ticket, which may stand anywhere on the line, shows one ticket's.

    Example: adminkit journal list --ticket 42 --since 7d --output json
    """
    from adminkit.cli.output import emit_rows
    from adminkit.cli.session import open_journal
    from adminkit.journal.store import Filters

    state = state_of(ctx)
    after = parse_since(since) if since else None
    if runs and (target or status or run):
        raise UsageError("--runs lists whole runs: --target, --status and --run select "
                         "actions", hint="use --ticket, --operator, --since or --limit")
    journal = open_journal(state)
    if runs:
        from adminkit.journal.runs import list_runs

        found = list_runs(journal, ticket=state.ticket, operator=operator, since=after,
                          limit=limit or None)
        journal.close()
        emit_rows(state, [{**r, "counts": r.pop("count_text")} for r in found], RUN_COLUMNS,
                  title=f"runs ({len(found)})", json_data=found)
        return
    rows = journal.entries(Filters(ticket=state.ticket, target=target, operator=operator,
                                   status=status, run_id=run, limit=limit or None, since=after))
    journal.close()
    emit_rows(state, rows, LIST_COLUMNS, title="journal")


@app.command("show")
def show(ctx: typer.Context, run_id: Annotated[str, typer.Argument(help="A run id.")]) -> None:
    """Show one run: who, when, for which ticket, and every action with its diff."""
    from rich.markup import escape

    from adminkit.cli.output import console, emit_rows
    from adminkit.cli.session import open_journal
    from adminkit.core.visible import flat
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

    def shown(value: Any) -> str:  # a journaled value: one line, its escapes shown
        return escape(flat(value))

    head = rows[0]
    out.print(f"[bold]{shown(head['run_id'])}[/]  {shown(head['summary'])}")
    out.print(f"  operator {shown(head['operator'])} · profile {shown(head['profile'] or '-')}"
              f" · ticket {shown(head['ticket'] or '-')} · mode {shown(head['mode'])} · "
              f"started {shown(head['time'])}")
    emit_rows(state, [r for r in rows if r["kind"] == "action"],
              ["time", "idx", "action", "target", "status", "summary"])
    for row in rows:
        if row["kind"] == "action" and row["diff"]:
            out.print(f"  [dim]{shown(row['idx'])} {shown(row['target'])}:[/]")
            for change in row["diff"]:
                out.print(f"      {shown(change['op'])} {shown(change['field'])}: "
                          f"{shown(change.get('before'))} -> {shown(change.get('after'))}")
    end = [r for r in rows if r["kind"] == "end"]
    if end:
        out.print(f"  finished {shown(end[-1]['time'])}: {shown(end[-1]['status'])} "
                  f"{shown(end[-1]['detail'])}")


def _run_json(rows: list[dict[str, Any]]) -> dict[str, Any]:
    head = rows[0]
    end = [r for r in rows if r["kind"] == "end"]
    return {"run": {k: head[k] for k in ("run_id", "operator", "profile", "ticket", "mode",
                                         "time", "summary")},
            "actions": [r for r in rows if r["kind"] == "action"],
            "end": end[-1] if end else None}


@app.command("verify")
def verify(
    ctx: typer.Context,
    anchor: Annotated[list[str] | None, typer.Option(
        "--anchor", help="SEQ:HASH of a row as anchored in a ticket note or syslog "
                         "('journal head SEQ:HASH'); repeatable.")] = None,
    anchors_from: Annotated[Path | None, typer.Option(
        "--anchors-from", help="Check every 'journal head SEQ:HASH' found in this file "
                               "(a syslog file, a ticket's notes; - for stdin).")] = None,
    allow_unkeyed: Annotated[bool, typer.Option(
        "--allow-unkeyed", help="Accept a journal that only an older adminkit wrote (not "
                                "keyed yet) as long as its chain holds.")] = False,
    restore: Annotated[bool, typer.Option(
        "--restore", help="Put back dropped triggers and a lost head file, if the rows "
                          "verify; what was wrong is recorded in the journal.")] = False,
) -> None:
    """Check the journal: the keyed hash chain, its triggers, its head file and anchors.

    Exit 1 and name the first bad row if anything was altered, removed or forged; exit 2
    if it cannot be checked with the key at hand (ADMINKIT_JOURNAL_KEY names another).
    Example: adminkit journal verify --anchor 1234:9f2c…
    """
    from adminkit.cli.output import write_json
    from adminkit.cli.session import open_journal

    state = state_of(ctx)
    anchors = _anchors(anchor or [], anchors_from)
    journal = open_journal(state)
    try:
        restored = _restore(journal) if restore else []
        result = journal.verify(anchors, allow_unkeyed=allow_unkeyed)
    finally:
        journal.close()
    if state.output is OutputFormat.JSON:
        write_json({"ok": result.ok, "rows": result.rows, "first_bad": result.first_bad,
                    "reason": result.reason, "problems": result.problems,
                    "notices": result.notices, "keyed_from": result.keyed_from,
                    "anchors": result.anchors, "unchecked": result.unchecked,
                    "restored": restored,
                    "journal": str(journal.path)})
    else:
        _print_verdict(result, restored, str(journal.path))
    if not result.ok:
        raise typer.Exit(ExitCode.USAGE if result.unchecked else ExitCode.FAILED)


def _anchors(given: list[str], source: Path | None) -> list[Any]:
    from adminkit.journal import anchor

    try:
        found = [anchor.parse(text) for text in given]
    except ValueError as exc:
        raise UsageError(f"--anchor: {exc}", hint="copy it from the note: journal head "
                                                  "SEQ:HASH") from None
    if source is not None:
        text = _bounded_text(source)
        more = anchor.find(text)
        if not more:
            raise UsageError(f"--anchors-from {source}: no 'journal head SEQ:HASH' in it")
        found += more
    return found


ANCHORS_MAX = 16 << 20  # a ticket's notes exported as text; never /dev/zero or a FIFO


def _bounded_text(source: Path) -> str:
    """The text of `--anchors-from` (a regular file, or `-`: standard input), read up to
    ANCHORS_MAX bytes: a FIFO or /dev/zero there hung or ended in MemoryError."""
    import sys

    from adminkit.core.files import read_small

    if str(source) != "-":
        return read_small(source, ANCHORS_MAX, what="--anchors-from").decode(errors="replace")
    try:
        raw = sys.stdin.buffer.read(ANCHORS_MAX + 1)
    except OSError as exc:
        raise UsageError(f"--anchors-from -: {exc.strerror}") from None
    if len(raw) > ANCHORS_MAX:
        raise UsageError(f"--anchors-from -: more than {ANCHORS_MAX} bytes on standard input")
    return raw.decode(errors="replace")


def _restore(journal: Any) -> list[str]:
    from adminkit.journal.verify import restore

    return restore(journal)


def _print_verdict(result: Any, restored: list[str], path: str) -> None:
    from rich.markup import escape

    from adminkit.cli.output import console

    out, err = console(), console(stderr=True)
    for text in restored:
        out.print(f"restored: {text}", markup=False)
    for text in result.notices:
        err.print(f"[yellow]note[/]: {escape(text)}")
    if result.ok:
        keyed = f", keyed from row {result.keyed_from}" if result.keyed_from else ""
        anchored = f", {result.anchors} anchor(s) match" if result.anchors else ""
        out.print(f"[green]ok[/]: {result.rows} rows, chain intact{keyed}{anchored} ({path})")
        return
    if result.unchecked:  # nothing found wrong: the key at hand does not fit
        err.print(f"[bold yellow]CANNOT CHECK[/]: {escape(result.reason)} ({path})")
        err.print("  hint: point ADMINKIT_JOURNAL_KEY at the key this journal was written "
                  "with (default: journal.key in adminkit's state folder)", markup=False)
        return
    where = f"row {result.first_bad}: " if result.first_bad else ""
    err.print(f"[bold red]TAMPERED[/]: {where}{escape(result.reason)} ({path})")
    for text in result.problems[1:]:
        err.print(f"  also: {escape(text)}")


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

    from adminkit.cli.output import JSON_UNSEEN, visible
    from adminkit.core.csvcell import csv_safe

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
        # at a terminal, a value's escape sequences are shown, not obeyed (as `-o csv`)
        shown = visible if out is None and stream.isatty() else str
        if fmt == "csv":
            writer.writeheader()
        try:
            for raw in journal.iter_all():
                if fmt == "csv":
                    writer.writerow({k: shown(csv_safe(v)) if isinstance(v, str) else v
                                     for k, v in dict(raw).items()})
                else:  # C1 controls and bidi overrides escaped too: the same JSON
                    stream.write(json.dumps(dict(raw), ensure_ascii=False)
                                 .translate(JSON_UNSEEN) + "\n")
            if out is None:
                stream.flush()  # here, not at exit where a failure is only a warning
        except OSError as exc:  # --out's own failures are worded by `written`
            if out is not None or isinstance(exc, BrokenPipeError) or exc.filename:
                raise
            raise ActionFailed("cannot write the export to standard output: "
                               f"{exc.strerror or exc}; what it got is not the whole "
                               "journal") from None
