"""The detached delivery's first step (`deliver_later`): queue behind the one running.

At most two detached `ticket flush` processes per journal: the one delivering, and one
waiting to start after it. A run that ends while one waits hands it nothing more (that
one has not claimed a note yet, so it takes every note there is when it starts); without
this, each run with notes left started its own, and with the ticket system hanging, 20
runs kept 20 processes (some 50 MB each) at it for up to 15 minutes.
"""

from __future__ import annotations

import fcntl
import os
import sys

WAIT_FD = "ADMINKIT_LATER_WAIT_FD"  # the waiting slot's lock, held open by the parent
ACTIVE = "ADMINKIT_LATER_ACTIVE"  # the path of the delivering slot's lock


def main() -> None:
    """Take the delivering slot (waiting for the one before), give up the waiting slot,
    and become `adminkit ticket flush` (the slot's lock open across the exec)."""
    waiting = int(os.environ.pop(WAIT_FD))
    fd = os.open(os.environ.pop(ACTIVE), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.close(waiting)
    os.set_inheritable(fd, True)
    # a fixed argv of this interpreter, no shell: the lock stays open across the exec
    os.execv(sys.executable,  # noqa: S606
             [sys.executable, "-m", "adminkit.cli.main", *sys.argv[1:]])


if __name__ == "__main__":
    main()
