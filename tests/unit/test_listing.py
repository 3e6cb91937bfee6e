"""Long listings (print jobs) written row by row: the same CSV and JSON as `emit_rows`,
and a plain table, not a rich one, past RICH_ROWS rows."""

from __future__ import annotations

import pytest

from adminkit.cli.listing import RICH_ROWS, emit_listing
from adminkit.cli.output import emit_rows
from adminkit.cli.state import GlobalState, OutputFormat
from adminkit.core.secrets import Secret

COLUMNS = ["id", "owner", "name"]


def rows(n: int) -> list[dict[str, object]]:
    return [{"id": i, "owner": "=cmd|' /C calc'!A0" if i == 2 else f"user{i}",
             "name": "esc \x1b]52;c;aGk=\x07 here\nand a line" if i == 3 else f"doc {i}",
             "extra": None} for i in range(1, n + 1)]


@pytest.mark.parametrize("output", [OutputFormat.CSV, OutputFormat.JSON])
def test_csv_and_json_are_what_emit_rows_writes(output: OutputFormat,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    Secret("Canary-Listing-77")
    data = [*rows(5), {"id": 6, "owner": "x", "name": "pw Canary-Listing-77"}]
    emit_rows(GlobalState(output=output), data, COLUMNS)
    expected = capsys.readouterr().out
    emit_listing(GlobalState(output=output), iter(data), COLUMNS, title="t")
    got = capsys.readouterr().out
    assert got == expected
    assert "Canary-Listing-77" not in got
    assert ("'=cmd" in got) == (output is OutputFormat.CSV)  # a formula is quoted as text


def test_a_long_table_is_plain_aligned_text(capsys: pytest.CaptureFixture[str]) -> None:
    Secret("Canary-Listing-78")
    data = rows(RICH_ROWS + 1)
    data[9]["name"] = "n" * 60 + " Canary-Listing-78"
    emit_listing(GlobalState(), data, COLUMNS, title="jobs (201)")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "jobs (201)" and lines[1].split() == COLUMNS
    assert len(lines) == 3 + RICH_ROWS + 1  # one line a row: the newline in a name shown
    assert "\x1b" not in "".join(lines) and "\\x1b]52" in lines[5]
    assert "\\n" in lines[5] and lines[12].endswith("…")
    assert "Canary-Listing-78" not in "".join(lines)
    assert len({line.index("user") for line in lines[3:] if "user" in line}) == 1  # aligned


def test_a_short_table_is_still_rich(capsys: pytest.CaptureFixture[str]) -> None:
    emit_listing(GlobalState(), rows(3), COLUMNS, title="jobs (3)")
    out = capsys.readouterr().out
    assert "┃" in out or "│" in out


def test_a_long_table_stays_aligned_with_wide_characters(
        capsys: pytest.CaptureFixture[str]) -> None:
    """A job title or user name in CJK takes two terminal cells a character: the columns
    after it stay aligned on screen, and a long one is cut at the column's width."""
    from rich.cells import cell_len

    data = [{"id": i, "owner": "打印机用户" if i % 2 else "bob", "name": "報告書" * 20}
            for i in range(1, RICH_ROWS + 2)]
    emit_listing(GlobalState(), data, COLUMNS, title="jobs")
    lines = capsys.readouterr().out.splitlines()[3:]
    starts = {cell_len(line[:line.index("報")]) for line in lines}
    assert len(starts) == 1  # the name column starts at one screen column in every row
    [width] = {cell_len(line) - max(starts) for line in lines}
    assert 38 <= width <= 40  # the name cut to the column's 40 cells, wide characters whole


def test_the_plain_table_is_what_rich_measures_cell_by_cell(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Widths found once per cell, printable ASCII by its length: the same text as
    measuring every cell with rich (controls, bidi marks, zero-width, CJK, cut cells)."""
    from rich.cells import cell_len, set_cell_size

    from adminkit.cli.listing import WIDEST
    from adminkit.cli.output import visible

    odd = ["ok", "tab\there", "bidi \u202egnp.exe", "zero\u200bwidth", "soft\u00adhyphen",
           "報告書" * 20, "é" * 50, "\x7f\x9b31m", "a" * 39 + "報", "x" * 41, "", "\u3000wide"]
    data = [{"id": i, "owner": odd[i % len(odd)], "name": odd[(i * 5) % len(odd)]}
            for i in range(1, RICH_ROWS + 40)]
    emit_listing(GlobalState(), data, COLUMNS, title="jobs")
    got = capsys.readouterr().out

    def fit(value: object) -> str:
        text = visible(str(value)).replace("\n", "\\n").replace("\t", "\\t")
        if cell_len(text) <= WIDEST:
            return text
        return set_cell_size(text, WIDEST - 1).rstrip(" ") + "…"

    cells = [[fit(row[c]) for c in COLUMNS] for row in data]
    widths = [max([cell_len(c), *(cell_len(line[i]) for line in cells)])
              for i, c in enumerate(COLUMNS)]
    expected = ["jobs"] + ["  ".join(c + " " * (w - cell_len(c)) for c, w in
                                     zip(line, widths, strict=True)).rstrip()
                           for line in (COLUMNS, ["-" * w for w in widths], *cells)]
    assert got == "\n".join(expected) + "\n"
