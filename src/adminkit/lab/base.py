"""What every lab server implements, and the small helpers they share."""

from __future__ import annotations

import contextlib
import secrets
import socket
import string
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

from adminkit.core.errors import LabError
from adminkit.lab import process
from adminkit.lab.process import Proc, ProcessTable


@dataclass(frozen=True)
class ServerStatus:
    name: str
    set_up: bool
    running: bool
    ready: bool
    detail: str = ""


class LabServer(ABC):
    """One real server of the lab. Its whole state lives under `self.dir` (= lab dir / name).

    Lifecycle: `setup()` once (configure, provision, seed, take a golden copy), then
    `start()` / `stop()` / `reset()` as often as needed. `probe()` makes the
    authenticated request a test would make; readiness is that probe passing.
    """

    name: ClassVar[str]
    apt_packages: ClassVar[tuple[str, ...]] = ()
    # debconf-set-selections lines applied before installing the packages
    debconf: ClassVar[tuple[str, ...]] = ()
    # Python modules the server's probe or process needs, with the pip requirement
    python_needs: ClassVar[dict[str, str]] = {}
    ready_timeout: ClassVar[float] = 60.0

    def __init__(self, lab_dir: Path) -> None:
        self.lab_dir = lab_dir
        self.dir = lab_dir / self.name
        self.procs = ProcessTable(lab_dir)

    # -- to implement -------------------------------------------------------------
    @abstractmethod
    def is_set_up(self) -> bool: ...

    @abstractmethod
    def setup(self) -> None:
        """Configure and seed once; idempotent; leaves a golden copy for `reset`."""

    @abstractmethod
    def start(self) -> None:
        """Start the process(es) and record them with `self.record(...)`."""

    @abstractmethod
    def probe(self) -> None:
        """One authenticated request; raise `LabError` with the reason if it fails."""

    @abstractmethod
    def reset(self) -> None:
        """Back to the golden state (the server may be stopped and started again)."""

    @abstractmethod
    def profile(self) -> dict[str, Any]:
        """This server's part of the `lab` profile (see core.config)."""

    # -- shared behaviour ---------------------------------------------------------
    def record(self, procs: list[Proc]) -> None:
        self.procs.save(self.name, procs)

    def running_procs(self) -> list[Proc]:
        return [p for p in self.procs.load(self.name) if process.alive(p)]

    def is_running(self) -> bool:
        procs = self.procs.load(self.name)
        return bool(procs) and all(process.alive(p) for p in procs)

    def stop(self) -> None:
        for proc in reversed(self.procs.load(self.name)):
            process.stop(proc)
        self.procs.clear(self.name)

    @contextlib.contextmanager
    def running(self, timeout: float | None = None) -> Iterator[Self]:
        """Set up (idempotent), start and wait for this server; stop it by its PIDs when
        the block ends, however it ends (a half-started server too). For a server of a
        test module's or a bench's own, never the shared lab's."""
        self.setup()
        try:
            self.start()
            self.wait_ready(timeout)
            yield self
        finally:
            self.stop()

    def wait_ready(self, timeout: float | None = None) -> None:
        wait_until(self.probe, timeout or self.ready_timeout,
                   what=f"{self.name} to answer", alive=self.is_running, log=self.log_file)

    @property
    def log_file(self) -> Path:
        return self.dir / "server.log"

    def status(self) -> ServerStatus:
        set_up = self.is_set_up()
        running = self.is_running()
        if not running:
            return ServerStatus(self.name, set_up, False, False)
        try:
            self.probe()
        except LabError as exc:
            return ServerStatus(self.name, set_up, True, False, str(exc))
        return ServerStatus(self.name, set_up, True, True)


def wait_until(
    probe: Callable[[], None],
    timeout: float,
    *,
    what: str,
    alive: Callable[[], bool] | None = None,
    log: Path | None = None,
    interval: float = 0.05,
) -> None:
    """Call `probe` until it stops raising `LabError`; fail early if the process died."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while True:
        try:
            probe()
            return
        except LabError as exc:
            last = exc
        if alive is not None and not alive():
            raise LabError(f"gave up waiting for {what}: the process exited", hint=_tail_hint(log))
        if time.monotonic() > deadline:
            raise LabError(f"gave up waiting for {what} after {timeout:.0f}s: {last}",
                           hint=_tail_hint(log))
        time.sleep(interval)


def _tail_hint(log: Path | None) -> str | None:
    if log is None or not log.exists():
        return None
    lines = log.read_text(errors="replace").splitlines()[-8:]
    return f"last lines of {log}:\n    " + "\n    ".join(lines)


def new_password(length: int = 20) -> str:
    """A random password that satisfies AD complexity and the lab's ppolicy."""
    alphabet = string.ascii_letters + string.digits
    core = "".join(secrets.choice(alphabet) for _ in range(length - 4))
    return "Lb" + core + "-7"


def write_secret(path: Path, value: str) -> Path:
    """Write a lab credential to a 0600 file; profiles reference it as `file:PATH`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(value)
    return path


def read_or_create_secret(path: Path) -> str:
    if path.exists():
        return path.read_text()
    value = new_password()
    write_secret(path, value)
    return value


def port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def require_port(host: str, port: int, server: str) -> None:
    if not port_free(host, port):
        raise LabError(
            f"{server}: {host}:{port} is already in use",
            hint="another server holds it: stop it (`adminkit lab down` if it is an older lab)",
        )


def run_logged(argv: list[str], *, server: str, what: str, log: Path, cwd: Path,
               env: dict[str, str]) -> None:
    """Run a setup step with its output appended to `log`, timed; a failure names the log."""
    import subprocess

    started = time.monotonic()
    with open(log, "ab") as out:
        out.write(f"$ {' '.join(argv)}\n".encode())
        out.flush()
        result = subprocess.run(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=out, check=False)
        out.write(f"# exit {result.returncode} in {time.monotonic() - started:.1f}s\n".encode())
    if result.returncode != 0:
        raise LabError(f"{server}: {what} failed (exit {result.returncode})", hint=f"read {log}")


def restore_copy(golden: Path, database: Path) -> None:
    """Put the golden SQLite database back (the server stopped), its side files removed."""
    import shutil

    for extra in ("-journal", "-wal", "-shm"):
        Path(f"{database}{extra}").unlink(missing_ok=True)
    tmp = database.with_suffix(".tmp")
    shutil.copyfile(golden, tmp)
    tmp.replace(database)
