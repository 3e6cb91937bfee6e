"""Ctrl-C whose KeyboardInterrupt the main thread loses still stops the run.

Python raises KeyboardInterrupt wherever the main thread is when it handles SIGINT. If
that is a finalizer the garbage collector runs there, the exception is dropped
("Exception ignored in ..."); a lock's `__exit__` may turn it into a RuntimeError.
Either way a run whose main thread waits for coroutines that await forever hung: the
coroutines were never cancelled. Here the main thread, while it waits, runs code that
loses the Ctrl-C in each of those ways (a SIGUSR2 handler makes it run that code there);
the coroutines give up after GUARD seconds, so a regression fails instead of hanging.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import pytest

from adminkit.core import interrupts
from adminkit.core.context import Context
from adminkit.core.run import Run
from adminkit.core.runner import Runner
from adminkit.core.strategy import Inline, Strategy, ThreadPool
from tests.unit.toys import AsyncToy, RecordingHook, TargetParams, ToyServer, async_toy_server

GUARD = 30.0  # seconds: only turns a hang into a failure
TENANT = "https://graph.example/tenant-1"


class _SwallowedAtCollection:
    """Garbage whose finalizer is running when the Ctrl-C is handled: Python prints
    "Exception ignored in ..." and the KeyboardInterrupt is gone."""

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        signal.raise_signal(signal.SIGINT)


def _in_a_finalizer() -> None:
    _SwallowedAtCollection()
    gc.collect()


def _turned_into_runtime_error() -> None:
    """What a lock's `__exit__` does when the KeyboardInterrupt came in `acquire`."""
    try:
        signal.raise_signal(signal.SIGINT)
    except KeyboardInterrupt as exc:
        raise RuntimeError("release unlocked lock") from exc


def _delivered() -> None:
    signal.raise_signal(signal.SIGINT)


LOSING = {"in a finalizer": _in_a_finalizer, "as a RuntimeError": _turned_into_runtime_error,
          "delivered": _delivered}


@pytest.fixture
def in_main_thread() -> Iterator[Callable[[Callable[[], None]], None]]:
    """`run_there(code)`: the main thread runs `code` soon, wherever it waits (SIGUSR2)."""
    todo: list[Callable[[], None]] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        while todo:
            todo.pop()()

    previous = signal.signal(signal.SIGUSR2, handler)

    def run_there(code: Callable[[], None]) -> None:
        todo.append(code)
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGUSR2)

    yield run_there
    signal.signal(signal.SIGUSR2, previous)


@pytest.fixture
def server() -> ToyServer:
    return async_toy_server(GUARD)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("losing", LOSING.values(), ids=LOSING.keys())
@pytest.mark.parametrize("strategy", [ThreadPool(6), Inline()], ids=["pool", "inline"])
def test_a_ctrl_c_lost_in_the_main_thread_still_cancels_the_coroutines(
        server: ToyServer, in_main_thread: Callable[[Callable[[], None]], None],
        losing: Callable[[], None], strategy: Strategy) -> None:
    in_flight = 3 if isinstance(strategy, ThreadPool) else 1  # inline: one at a time
    cancelled: list[str] = []
    gave_up = threading.Event()

    async def work(key: str) -> None:
        if server.in_flight[TENANT] == in_flight:
            in_main_thread(losing)
        if gave_up.is_set():
            return
        try:
            await asyncio.wait_for(asyncio.Event().wait(), GUARD)  # never answers
        except asyncio.CancelledError:
            cancelled.append(key)
            raise
        except TimeoutError:  # not cancelled: the Ctrl-C was lost (the old hang)
            gave_up.set()

    AsyncToy.work = work
    ctx = Context(run=Run(command="toy"))
    events: list[tuple[str, str, Any]] = []
    runner = Runner(ctx, [RecordingHook("h", events)], strategy=strategy)
    rows = [AsyncToy(TargetParams(key=str(i), target=TENANT)) for i in range(20)]
    with pytest.raises(KeyboardInterrupt):
        runner.execute(rows, workers=6)
    ctx.close()
    assert not gave_up.is_set()
    assert len(cancelled) == in_flight
    assert events[-1] == ("h", "run_finished", "interrupted")
    assert runner.report is not None and runner.report.exit_code == 130
    assert not any(r.failed for r in runner.report.results)
    assert all("interrupted" in r.summary or "stopped first" in r.summary
               for r in runner.report.results)
    assert server.opened == in_flight and server.closed == in_flight
    assert server.closed_twice == 0 and server.in_flight[TENANT] == 0


def test_a_run_answers_its_ctrl_c_and_leaves_the_handler_as_it_was() -> None:
    """The count is per run: a Ctrl-C answered (or one before the run) does not stop
    the next wait, and Python's own handler is back after the run."""
    with interrupts.watched():
        assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
        assert interrupts.lost()
        interrupts.answered()
        assert not interrupts.lost()
        interrupts.check()  # nothing to raise
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert not interrupts.lost()  # outside a run nothing is ever lost
    with interrupts.watched():
        assert not interrupts.lost()


def test_a_worker_thread_is_never_told_of_the_main_threads_ctrl_c() -> None:
    seen: list[bool] = []

    def worker() -> None:
        with interrupts.watched():
            seen.append(interrupts.lost())

    with interrupts.watched():
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join(GUARD)
        assert seen == [False]


class _LosingHook(RecordingHook):
    """Loses a Ctrl-C in the main thread before any row starts (as run_started runs)."""

    def run_started(self, run: Run) -> None:
        super().run_started(run)
        _in_a_finalizer()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("bulk", [True, False], ids=["pool", "one by one"])
def test_a_ctrl_c_lost_before_the_rows_start_stops_the_run(server: ToyServer,
                                                            bulk: bool) -> None:
    gave_up = threading.Event()

    async def work(key: str) -> None:
        if gave_up.is_set():
            return
        try:
            await asyncio.wait_for(asyncio.Event().wait(), GUARD)
        except TimeoutError:  # not cancelled: the Ctrl-C was lost
            gave_up.set()

    AsyncToy.work = work
    ctx = Context(run=Run(command="toy"))
    events: list[tuple[str, str, Any]] = []
    runner = Runner(ctx, [_LosingHook("h", events)], stop_on_error=not bulk)
    rows = [AsyncToy(TargetParams(key=str(i), target=TENANT)) for i in range(5)]
    with pytest.raises(KeyboardInterrupt):
        runner.execute(rows, workers=3 if bulk else 1)
    ctx.close()
    assert not gave_up.is_set()
    assert events[-1] == ("h", "run_finished", "interrupted")
    assert runner.report is not None and not any(r.failed for r in runner.report.results)
    assert server.closed == server.opened and server.closed_twice == 0
