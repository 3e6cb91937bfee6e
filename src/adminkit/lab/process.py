"""Start lab servers in their own session and stop exactly those processes again.

A PID alone is not an identity: after a reboot or a long pause another process may
carry it. Each record therefore keeps the kernel's start time of the process, and a
stop signals a PID only while that start time still matches.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

# Popen objects of the children this process started, kept until they are reaped: a
# collected Popen of a live child warns "subprocess is still running" (ResourceWarning).
_children: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class Proc:
    """A process the lab started: enough to find it again, and nothing else."""

    pid: int
    start_ticks: int
    argv0: str
    group: bool = True  # signal the whole process group (it leads its own session)
    extra: dict[str, str] = field(default_factory=dict)


def stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat after the command name: [0] is the state, [19] the start time."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may itself contain spaces or ")".
    return raw[raw.rindex(")") + 2 :].split()


def start_ticks(pid: int) -> int | None:
    fields = stat_fields(pid)
    return int(fields[19]) if fields else None


def alive(proc: Proc) -> bool:
    """True while the very process we started runs (zombies count as gone)."""
    fields = stat_fields(proc.pid)
    if fields is None or int(fields[19]) != proc.start_ticks:
        return False
    return fields[0] not in ("Z", "X")


def spawn(
    argv: Sequence[str],
    log: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdin_data: bytes | None = None,
) -> tuple[Proc, subprocess.Popen[bytes]]:
    """Start `argv` in a new session with output appended to `log`.

    Secrets never go in argv: pass them through `env` or `stdin_data`.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
    if stdin_data is not None and popen.stdin is not None:
        popen.stdin.write(stdin_data)
        popen.stdin.close()
    _children[popen.pid] = popen
    ticks = start_ticks(popen.pid)
    if ticks is None:  # exited before we could look; keep a record that never matches
        ticks = -1
    return Proc(pid=popen.pid, start_ticks=ticks, argv0=os.path.basename(argv[0])), popen


def adopt(pid: int, argv0: str, *, group: bool = False) -> Proc | None:
    """A record for a process we did not fork ourselves (a daemon that wrote a PID file)."""
    ticks = start_ticks(pid)
    return None if ticks is None else Proc(pid=pid, start_ticks=ticks, argv0=argv0, group=group)


def signal_proc(proc: Proc, sig: signal.Signals) -> None:
    if not alive(proc):
        return
    try:
        if proc.group and os.getpgid(proc.pid) == proc.pid:
            os.killpg(proc.pid, sig)
        else:
            os.kill(proc.pid, sig)
    except ProcessLookupError:
        pass


def stop(proc: Proc, timeout: float = 10.0, sig: signal.Signals = signal.SIGTERM) -> None:
    """Signal, wait, and escalate to SIGKILL if it will not go."""
    signal_proc(proc, sig)
    if _wait_gone(proc, timeout):
        return
    signal_proc(proc, signal.SIGKILL)
    _wait_gone(proc, 5.0)


def _wait_gone(proc: Proc, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while alive(proc):
        _reap(proc.pid)
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    _reap(proc.pid)
    return True


def _reap(pid: int) -> None:
    popen = _children.get(pid)
    if popen is not None:
        if popen.poll() is not None:
            del _children[pid]
        return
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


class ProcessTable:
    """The PIDs each lab server started, one JSON file per server under `run/`."""

    def __init__(self, lab_dir: Path) -> None:
        self.dir = lab_dir / "run"

    def _file(self, server: str) -> Path:
        return self.dir / f"{server}.procs.json"

    def save(self, server: str, procs: Sequence[Proc]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self._file(server).with_suffix(".tmp")
        tmp.write_text(json.dumps([asdict(p) for p in procs]))
        tmp.replace(self._file(server))

    def load(self, server: str) -> list[Proc]:
        try:
            rows = json.loads(self._file(server).read_text())
        except (OSError, ValueError):
            return []
        return [Proc(**row) for row in rows]

    def clear(self, server: str) -> None:
        self._file(server).unlink(missing_ok=True)
