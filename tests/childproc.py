"""Children that a test stops with Ctrl-C.

A shell without job control starts background commands with SIGINT ignored, and a child
inherits that: Python then installs no KeyboardInterrupt handler and the SIGINT a test
sends is lost (the run goes on to the end). A child started with `ctrl_c_able` hears it
as a person's Ctrl-C, however the test suite itself was started.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def ctrl_c_able() -> None:
    """`preexec_fn` for Popen: SIGINT back to its default, as at a terminal."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextmanager
def adminkit_child(argv: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """`argv` (an adminkit command) running as a child that hears Ctrl-C (SIGINT) as at a
    terminal; stdout thrown away, stderr kept as text. Killed on the way out, whatever
    the test did."""
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, preexec_fn=ctrl_c_able)
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()
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
