"""Listings that may run to thousands of rows (print jobs): written row by row.

CSV and JSON are the same text `cli/output.emit_rows` writes, but each row is written
as it comes instead of after the whole is built. For a person, a rich table lays out
every cell of every row before it prints the first (2,000 jobs: over a second), so past
`RICH_ROWS` rows the table is plain aligned text, a column no wider than `WIDEST`.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from adminkit.cli.output import JSON_UNSEEN, _cell, csv_safe, emit_rows, visible
from adminkit.cli.state import GlobalState, OutputFormat
from adminkit.core.secrets import redact_obj

RICH_ROWS = 200
WIDEST = 40


def emit_listing(state: GlobalState, rows: Iterable[dict[str, Any]], columns: Sequence[str],
                 *, title: str) -> None:
    """`rows` as a table, CSV with `columns`, or JSON (every field), scrubbed of secrets."""
    out = sys.stdout
    if state.output is OutputFormat.JSON and not out.isatty():
        out.write("[")
        for n, row in enumerate(rows):
            out.write(", " if n else "")
            out.write(json.dumps(redact_obj(row), ensure_ascii=False, default=str)
                      .translate(JSON_UNSEEN))
        out.write("]\n")
        return
    if state.output is OutputFormat.CSV:
        shown = visible if out.isatty() else str
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([shown(csv_safe(_cell(redact_obj(row.get(c))))) for c in columns])
        return
    listed = list(rows)
    if state.output is OutputFormat.JSON or len(listed) <= RICH_ROWS:
        emit_rows(state, listed, columns, title=title)
        return
    plain_table(listed, columns, title)


def plain_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str) -> None:
    """Aligned columns, a longer cell cut with `…`; control characters shown, not obeyed.
    Widths are terminal cells (a CJK character takes two), as a person sees them."""
    from rich.cells import cell_len

    cells = [[_fit(visible(_cell(redact_obj(row.get(c))))) for c in columns] for row in rows]
    widths = [max([cell_len(c), *(cell_len(line[i]) for line in cells)])
              for i, c in enumerate(columns)]
    write = sys.stdout.write
    write(title + "\n")
    for line in ([*columns], ["-" * w for w in widths], *cells):
        write("  ".join(_pad(c, w) for c, w in zip(line, widths, strict=True)).rstrip() + "\n")


def _pad(text: str, width: int) -> str:
    from rich.cells import cell_len

    return text + " " * (width - cell_len(text))


def _fit(text: str) -> str:
    from rich.cells import cell_len, set_cell_size

    text = text.replace("\n", "\\n").replace("\t", "\\t")  # one line per row
    if cell_len(text) <= WIDEST:
        return text
    return set_cell_size(text, WIDEST - 1).rstrip(" ") + "…"  # a wide character cut: pad
