"""Children that a test stops with Ctrl-C.

A shell without job control starts background commands with SIGINT ignored, and a child
inherits that: Python then installs no KeyboardInterrupt handler and the SIGINT a test
sends is lost (the run goes on to the end). A child started with `ctrl_c_able` hears it
as a person's Ctrl-C, however the test suite itself was started.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def ctrl_c_able() -> None:
    """`preexec_fn` for Popen: SIGINT back to its default, as at a terminal."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def as_at_a_terminal() -> None:
    """`preexec_fn` for Popen: SIGINT, SIGTERM and SIGHUP at their defaults, as a
    terminal's processes have them. Under `nohup` (SIGHUP ignored) or a background shell
    (SIGINT ignored) a child inherits the ignoring, and a test of what a run does on
    that signal would see nothing happen."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


class _Child(subprocess.Popen[str]):
    """A Popen whose stderr a thread reads as it comes: a chatty child would otherwise
    fill the pipe (64 KiB) and hang in a write before the test ever reads it.
    `communicate()` waits for the child and returns (None, all its stderr)."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        super().__init__(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True, preexec_fn=ctrl_c_able)
        self._err: list[str] = []
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        stream = self.stderr
        assert stream is not None
        try:
            while chunk := stream.read(4096):
                self._err.append(chunk)
        except (OSError, ValueError):  # closed on the way out while a grandchild holds it
            pass

    def communicate(self, input: str | None = None,
                    timeout: float | None = None) -> tuple[None, str]:
        assert input is None, "the child's stdin is not a pipe"
        self.wait(timeout)
        self._reader.join(timeout)
        return None, "".join(self._err)


@contextmanager
def adminkit_child(argv: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """`argv` (an adminkit command) running as a child that hears Ctrl-C (SIGINT) as at a
    terminal; stdout thrown away, stderr read as it comes and kept as text
    (`communicate()`). Killed on the way out, whatever the test did."""
    proc = _Child(argv, env)
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()
        proc._reader.join(5)
        if proc.stderr is not None:
            proc.stderr.close()


def wait_for_files(proc: subprocess.Popen[str], folder: Path, count: int, *,
                   each: Callable[[], object] | None = None, pause: float = 0.01) -> None:
    """Until `folder` holds `count` entries (the run is writing): the test's moment to
    stop it. Fails if the process ends first, or nothing comes for two minutes; `each`
    runs at every look."""
    deadline = time.monotonic() + 120
    while sum(1 for _ in folder.iterdir()) < count:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never started writing"
        if each is not None:
            each()
        time.sleep(pause)


def exited(pid: int, timeout: float = 120) -> bool:
    """`pid` (a process of this uid, not this one's child) has ended, waited for on a
    pidfd (readable once it exits), for up to `timeout` seconds. Such a process is
    reaped by init, and this machine's init does that only every couple of seconds:
    waiting for /proc/PID to go cost every test that."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True  # gone and reaped already
    try:
        readable, _, _ = select.select([pidfd], [], [], timeout)
        return bool(readable)
    finally:
        os.close(pidfd)
