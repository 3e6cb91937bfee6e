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

from adminkit.cli.output import JSON_UNSEEN, _cell, emit_rows, visible
from adminkit.cli.state import GlobalState, OutputFormat
from adminkit.core.csvcell import csv_safe
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
    Widths are terminal cells (a CJK character takes two), as a person sees them; each
    cell's width is found once (2,000 jobs: 16,000 cells)."""
    cells = [[_fit(_shown(_cell(redact_obj(row.get(c))))) for c in columns] for row in rows]
    head = [(c, _width(c)) for c in columns]
    widths = [max([w, *(line[i][1] for line in cells)]) for i, (_c, w) in enumerate(head)]
    write = sys.stdout.write
    write(title + "\n")
    rule = [("-" * w, w) for w in widths]
    for line in (head, rule, *cells):
        write("  ".join(text + " " * (w - width) for (text, width), w
                        in zip(line, widths, strict=True)).rstrip() + "\n")


def _shown(text: str) -> str:
    """`visible`: every character it shows otherwise is one Python finds unprintable."""
    return text if text.isprintable() else visible(text)


def _width(text: str) -> int:
    """Terminal cells: one a character for printable ASCII (tested in C), else rich's."""
    if text.isascii() and text.isprintable():
        return len(text)
    from rich.cells import cell_len

    return int(cell_len(text))


def _fit(text: str) -> tuple[str, int]:
    """The cell as shown on one line, at most WIDEST cells wide, and its width."""
    text = text.replace("\n", "\\n").replace("\t", "\\t")  # one line per row
    width = _width(text)
    if width <= WIDEST:
        return text, width
    from rich.cells import set_cell_size

    cut = set_cell_size(text, WIDEST - 1).rstrip(" ") + "…"  # a wide character cut: pad
    return cut, _width(cut)
