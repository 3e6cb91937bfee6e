"""Rendering: rich tables for people, JSON and CSV for machines.

The JSON shapes are a stable interface (documented in the README): automation
parses them. Every value passes through `redact_obj` on the way out.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from adminkit.cli.state import GlobalState, OutputFormat
from adminkit.core.csvcell import csv_safe
from adminkit.core.secrets import redact_obj
from adminkit.core.visible import JSON_UNSEEN as JSON_UNSEEN  # re-exported: cli uses both
from adminkit.core.visible import flat
from adminkit.core.visible import visible as visible

if TYPE_CHECKING:
    from rich.console import Console

    from adminkit.core.runner import RunReport

NO_WRAP = {"time", "status", "idx", "seconds", "set up", "running", "ready"}
PIPE_WIDTH = 160  # rich assumes 80 columns when not on a terminal: too narrow for listings
CHUNK_LINES = 1000  # a run's report lines per print: fast, and never the whole at once
STATUS_STYLE = {"ok": "green", "changed": "yellow", "failed": "bold red", "skipped": "dim",
                "started": "cyan"}


def console(stderr: bool = False) -> Console:
    import os

    from rich.console import Console

    class SafeConsole(Console):
        """Every string printed, in a table cell or a line, is made `visible` before rich
        reads its markup: adminkit's own styles are markup, never raw escapes."""

        def render_str(self, text: str, **kwargs: Any) -> Any:
            return super().render_str(visible(text), **kwargs)

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else int(os.environ.get("COLUMNS") or PIPE_WIDTH)
    return SafeConsole(stderr=stderr, highlight=False, soft_wrap=False, width=width)


def write_json(data: Any, *, scrubbed: bool = False) -> None:
    """Indented for a person at a terminal; compact (and several times faster to write,
    for a report of thousands of rows) for a program reading a pipe. `scrubbed`: the
    caller passed every value through redact already."""
    indent = 2 if sys.stdout.isatty() else None
    sys.stdout.write(json.dumps(data if scrubbed else redact_obj(data), ensure_ascii=False,
                                indent=indent, default=str).translate(JSON_UNSEEN))
    sys.stdout.write("\n")


def write_csv(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> None:
    """CSV as the data is, for a program; at a terminal, control characters shown."""
    shown = visible if sys.stdout.isatty() else str
    writer = csv.DictWriter(sys.stdout, fieldnames=list(columns), extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: shown(csv_safe(_cell(v)))
                         for k, v in redact_obj(dict(row)).items()})


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def emit_rows(state: GlobalState, rows: Sequence[dict[str, Any]], columns: Sequence[str],
              *, title: str | None = None, json_data: Any = None) -> None:
    """A listing: table, CSV with the same columns, or JSON (all fields of each row)."""
    if state.output is OutputFormat.JSON:
        write_json(json_data if json_data is not None else list(rows))
        return
    if state.output is OutputFormat.CSV:
        write_csv(rows, columns)
        return
    from rich.table import Table

    table = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        table.add_column(column, no_wrap=column in NO_WRAP, overflow="fold")
    for row in redact_obj([dict(r) for r in rows]):
        cells = []
        for column in columns:
            text = flat(_cell(row.get(column)))  # a cell is one line of its value
            if column == "time" and len(text) > 19:  # ISO time to the second, in tables
                text = text[:19].replace("T", " ")
            style = STATUS_STYLE.get(text) if column == "status" else None
            cells.append(f"[{style}]{text}[/]" if style else _escape(text))
        table.add_row(*cells)
    console().print(table)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def report_json(report: RunReport) -> dict[str, Any]:
    """The documented JSON shape; every value scrubbed of known secrets."""
    return {**_report_head(report), "results": [r.public() for r in report.results]}


def _report_head(report: RunReport) -> dict[str, Any]:
    run = report.run
    head: dict[str, Any] = redact_obj({
        "run": {"id": run.id, "operator": run.operator, "profile": run.profile,
                "ticket": run.ticket, "mode": run.mode, "command": run.command,
                "started": run.started.isoformat()},
        "status": report.status,
        "exit_code": report.exit_code,
        "counts": report.counts,
    })
    return head


def write_report_json(report: RunReport) -> None:
    """`report_json` as compact JSON, written one result at a time (the same text as
    json.dumps of the whole): a report of 20,000 rows is never held twice in memory."""
    from adminkit.core.spool import SpooledResults

    head = json.dumps(_report_head(report), ensure_ascii=False, default=str)
    out = sys.stdout
    out.write(head[:-1] + ', "results": [')
    if isinstance(report.results, SpooledResults):  # a bulk run's: the lines as spooled
        lines: Iterable[str] = report.results.lines()
    else:
        lines = (json.dumps(r.public(keep=False), ensure_ascii=False, default=str)
                 for r in report.results)
    for n, line in enumerate(lines):
        if n:
            out.write(", ")
        out.write(line)
    out.write("]}\n")


def emit_report(state: GlobalState, report: RunReport) -> None:
    if state.output is OutputFormat.JSON:
        if sys.stdout.isatty():  # indented for a person: the whole at once
            write_json(report_json(report), scrubbed=True)
        else:
            write_report_json(report)
        return
    if state.output is OutputFormat.CSV:
        from adminkit.core.spool import SpooledResults

        publics = (report.results.publics() if isinstance(report.results, SpooledResults)
                   else (r.public() for r in report.results))
        write_csv(({"run": report.run.id, **p} for p in publics),
                  ["run", "action", "target", "status", "summary", "error"])
        return
    out = console()
    lines: list[str] = []  # printed in chunks: a print per line costs rich ~0.1 ms
    for result in report.results:
        if len(lines) >= CHUNK_LINES:
            out.print("\n".join(lines))
            lines.clear()
        style = STATUS_STYLE[result.status.value]
        label = result.status.value + (" (check)" if result.check and result.changed else "")
        lines.append(f"[{style}]{label:>9}[/]  {_escape(redact_obj(result.summary))}")
        for change in result.changes:
            lines.append(f"           [dim]{_escape(redact_obj(change.line()))}[/]")
        if result.error and "\n" in result.error:
            for line in result.error.splitlines()[1:]:
                lines.append(f"           {_escape(redact_obj(line))}")
    counts = ", ".join(f"{n} {s}" for s, n in report.counts.items() if n)
    ticket = f" · ticket {report.run.ticket}" if report.run.ticket else ""
    lines.append(f"[dim]run {report.run.id} · {report.run.mode}{ticket} · "
                 f"{counts or 'nothing'}[/]")
    out.print("\n".join(lines))
