"""A CSV cell a spreadsheet opens as text: every CSV adminkit writes (listings, the
journal's export, the monthly report) passes its free text through `csv_safe`."""

from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(text: str) -> str:
    """Spreadsheets run a cell starting with = + - @ (or a tab or CR before one) as a
    formula: quote it as text."""
    return "'" + text if text.startswith(FORMULA_START) else text
