"""One asyncio event loop for a run, on its own thread, for actions whose client is async.

An async client (msgraph-sdk's, httpx underneath) must be used from the loop it was
made on, for the whole run. The runner's workers stay threads: each hands its
coroutine to `run()` and waits, so the pool, the connection limits and the journal
work for async actions as they do for the rest, with one loop serving them all.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Coroutine
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from adminkit.core.errors import Interrupted
from adminkit.core.strategy import awake_wait

if TYPE_CHECKING:
    import asyncio

T = TypeVar("T")
CLOSE_WAIT = 10.0  # seconds close() gives cancelled coroutines to finish their cleanup
THREADS = 64  # the loop's threads for blocking calls: at least the workers that may wait


class AsyncBridge:
    """Started on first use; `cancel()` on Ctrl-C, `close()` at the end of the run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[Any]] = set()  # touched on the loop's thread only
        self._closed = False

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the loop and return its result, from any thread but the loop's.
        The coroutine sees the caller's context variables (the unit of work's leases).
        Cancelled (Ctrl-C) it raises Interrupted; Ctrl-C while waiting cancels it."""
        done = self.submit(coro)
        try:
            awake_wait(done)
            return done.result()
        except BaseException:
            done.cancel()  # no-op once finished; else the coroutine is cancelled too
            raise

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Start `coro` on the loop; cancelling the returned future cancels it."""
        try:
            loop = self._started()
        except BaseException:
            coro.close()
            raise
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("AsyncBridge.run() on the loop's own thread: await it instead")
        context = contextvars.copy_context()
        done: Future[T] = Future()
        stopped: list[BaseException] = []

        async def guarded() -> T | None:
            try:
                return await coro
            except (KeyboardInterrupt, SystemExit) as exc:  # would stop the loop for all
                stopped.append(exc)
                return None

        def start() -> None:
            if done.cancelled():
                coro.close()
                return
            task = loop.create_task(guarded(), context=context)
            self._tasks.add(task)
            task.add_done_callback(lambda t: self._settle(t, done, stopped))
            done.add_done_callback(lambda _: _call_soon(loop, task.cancel) if done.cancelled()
                                   else None)

        loop.call_soon_threadsafe(start)
        return done

    def _settle(self, task: asyncio.Task[Any], done: Future[T],
                stopped: list[BaseException]) -> None:
        self._tasks.discard(task)
        with contextlib.suppress(InvalidStateError):  # the waiter cancelled it meanwhile
            if task.cancelled():
                done.set_exception(Interrupted("cancelled: the run was interrupted"))
            elif (exc := task.exception() or (stopped[0] if stopped else None)) is not None:
                done.set_exception(exc)
            else:
                done.set_result(task.result())

    def _started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._closed:
                raise RuntimeError("the run's event loop is closed")
            if self._loop is None:
                import asyncio

                loop = asyncio.new_event_loop()
                # waits for a free connection happen on these threads (to_thread)
                loop.set_default_executor(ThreadPoolExecutor(THREADS, "adminkit-loop-io"))
                thread = threading.Thread(target=_serve, args=(loop,), name="adminkit-loop",
                                          daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    @property
    def started(self) -> bool:
        return self._loop is not None

    def cancel(self) -> None:
        """Ctrl-C: cancel every coroutine running now. The loop stays up: closers that
        need it (an async client's aclose) still run on it."""
        with self._lock:
            loop = self._loop
        if loop is not None:
            _call_soon(loop, self._cancel_all)

    def _cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def close(self) -> None:
        """Cancel what still runs, let it clean up, stop the loop and its thread."""
        with self._lock:
            loop, thread, self._closed = self._loop, self._thread, True
        if loop is None or thread is None:
            return
        import asyncio

        async def wind_down() -> None:
            self._cancel_all()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await loop.shutdown_asyncgens()
            await loop.shutdown_default_executor()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(wind_down(), loop).result(CLOSE_WAIT)
        _call_soon(loop, loop.stop)
        thread.join(CLOSE_WAIT)
        if not thread.is_alive():
            loop.close()


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    import asyncio

    asyncio.set_event_loop(loop)
    loop.run_forever()


def _call_soon(loop: asyncio.AbstractEventLoop, fn: Any) -> None:
    with contextlib.suppress(RuntimeError):  # the loop is closed: nothing left to cancel
        loop.call_soon_threadsafe(fn)
