"""Finding the processes an install left running, so they can be stopped by PID.

apt runs with a variable holding a random token in its environment. dpkg, the
maintainer scripts and any daemon they start inherit it (start-stop-daemon and the
init scripts keep the environment), and a process's initial environment stays
readable in /proc/PID/environ. After the install, a live process carrying the token
was started by it: nobody else knows the token. A daemon that clears its
environment before it execs, or one that systemd starts on the install's behalf, is
not found this way; the lab's policy-rc.d keeps the latter from happening.

One exception is left running: a process that replaced one that ran before the
install, with the same program and command line (a package that restarted its
running daemon behind policy-rc.d's back). Stopping it would leave down a service
that was up.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from adminkit.lab import process

TAG_VAR = "ADMINKIT_LAB_INSTALL"


@dataclass(frozen=True)
class ProcInfo:
    pid: int
    start_ticks: int
    exe: str  # the program, from /proc/PID/exe ("" when unreadable)
    cmdline: str  # argv joined with spaces
    tagged: bool  # carries the install's token


def scan(token: str | None = None) -> list[ProcInfo]:
    """Every live process (zombies and kernel threads left out), tagged if it has `token`."""
    marker = f"{TAG_VAR}={token}".encode() if token else None
    found = []
    for pid in _pids():
        info = _read(pid, marker)
        if info is not None:
            found.append(info)
    return found


def to_stop(before: Iterable[ProcInfo], after: Iterable[ProcInfo]) -> list[ProcInfo]:
    """The tagged processes of `after`, except those that took the place of one in `before`.

    A process is identified by PID and start time; one of `before` that is no longer in
    `after` has exited, and a tagged process with its program and command line is taken
    for its replacement.
    """
    after = list(after)
    alive = {(p.pid, p.start_ticks) for p in after}
    gone = {(p.exe, p.cmdline) for p in before if (p.pid, p.start_ticks) not in alive}
    return [p for p in after if p.tagged and (p.exe, p.cmdline) not in gone]


def stop(procs: Iterable[ProcInfo]) -> list[ProcInfo]:
    """SIGTERM (then SIGKILL) each, by PID and start time; return those stopped."""
    stopped = []
    for info in procs:
        record = process.Proc(pid=info.pid, start_ticks=info.start_ticks,
                              argv0=os.path.basename(info.exe), group=False)
        if process.alive(record):
            process.stop(record)
            stopped.append(info)
    return stopped


def describe(info: ProcInfo) -> str:
    return f"{os.path.basename(info.exe) or '?'} (pid {info.pid})"


def _pids() -> list[int]:
    return [int(e) for e in os.listdir("/proc") if e.isdigit()]


def _read(pid: int, marker: bytes | None) -> ProcInfo | None:
    folder = Path(f"/proc/{pid}")
    fields = process.stat_fields(pid)
    try:
        cmdline = (folder / "cmdline").read_bytes()
        environ = (folder / "environ").read_bytes() if marker else b""
    except OSError:  # gone meanwhile, or not ours to read
        return None
    if fields is None or fields[0] in ("Z", "X") or not cmdline:  # gone, zombie, kernel thread
        return None
    try:
        exe = os.readlink(folder / "exe")
    except OSError:
        exe = ""
    return ProcInfo(pid=pid, start_ticks=int(fields[19]), exe=exe,
                    cmdline=cmdline.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace"),
                    tagged=marker is not None and marker in environ.split(b"\0"))
