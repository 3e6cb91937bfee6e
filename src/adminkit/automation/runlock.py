"""One process at a time per run: a run and any resume of it exclude each other.

Two resumes of one run at once would both create its missing accounts, and the loser
would write and then take back the winner's password file: accounts with a password
nobody has. The lock is an `flock` on a small file per run beside the journal: the
kernel drops it when its process dies, so a killed run can be resumed at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

from adminkit.core import paths
from adminkit.core.errors import UsageError

RUN_ID = re.compile(r"^R-\d{8}-\d{6}-[0-9a-f]{6}\Z")


class Busy(UsageError):
    """Another process holds the lock (a run, its resume, a schedule): nothing was done,
    and trying again later may well work."""


class RunLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.done = False  # set when the run ended well: nobody will resume it

    def forget(self) -> None:
        """The run ended well: its lock file goes (while it is still held)."""
        with contextlib.suppress(OSError):
            self.path.unlink()


@contextlib.contextmanager
def run_lock(journal_path: Path, run_id: str) -> Iterator[RunLock]:
    name = run_id if RUN_ID.fullmatch(run_id) else hashlib.sha256(run_id.encode()).hexdigest()
    with held(journal_path, name, f"run {run_id} is running, or being resumed, in another "
              "process", hint="wait for it to end; `adminkit journal list --runs` shows "
                              "how runs ended") as lock:
        yield lock
        if lock.done:
            lock.forget()


@contextlib.contextmanager
def held(journal_path: Path, name: str, busy: str, *, hint: str | None = None
         ) -> Iterator[RunLock]:
    """The flock on `run-locks/NAME.lock` beside the journal; `busy` is the error's
    message when another process holds it."""
    folder = journal_path.parent / "run-locks"
    paths.private_dir(folder)
    lock = RunLock(folder / f"{name}.lock")
    fd = os.open(lock.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(busy, hint=hint) from None
        yield lock
    finally:
        os.close(fd)
