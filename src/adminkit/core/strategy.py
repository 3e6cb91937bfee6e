"""Where a run's units of work execute: a bounded pool of worker threads, or inline.

A strategy only schedules; the runner says what a unit is (plan, guard, apply, tell
the hooks). Ctrl-C (KeyboardInterrupt in the main thread) is handled here because
only the strategy knows what has started: nothing new starts, `interrupt` tells the
run's connections and event loop, the units already running end, and the
KeyboardInterrupt goes on up. Async actions run under either: their coroutines go to
the run's one event loop (`Context.bridge`), their workers wait for them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, Protocol

from adminkit.core import interrupts

Unit = list[int]  # indexes of the actions one worker does at a time
WAKE = 0.25  # seconds: how late a Ctrl-C may be noticed at most


class Strategy(Protocol):
    def run(self, units: Sequence[Unit], work: Callable[[Unit], None], *,
            interrupt: Callable[[], None]) -> None:
        """Call `work(unit)` for every unit; on Ctrl-C call `interrupt` and stop."""


class ThreadPool:
    """`workers` threads; the connection registry's limits may keep some of them waiting."""

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)

    def run(self, units: Sequence[Unit], work: Callable[[Unit], None], *,
            interrupt: Callable[[], None]) -> None:
        with interrupts.watched():  # a Ctrl-C whose KeyboardInterrupt is lost still counts
            self._run(units, work, interrupt)

    def _run(self, units: Sequence[Unit], work: Callable[[Unit], None],
             interrupt: Callable[[], None]) -> None:
        gate = _Gate()
        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="adminkit")
        futures: list[Future[None]] = []
        try:
            for unit in units:
                futures.append(pool.submit(gate.run, work, unit))
            for future in futures:
                awake_wait(future)
                future.result()
            interrupts.check()  # lost in the last wait: the run stops all the same
        except BaseException as exc:  # Ctrl-C, or a hook (the journal) that broke
            ctrl_c = _ctrl_c(exc)
            try:
                gate.close()
                pool.shutdown(wait=False, cancel_futures=True)
            finally:  # whatever lands in the lines above, the running units are told
                if ctrl_c:
                    interrupts.answered()
                    interrupt()
            gate.wait_idle()  # the running units end; a second Ctrl-C leaves at once
            if ctrl_c and not isinstance(exc, KeyboardInterrupt):
                raise KeyboardInterrupt from exc  # a Ctrl-C turned into another error
            raise
        pool.shutdown()


def _ctrl_c(exc: BaseException) -> bool:
    """`exc` is Ctrl-C's, or came while a Ctrl-C was lost (a lock's `__exit__` may turn
    the KeyboardInterrupt into a RuntimeError)."""
    return isinstance(exc, KeyboardInterrupt) or interrupts.lost()


class _Gate:
    """Counts the units running and, once closed, lets none start. (Ctrl-C may come while
    the pool is still starting a thread: its futures and threads are not all known.)"""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._running = 0
        self._closed = False

    def run(self, work: Callable[[Unit], None], unit: Unit) -> None:
        with self._cond:
            if self._closed:
                return
            self._running += 1
        try:
            work(unit)
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True

    def wait_idle(self) -> None:
        with self._cond:
            while self._running:
                self._cond.wait(WAKE)
                interrupts.check()  # a second Ctrl-C, even one whose exception was lost


def awake_wait(future: Future[Any]) -> None:
    """Wait for `future` in the main thread, waking now and then: a SIGINT that comes just
    as a wait without a timeout begins is only seen when the wait ends (a CPython race),
    so Ctrl-C would be lost. Each wake also asks whether a SIGINT came whose
    KeyboardInterrupt was swallowed meanwhile (`core.interrupts`)."""
    with interrupts.watched():
        while not future.done():
            wait([future], timeout=WAKE)
            interrupts.check()


class Inline:
    """One unit after another in the calling thread: nothing to wait for at Ctrl-C,
    which lands inside the unit itself."""

    def run(self, units: Sequence[Unit], work: Callable[[Unit], None], *,
            interrupt: Callable[[], None]) -> None:
        with interrupts.watched():
            try:
                for unit in units:
                    work(unit)
                    interrupts.check()  # one lost inside the unit stops the run here
            except BaseException as exc:
                if not _ctrl_c(exc):
                    raise
                interrupts.answered()
                interrupt()
                if not isinstance(exc, KeyboardInterrupt):
                    raise KeyboardInterrupt from exc
                raise
