"""Work done in a forked child, which may take another OS identity (setuid, loginuid)
for real, as root can, without touching the test process's own."""

from __future__ import annotations

import os
import pwd
from collections.abc import Callable


def in_forked_child(work: Callable[[], str]) -> str:
    """`work()` in a forked child: what it returned, or `error:TYPE: MESSAGE`. A child
    that drops to another uid may no longer read the interpreter's library (pyenv under
    /root): whatever `work` imports lazily must be imported before."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(r)
        try:
            answer = work()
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            answer = f"error:{type(exc).__name__}: {exc}"
        os.write(w, answer.encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        answer = f.read().decode()
    os.waitpid(pid, 0)
    return answer


def unused_uid() -> int:
    """A uid no passwd entry names (`docker run --user 54321`, a deleted login's)."""
    uid = 54321
    while True:
        try:
            pwd.getpwuid(uid)
        except KeyError:
            return uid
        uid += 1
