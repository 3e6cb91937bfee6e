"""Async actions: their coroutines run on the run's one event loop, side by side within
the connection limits, and Ctrl-C cancels them and closes their connections."""

from __future__ import annotations

import asyncio
import contextvars
import signal
import threading
from typing import Any

import pytest

from adminkit.core.bridge import AsyncBridge
from adminkit.core.context import Context
from adminkit.core.errors import Interrupted
from adminkit.core.result import Status
from adminkit.core.run import Run
from adminkit.core.runner import Runner
from tests.unit.toys import AsyncToy, RecordingHook, TargetParams, ToyServer, async_toy_server

GUARD = 30.0  # seconds: only turns a hang into a failure
TENANT = "https://graph.example/tenant-1"


@pytest.fixture
def server() -> ToyServer:
    return async_toy_server(GUARD)


def _rows(n: int) -> list[AsyncToy]:
    return [AsyncToy(TargetParams(key=str(i), target=TENANT)) for i in range(n)]


async def _until(condition: Any) -> None:
    for _ in range(int(GUARD * 1000)):
        if condition():
            return
        await asyncio.sleep(0.001)


def test_many_rows_run_side_by_side_on_one_loop_within_the_limit(server: ToyServer) -> None:
    async def work(key: str) -> None:
        # the first ones wait until three are in flight at once: they run side by side
        await _until(lambda: server.peak[TENANT] >= 3)

    AsyncToy.work = work
    ctx = Context(run=Run(command="toy"))
    report = Runner(ctx).execute(_rows(40), workers=12)  # 9 wait for a connection
    assert [r.status for r in report.results] == [Status.CHANGED] * 40
    assert server.peak[TENANT] == 3  # reached, and never more
    assert server.opened <= 3 and server.closed == 0
    loop_thread = ctx.bridge._thread
    assert loop_thread is not None and AsyncToy.threads == {loop_thread.ident}
    ctx.close()
    assert server.closed == server.opened and server.closed_twice == 0
    assert not loop_thread.is_alive()


def test_ctrl_c_cancels_the_coroutines_and_closes_their_connections(
        server: ToyServer) -> None:
    """Three coroutines are in flight (the limit) and three workers wait for a connection
    when Ctrl-C comes: the three are cancelled, the waiting ones refused."""
    cancelled: list[str] = []

    async def work(key: str) -> None:
        if server.in_flight[TENANT] == 3:
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
        try:
            await asyncio.Event().wait()  # a request that never answers
        except asyncio.CancelledError:
            cancelled.append(key)
            raise

    AsyncToy.work = work
    ctx = Context(run=Run(command="toy"))
    events: list[tuple[str, str, Any]] = []
    runner = Runner(ctx, [RecordingHook("h", events)])
    with pytest.raises(KeyboardInterrupt):
        runner.execute(_rows(20), workers=6)
    assert len(cancelled) == 3
    assert events[-1] == ("h", "run_finished", "interrupted")
    finished = [e[2] for e in events if e[1] == "action_finished"]
    # cancelled or refused while planning: nothing was written, so nothing failed
    assert len(finished) >= 3 and all(status == "skipped" for _, status in finished)
    assert runner.report is not None
    assert not any(r.failed for r in runner.report.results)
    assert all("interrupted" in r.summary or "stopped first" in r.summary
               for r in runner.report.results)
    assert server.opened == 3 and server.closed == 3  # closed before the run is
    assert server.in_flight[TENANT] == 0
    ctx.close()
    assert server.closed_twice == 0


def test_the_bridge_returns_results_raises_errors_and_passes_context() -> None:
    bridge = AsyncBridge()
    assert not bridge.started  # nothing until the first coroutine
    seen: contextvars.ContextVar[str] = contextvars.ContextVar("seen", default="none")

    async def answer() -> tuple[str, int]:
        return seen.get(), threading.get_ident()

    async def fail() -> None:
        raise ValueError("from the loop")

    seen.set("the worker's")
    value, ident = bridge.run(answer())
    assert value == "the worker's" and ident != threading.get_ident()
    with pytest.raises(ValueError, match="from the loop"):
        bridge.run(fail())
    bridge.close()
    with pytest.raises(RuntimeError, match="closed"):
        bridge.run(answer())


def test_a_cancelled_coroutine_says_interrupted() -> None:
    bridge = AsyncBridge()
    running = threading.Event()

    async def forever() -> None:
        running.set()
        await asyncio.Event().wait()

    done = bridge.submit(forever())
    assert running.wait(GUARD)
    bridge.cancel()
    with pytest.raises(Interrupted, match="interrupted"):
        done.result(GUARD)
    bridge.close()
