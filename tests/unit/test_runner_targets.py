"""The runner with the connection registry: limits in bulk runs, leases back after failed
rows, connections kept from the validation pass for the writes, and Ctrl-C."""

from __future__ import annotations

import signal
import threading
from typing import Any

import pytest

from adminkit.core.context import Context
from adminkit.core.errors import ExitCode
from adminkit.core.result import Result, Status
from adminkit.core.run import Run
from adminkit.core.runner import Runner
from adminkit.core.strategy import Inline
from adminkit.core.targets import Limits
from adminkit.journal.hook import JournalHook
from adminkit.journal.store import Filters, Journal
from tests.unit.conftest import Env
from tests.unit.toys import RecordingHook, TargetAction, TargetParams, ToyServer

GUARD = 30.0  # seconds: only turns a hang into a failure
Events = list[tuple[str, str, Any]]


def _ctx(check: bool = False) -> Context:
    return Context(run=Run(command="toy", check=check))


@pytest.fixture
def server() -> ToyServer:
    server = ToyServer()
    TargetAction.server, TargetAction.work = server, None
    TargetAction.limits = Limits(per_target=2, wait_timeout=GUARD)
    return server


def _rows(n: int, targets: tuple[str, ...] = ("t1",), **kw: Any) -> list[TargetAction]:
    return [TargetAction(TargetParams(key=str(i), target=targets[i % len(targets)], **kw), [])
            for i in range(n)]


def _interrupt_main() -> None:
    """What Ctrl-C does: SIGINT to the main thread, which raises KeyboardInterrupt."""
    signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)


def test_a_bulk_run_keeps_to_the_limits_and_reuses_connections(server: ToyServer) -> None:
    ctx = _ctx()
    report = Runner(ctx).execute(_rows(40, ("a", "b")), workers=8)
    assert [r.status for r in report.results] == [Status.CHANGED] * 40
    assert max(server.peak.values()) <= 2 and max(server.open_peak.values()) <= 2
    assert server.opened <= 4 and server.closed == 0  # reused, not reopened per row
    ctx.close()
    assert server.closed == server.opened and server.closed_twice == 0


def test_failed_rows_give_their_connection_back(server: ToyServer) -> None:
    """One connection allowed: a failed row that kept it would stop every later row
    (they would wait, then fail with "no free connection")."""
    TargetAction.limits = Limits(per_target=1, wait_timeout=GUARD)
    ctx = _ctx()
    rows = [TargetAction(TargetParams(key=str(i), fail_in=("plan", "apply", None)[i % 3]), [])
            for i in range(12)]
    report = Runner(ctx).execute(rows, workers=3)
    assert [r.status for r in report.results] == [Status.FAILED, Status.FAILED,
                                                  Status.CHANGED] * 4
    assert all(r.error == "boom" for r in report.results if r.failed)
    assert server.opened == 1
    ctx.close()
    assert server.closed == 1


def test_the_writes_reuse_the_connections_of_the_validation_pass(server: ToyServer) -> None:
    rows = _rows(12)
    first = _ctx(check=True)
    checker = Runner(first, keep_plans=True)
    checker.execute(rows, workers=2)
    opened = server.opened
    assert 1 <= opened <= 2
    second = first.handover(Run(command="toy"))
    first.close()
    assert server.closed == 0  # no longer the first context's to close
    report = Runner(second, planned=checker.plans).execute(rows, workers=2)
    assert [r.status for r in report.results] == [Status.CHANGED] * 12
    assert server.opened == opened  # not one more connection for the writes
    second.close()
    assert server.closed == opened and server.closed_twice == 0


def test_ctrl_c_stops_a_bulk_run_journals_it_interrupted_and_closes(
        server: ToyServer, env: Env) -> None:
    """Three rows are in flight when Ctrl-C comes; a fourth worker waits for a connection.
    The three finish, the fourth is refused, nothing else starts."""
    TargetAction.limits = Limits(per_target=3, wait_timeout=GUARD)
    ctx = _ctx()
    started: list[tuple[str, bool]] = []
    lock = threading.Lock()

    def work(key: str) -> None:
        if key in {k for k, _ in started}:  # its apply: no waiting
            return
        with lock:
            started.append((key, ctx.targets.cancelled))
            if len(started) == 3:
                _interrupt_main()
        for _ in range(int(GUARD * 1000)):  # in flight until the run is interrupted
            if ctx.targets.cancelled:
                return
            threading.Event().wait(0.001)

    TargetAction.work = work
    events: Events = []
    journal = Journal(env.journal)
    runner = Runner(ctx, [RecordingHook("h", events), JournalHook(journal)])
    rows = _rows(12)
    with pytest.raises(KeyboardInterrupt):
        runner.execute(rows, workers=4)
    assert len(started) == 3 and not any(late for _, late in started)  # none after Ctrl-C
    report = runner.report
    assert report is not None and report.interrupted
    assert report.status == "interrupted" and report.exit_code == ExitCode.INTERRUPTED
    first = {int(k) for k, _ in started}
    by_status = {i: r for i, r in enumerate(report.results)}
    assert all(by_status[i].status is Status.CHANGED for i in first), \
        [(i, r.summary) for i, r in by_status.items()]
    others = [r for i, r in by_status.items() if i not in first]
    assert all(r.status is Status.SKIPPED or (r.failed and r.exit_code == 130)
               for r in others)
    journaled = {e[2][0] for e in events if e[1] == "action_finished"}
    assert journaled == {i for i, r in by_status.items() if r.status is not Status.SKIPPED}
    assert events[-1] == ("h", "run_finished", "interrupted")
    [end] = journal.entries(Filters(run_id=ctx.run.id, kinds=["end"]))
    assert end["status"] == "interrupted"
    assert end["detail"]["exit_code"] == 130
    journal.close()
    assert server.opened == 3 and server.closed == 3  # closed before the run is closed
    ctx.close()
    assert server.closed_twice == 0


@pytest.mark.parametrize("path", ["inline", "steps"])
def test_ctrl_c_inside_a_row_in_the_main_thread(server: ToyServer, path: str) -> None:
    """Run in the main thread (the inline strategy; a playbook's steps), Ctrl-C lands
    inside the running row: neither it nor anything after it is journaled; its
    connection is closed as it goes back."""
    def work(key: str) -> None:
        if key == "2":
            raise KeyboardInterrupt

    TargetAction.work = work
    ctx = _ctx()
    events: Events = []
    runner = Runner(ctx, [RecordingHook("h", events)],
                    strategy=Inline() if path == "inline" else None)
    rows = _rows(5) if path == "inline" else iter(_rows(5))  # a list goes in units
    with pytest.raises(KeyboardInterrupt):
        runner.execute(rows, workers=4 if path == "inline" else 1)
    assert [e[2] for e in events if e[1] == "action_finished"] == [(0, "changed"),
                                                                  (1, "changed")]
    assert events[-1] == ("h", "run_finished", "interrupted")
    assert runner.report is not None and runner.report.exit_code == 130
    assert server.opened == 1 and server.closed == 1
    ctx.close()
    assert server.closed_twice == 0


def test_a_broken_hook_stops_the_run_and_everything_is_closed(server: ToyServer) -> None:
    class Broken(RecordingHook):
        def action_finished(self, run: Run, index: int, result: Result) -> None:
            raise OSError("journal: disk full")

    ctx = _ctx()
    events: Events = []
    with pytest.raises(OSError, match="disk full"):
        Runner(ctx, [Broken("h", events)]).execute(_rows(20), workers=2)
    assert events[-1][1] == "run_finished"
    ctx.close()
    assert server.closed == server.opened and server.closed_twice == 0
