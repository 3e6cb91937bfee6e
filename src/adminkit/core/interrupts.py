"""Ctrl-C that is not lost: each SIGINT of a run is counted before Python raises it.

Python turns SIGINT into a KeyboardInterrupt raised in the main thread wherever it
happens to be, and some places drop it: a finalizer or weakref callback that the
garbage collector runs there ("Exception ignored in ..."), library code that catches
BaseException, a lock's `__exit__` that turns it into a RuntimeError. A run whose
main thread only waits for its workers would then wait forever, Ctrl-C doing nothing.
So while a run is `watched()`, the SIGINT handler counts before it raises, and the
main thread's waits ask `lost()` when they wake: the count says a Ctrl-C came even
where the exception did not get through.

SIGTERM (`kill`, `timeout`, systemd stopping a scheduled job) and SIGHUP (the terminal
or SSH session closed) end a watched run the same way, where nothing else handles them:
left at their default they killed the process at once, leaving every host's command
running there until its deadline, the journal's rows `started` and no note.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import FrameType

_count = 0  # SIGINTs seen by `_counted` (written in the main thread only)
# taken as Ctrl-C in a watched run: SIGINT where Python's default handler has it, the
# others where they are at the system's default (terminate)
_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# the count that the watched run has answered; None: no run watched in this context
_answered: ContextVar[int | None] = ContextVar("adminkit_sigints_answered", default=None)


def _counted(signum: int, frame: FrameType | None) -> None:
    global _count
    _count += 1
    signal.default_int_handler(signum, frame)  # raises KeyboardInterrupt


@contextmanager
def watched() -> Iterator[None]:
    """Count SIGINTs (and SIGTERM, SIGHUP) for the length of a run (main thread; a nested
    run is the outer's). A handler other than the default (an embedding program's, a
    server's) is left alone."""
    if threading.current_thread() is not threading.main_thread() \
            or _answered.get() is not None:
        yield
        return
    installed = {}
    for signum in _SIGNALS:
        default = signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL
        if signal.getsignal(signum) is default:
            installed[signum] = default
            signal.signal(signum, _counted)
    token = _answered.set(_count)
    try:
        yield
    finally:
        _answered.reset(token)
        for signum, default in installed.items():
            if signal.getsignal(signum) is _counted:
                signal.signal(signum, default)


def lost() -> bool:
    """A SIGINT came in the watched run that nobody has answered yet: its
    KeyboardInterrupt was swallowed or turned into another exception."""
    answered = _answered.get()
    return answered is not None and _count > answered


def check() -> None:
    """Raise the KeyboardInterrupt of a lost SIGINT (answering it)."""
    if lost():
        answered()
        raise KeyboardInterrupt


def answered() -> None:
    """The run acts on the Ctrl-C it had: from now on only a further one is lost."""
    if _answered.get() is not None:
        _answered.set(_count)
