"""The plain job table's faster widths (cli/listing.py) against main's code, kept here as
the reference: hostile job names (ANSI escapes, bidi controls, zero-width and combining
characters, CJK, emoji, tag characters, C1, very long, newlines and tabs) come out
byte for byte as before, escaped the same."""

from __future__ import annotations

import contextlib
import io
import random
from collections.abc import Sequence
from typing import Any

from rich.cells import cell_len, set_cell_size

from adminkit.cli import listing
from adminkit.cli.output import _cell, visible
from adminkit.core.secrets import redact_obj

POOL = ["a", "Z", " ", "\x1b[2J", "\x1b]52;c;eA==\x07", "\u202e", "\u2066", "\u200b", "\u2028",
        "界", "😀", "e\u0301", "\n", "\t", "\r", "\x00", "\x9b", "\ufeff", "\u00ad", "\u3000",
        "\u1100", "\u0e33", "x" * 50, "界" * 30, "\u0301", "\U000e0041", "\u200d", "\ufe0f",
        "\u00a0", "\U0010fffd", "…"]


def main_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str) -> str:
    """main's plain_table (before the merge), as text."""
    def fit(text: str) -> str:
        text = text.replace("\n", "\\n").replace("\t", "\\t")
        if cell_len(text) <= listing.WIDEST:
            return text
        return set_cell_size(text, listing.WIDEST - 1).rstrip(" ") + "…"

    cells = [[fit(visible(_cell(redact_obj(row.get(c))))) for c in columns] for row in rows]
    widths = [max([cell_len(c), *(cell_len(line[i]) for line in cells)])
              for i, c in enumerate(columns)]
    lines = [title]
    for line in ([*columns], ["-" * w for w in widths], *cells):
        lines.append("  ".join(c + " " * (w - cell_len(c))
                               for c, w in zip(line, widths, strict=True)).rstrip())
    return "\n".join(lines) + "\n"


def test_hostile_job_names_come_out_as_on_main() -> None:
    rng = random.Random(8)
    columns = ["id", "name", "user", "名前"]
    for _ in range(3000):
        rows = [{"id": i, "name": "".join(rng.choice(POOL) for _ in range(rng.randint(0, 9))),
                 "user": rng.choice(POOL), "名前": rng.choice(POOL) * rng.randint(0, 3)}
                for i in range(3)]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            listing.plain_table(rows, columns, "jobs")
        assert out.getvalue() == main_table(rows, columns, "jobs"), rows
