"""Reading a CSV of work to do: every row validated before anything runs.

Errors name the file, the line and the column, and all of them are reported at
once, so a technician fixes the file in one go. Cells are data: nothing in them
is evaluated, and a leading `=`/`+`/`-`/`@` means nothing here.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from adminkit.core.errors import ValidationError

MAX_BYTES = 16 << 20
MAX_ROWS = 100_000
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Row:
    line: int  # line number in the file, for messages
    values: dict[str, str]


def read_rows(path: Path, *, required: Sequence[str], optional: Sequence[str] = (),
              any_columns: bool = False) -> list[Row]:
    """Every non-empty row; `any_columns`: the header may name any columns (a playbook's
    `for_each`), else only `required` and `optional` ones."""
    from adminkit.core.files import read_small

    raw = read_small(path, MAX_BYTES, error=ValidationError)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"{path}: not UTF-8 (byte {exc.start})",
                              hint="save the file as UTF-8 (CSV UTF-8 in Excel)") from None
    if not text:
        raise ValidationError(f"{path}: the file is empty")
    # Records end at \n, \r or \r\n only, as every spreadsheet and editor shows them
    # (newline=""): str.splitlines also ends a line at \f, \v, \x1c-\x1e, \x85 and
    # U+2028/9, which would make two rows, two accounts, of what is one row in the file.
    stream = io.StringIO(text, newline="")
    head = stream.readline()
    stream.seek(0)
    # Excel writes ";" in many European locales
    delimiter = ";" if head.count(";") > head.count(",") else ","
    reader = csv.reader(stream, delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
        _check_header(path, header, required, optional, any_columns)
        rows: list[Row] = []
        for cells in reader:
            if len(rows) >= MAX_ROWS:
                raise ValidationError(f"{path}: more than {MAX_ROWS} rows")
            if len(cells) > len(header):
                raise ValidationError(f"{path}:{reader.line_num}: more cells than columns")
            values = {k: (cells[i] if i < len(cells) else "").strip()
                      for i, k in enumerate(header)}
            if any(values.values()):
                rows.append(Row(reader.line_num, values))
    except csv.Error as exc:
        problem = str(exc)
        if "field larger than field limit" in problem:
            problem = f"a cell longer than {csv.field_size_limit()} characters"
        raise ValidationError(f"{path}:{reader.line_num}: {problem}") from None
    if not rows:
        raise ValidationError(f"{path}: no rows")
    return rows


def _check_header(path: Path, header: list[str], required: Sequence[str],
                  optional: Sequence[str], any_columns: bool) -> None:
    known = [*required, *optional]
    if not any_columns and not set(header) & set(known):
        # not a CSV of this work at all: its first line is quoted nowhere (it may be a
        # secret's file or /etc/shadow, and an error can reach a journal row and a note)
        raise ValidationError(f"{path}:1: the first line names none of the columns "
                              f"({', '.join(known)}): is it the right file?",
                              hint="the first line of the CSV names its columns")
    twice = [name for name, n in Counter(header).items() if n > 1 and name]
    if twice:  # a second `login` column would silently win over the first
        raise ValidationError(f"{path}:1: column(s) named twice: {', '.join(twice)}")
    if "" in header:
        raise ValidationError(f"{path}:1: column {header.index('') + 1} has no name")
    missing = [c for c in required if c not in header]
    unknown = [] if any_columns else [
        c for c in header if c not in required and c not in optional]
    problems = []
    if missing:
        problems.append(f"missing column(s): {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown column(s): {', '.join(unknown)} "
                        f"(known: {', '.join(known)})")
    if problems:
        raise ValidationError(f"{path}: " + "; ".join(problems))


def parse_rows(path: Path, rows: Sequence[Row], model: type[M],
               convert: Callable[[dict[str, str]], dict[str, Any]]) -> list[tuple[Row, M]]:
    """Validate every row; raise one error listing every bad row with its line number."""
    parsed, problems = [], []
    for row in rows:
        try:
            parsed.append((row, model.model_validate(convert(row.values))))
        except PydanticValidationError as exc:
            for err in exc.errors(include_url=False, include_input=False):
                column = ".".join(str(p) for p in err["loc"]) or "row"
                problems.append(f"{path}:{row.line}: {column}: {err['msg']}")
        except ValueError as exc:
            problems.append(f"{path}:{row.line}: {exc}")
    if problems:
        raise ValidationError(f"{len(problems)} problem(s) in {path}, nothing was changed:\n  "
                              + "\n  ".join(problems[:50])
                              + (f"\n  … and {len(problems) - 50} more" if len(problems) > 50
                                 else ""))
    return parsed
