"""The warm process: the CLI imported once, a forked child per `adminkit` invocation.

Started detached by `adminkit warm start` (`python -m adminkit.cli.warmstart`). It
imports typer, pydantic, the whole command tree and the heavy libraries, then waits on
a Unix socket in a 0700 folder. Per request (cli/warmclient.py) it checks the peer
(SO_PEERCRED: our uid and gid) and that nothing it imported changed on disk, forks,
and the child becomes the invocation (fds, cwd, umask, environment, argv) and runs the
ordinary `adminkit.cli.main.main` — no second parser. The parent waits for the child
and sends its exit status (128+N for a signal); a signal byte from the client is sent
on to the child, and a client that vanished gives its child SIGHUP, as a closed
terminal would.

Fork safety: before each fork the process is single-threaded (checked) and holds no
connection, journal, database, profile or secret: it never loads one; each child
loads the profile itself. CPython reseeds `random` in a forked child.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import io
import os
import pkgutil
import selectors
import signal
import socket
import stat
import sys
import time
import traceback
import types
from dataclasses import dataclass, field
from typing import Any

from adminkit.cli import warmclient

# Imported before the first fork where installed: the start-up cost a child saves.
HEAVY = ("typer", "typer._adapters", "click", "pydantic", "pydantic.main",
         "pydantic.type_adapter", "pydantic.json_schema", "zoneinfo", "secrets", "sysconfig",
         "rich", "rich.console", "rich.table", "rich._emoji_codes", "yaml",
         "ldap3", "cups", "paramiko", "jinja2", "jinja2.sandbox", "cryptography",
         "sqlite3", "ssl", "getpass", "ctypes", "termios", "json", "hmac", "hashlib", "uuid",
         "email.message", "smtplib", "urllib.request", "http.client", "requests")


class Stale(Exception):
    """What the warm process imported no longer matches the disk or the client."""


Stamp = tuple[int, int, int, int]


def fingerprint() -> dict[str, Stamp]:
    """size, mtime_ns, ctime_ns and inode of every loaded adminkit module's file and
    of every other one outside the standard library and site-packages (a plug-in or
    library installed editable, a PYTHONPATH folder), every sys.path folder (a
    distribution installed or removed changes its listing) and every entry-point file
    there (plug-ins): any change means the imported code is not the installed. ctime:
    an edit whose mtime was put back (touch -r, a checkout tool) still shows."""
    stdlib, site = _stdlib()
    paths: set[str] = set()
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        ours = name == "adminkit" or name.startswith("adminkit.")
        if isinstance(file, str) and (ours or not file.startswith((*stdlib, *site))):
            paths.add(file)  # site-packages: a pip install changes the folder's listing
    for folder in sys.path:
        folder = os.path.abspath(folder or ".")
        paths.add(folder)
        with contextlib.suppress(OSError), os.scandir(folder) as listing:
            for entry in listing:
                if entry.name.endswith((".dist-info", ".egg-info")):
                    paths.add(os.path.join(entry.path, "entry_points.txt"))
    return {path: _stamp(path) for path in sorted(paths)}


def _stdlib() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The standard library's folders (they change only with the interpreter), and
    the site-packages folders, which may lie inside them (an install without venv)."""
    import sysconfig

    def folders(*names: str) -> tuple[str, ...]:
        return tuple(os.path.join(sysconfig.get_path(name), "") for name in names)

    return folders("stdlib"), folders("purelib", "platlib")


def _stamp(path: str) -> Stamp:
    try:
        st = os.stat(path)
    except OSError:
        return (-1, -1, -1, -1)
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def changed(recorded: dict[str, Stamp]) -> str | None:
    """The first recorded file whose size, times or inode differ now, or None."""
    for path, was in recorded.items():
        if _stamp(path) != was:
            return path
    return None


def threads() -> int:
    """The threads of this process as the kernel counts them (C threads too)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        import threading

        return threading.active_count()


def preload() -> list[str]:
    """Import the CLI app, every command module and the heavy libraries; the names
    of the libraries that are not installed."""
    from adminkit.cli import main as _main  # the entry point itself
    from adminkit.cli.commands import sub_commands
    from adminkit.core.entrypoints import load, no_pydantic_plugin_scan

    no_pydantic_plugin_scan()
    for command in sub_commands().values():
        with contextlib.suppress(Exception):  # a broken plug-in fails in the child, as cold
            load(command.target)
    _build_all(_main.root_command())  # kept by cli/main.py: the children parse with it
    missing = [name for name in _every_module() if not _imported(name)]
    from adminkit.core.config import profile_model

    profile_model()  # the installed domains' sections: code, no profile read
    _build_models()
    missing += [name for name in HEAVY if not _imported(name)]
    return missing


def _build_models() -> None:
    """Build the validators of adminkit's pydantic models that defer it to first use
    (profile sections, action parameters, results: `defer_build`, which spares a cold
    run the ones it never validates): built once here, not again in every child."""
    from pydantic import BaseModel

    seen: set[type[BaseModel]] = set()
    todo = list(BaseModel.__subclasses__())
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        todo.extend(model.__subclasses__())
        if model.__module__.startswith("adminkit.") and not model.__pydantic_complete__:
            with contextlib.suppress(Exception):  # it fails again in the child, as cold
                model.model_rebuild()


def _build_all(command: Any, name: str = "adminkit", parent: Any = None) -> None:
    """Every sub-command imported and built into the tree, with each option's coercion
    (typer builds a pydantic TypeAdapter per option, and a `--help` option per command,
    when it first parses one): what a child no longer spends. They depend on the code
    alone: defaults and environment variables are read when a command line is parsed,
    in the child. `--help` is built in the context a parse would make (the same
    context settings, inherited), not parsed."""
    ctx = command.context_class(command, info_name=name, parent=parent,
                                **command.context_settings)
    for param in [*command.params, command.get_help_option(ctx)]:
        build = getattr(param, "get_runtime_param", None)
        if build is not None:
            with contextlib.suppress(Exception):  # it fails again in the child, as cold
                build()
    commands = getattr(command, "commands", None) or {}
    for sub in list(commands):
        with contextlib.suppress(Exception):  # a broken plug-in fails in the child, as cold
            _build_all(commands[sub], sub, ctx)


def _every_module() -> list[str]:
    """Every module of the adminkit package: each imports its heavy libraries lazily,
    so importing them all is cheap and leaves a child nothing of ours to compile."""
    import adminkit

    return [info.name for info in pkgutil.walk_packages(adminkit.__path__, "adminkit.")
            if not info.name.endswith("__main__")]


def _imported(name: str) -> bool:
    try:
        importlib.import_module(name)
    except Exception:  # noqa: BLE001 - an optional library absent, or a broken plug-in
        return False
    return True


@dataclass
class Server:
    """The listening socket, the children and what a request is checked against."""

    path: str
    idle: float
    listener: socket.socket
    recorded: dict[str, Stamp]
    started: float = field(default_factory=time.time)
    env: dict[str, str] = field(default_factory=lambda: warmclient.start_env(dict(os.environ)))
    children: dict[int, socket.socket] = field(default_factory=dict)
    served: int = 0
    refused: int = 0
    last: float = field(default_factory=time.monotonic)
    stopping: bool = False
    check_seconds: float = 0.0
    deaf_until: float = 0.0  # out of fds: the listener rests until then (0: listening)
    # the socket file bind() made (st_dev, st_ino): fstat of the socket itself names
    # sockfs's inode, never the file's, so the file is known by what bind() left there
    bound: tuple[int, int] | None = None

    def status(self) -> dict[str, object]:
        return {"pid": os.getpid(), "socket": self.path, "started": self.started,
                "idle_exit": self.idle, "served": self.served, "refused": self.refused,
                "children": len(self.children), "threads": threads(),
                "files_watched": len(self.recorded),
                "check_ms": round(self.check_seconds * 1000 / max(1, self.served), 3)}


def peer_ok(conn: socket.socket) -> bool:
    """The client runs as our uid and gid (SO_PEERCRED, from the kernel)."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
    uid = int.from_bytes(creds[4:8], sys.byteorder)
    gid = int.from_bytes(creds[8:12], sys.byteorder)
    return uid == os.getuid() and gid == os.getgid()


# A client that has not sent its whole request by then is dropped (it runs cold): each
# request is read as its bytes come, so a stalled client holds up no other.
STALL_SECONDS = 5.0
MAX_REQUEST = 1 << 24  # argv, sys.path and a few numbers: far below
# Requests arriving at once; another connection is closed at once (it runs cold): each
# holds an fd, and up to MAX_REQUEST bytes, until its STALL_SECONDS are up.
MAX_PENDING = 64
DEAF_SECONDS = 0.2  # out of fds with no request to drop: how long to stop accepting
# The bytes all requests still arriving may hold together (MAX_PENDING of MAX_REQUEST
# each would be 1 GiB from one local user): each counts the size its header announces.
# A request of SMALL_REQUEST or less (every real one: argv, sys.path, a few numbers)
# always has room, MAX_PENDING of them at most; a larger one only within what is left
# of the budget, else it is dropped as one past MAX_REQUEST is (it runs cold). So large
# requests arriving at once cannot keep `warm status` or a command from being served.
# Read a chunk at a time, so no read holds a buffer for the whole announced size.
MAX_ARRIVING = 1 << 25
SMALL_REQUEST = 1 << 16
LARGE_ROOM = MAX_ARRIVING - MAX_PENDING * SMALL_REQUEST
READ_CHUNK = 1 << 16
# The fds a request brings with its first bytes (stdin, stdout, stderr, the env pipe):
# a client sending more, a few with each piece, would fill this process's fd table.
REQUEST_FDS = 4


@dataclass
class Pending:
    """A connection whose request is still arriving, and what has come of it."""

    conn: socket.socket
    deadline: float
    data: bytearray = field(default_factory=bytearray)
    fds: list[int] = field(default_factory=list)

    def held(self) -> int:
        """The bytes this request holds, or will once whole (the size it announced)."""
        return len(self.data) if len(self.data) < 4 \
            else 4 + int.from_bytes(self.data[:4], "big")

    def read(self, room: int = MAX_ARRIVING) -> dict[str, object] | None:
        """Take what has arrived (never waiting); the request once whole, else None.
        Stale when the client went away or sent no request, or one larger than `room`."""
        while True:
            size = 4 if len(self.data) < 4 else 4 + int.from_bytes(self.data[:4], "big")
            if size > MAX_REQUEST or size > room:
                raise Stale("not a request")
            if len(self.data) == size and size > 4:
                with memoryview(self.data) as whole:  # decoded where it lies: no copy
                    message = warmclient.decode(whole[4:])
                if message is None:
                    raise Stale("not a request")
                return message
            try:  # the fds come with the first bytes
                more, fds, _flags, _addr = socket.recv_fds(
                    self.conn, min(size - len(self.data), READ_CHUNK), REQUEST_FDS)
            except (BlockingIOError, InterruptedError):
                return None
            self.fds += fds
            if len(self.fds) > REQUEST_FDS:  # each piece may bring more: never held
                raise Stale("not a request")
            if not more:
                raise Stale("the client went away")
            self.data += more

    def close(self, *, drain: bool = False) -> None:
        """Close the connection and the fds it sent; `drain`: first read what it sent
        past a refused header (bounded), so the client sees an end, not a reset."""
        for fd in self.fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds.clear()
        for _ in range(16 if drain else 0):
            try:
                if not self.conn.recv(1 << 16):
                    break
            except OSError:  # nothing more now (or gone): closed as it is
                break
        self.conn.close()


def _request_part(server: Server, sel: selectors.BaseSelector, pending: Pending,
                  wake: tuple[int, int]) -> None:
    """More of a request has come: handle it once whole; drop a malformed one, or one
    the others still arriving leave no room for (MAX_ARRIVING)."""
    large = sum(held for p in _arriving(sel) if p is not pending
                and (held := p.held()) > SMALL_REQUEST)
    room = max(SMALL_REQUEST, LARGE_ROOM - large)
    try:
        message = pending.read(room)
    except (Stale, OSError):
        _refuse(server, sel, pending)
        return
    if message is None:
        return
    sel.unregister(pending.conn)
    fds, pending.fds = pending.fds, []
    _handle(server, sel, pending.conn, message, fds, wake)


def _arriving(sel: selectors.BaseSelector) -> list[Pending]:
    """The requests still arriving (each with its deadline)."""
    return [key.data for key in list(sel.get_map().values())
            if isinstance(key.data, Pending)]


def _until_stalled(sel: selectors.BaseSelector, timeout: float | None) -> float | None:
    """`timeout`, shortened to the nearest deadline of a request still arriving."""
    deadlines = [p.deadline - time.monotonic() for p in _arriving(sel)]
    if not deadlines:
        return timeout
    nearest = max(0.0, min(deadlines))
    return nearest if timeout is None else min(timeout, nearest)


def _drop_stalled(server: Server, sel: selectors.BaseSelector) -> None:
    """Close the connections whose request did not come whole in time (they run cold)."""
    now = time.monotonic()
    for pending in _arriving(sel):
        if pending.deadline <= now:
            _refuse(server, sel, pending)


def _short_of_fds(server: Server, sel: selectors.BaseSelector) -> None:
    """No fd left to accept with: drop the oldest request still arriving (its client
    runs cold), or, with none, stop accepting a moment (the listener, still readable,
    would wake the loop at once again and again); clients meanwhile wait or run cold."""
    waiting = _arriving(sel)
    if waiting:
        _refuse(server, sel, min(waiting, key=lambda p: p.deadline))
        return
    sel.unregister(server.listener)
    server.deaf_until = time.monotonic() + DEAF_SECONDS


def _until_listening(server: Server, sel: selectors.BaseSelector,
                     timeout: float | None) -> float | None:
    """`timeout`, shortened to when a listener resting for want of fds listens again;
    registered again here once that time has come."""
    if not server.deaf_until:
        return timeout
    left = server.deaf_until - time.monotonic()
    if left > 0:
        return left if timeout is None else min(timeout, left)
    server.deaf_until = 0.0
    sel.register(server.listener, selectors.EVENT_READ, "listen")
    return timeout


def _refuse(server: Server, sel: selectors.BaseSelector, pending: Pending) -> None:
    """Drop a request that did not come whole, or is none: the client runs cold."""
    server.refused += 1
    sel.unregister(pending.conn)
    pending.close(drain=True)


# Refusals that make the warm process itself unfit, so it ends: its code is no longer
# what is installed, or it could not fork safely. Any other refusal is about one client
# (another interpreter or environment, a `nice`d run, other groups): that client runs
# cold, and the warm process goes on serving the others.
ENDING = ("the installed code changed", "not single-threaded")


def refusal(server: Server, message: dict[str, object]) -> str | None:
    """Why this warm process must not run the request, or None (ENDING: it then exits)."""
    if message.get("executable") != sys.executable:
        return "another interpreter"
    env = message.get("start_env")  # the rest of the environment: the child reads it
    if not isinstance(env, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise Stale("not a request")  # refused without ending the warm process
    if warmclient.start_env(env) != server.env or env != server.env:
        return "locale or PYTHON* environment differs"
    if message.get("interpreter") != warmclient.interpreter():
        return "other interpreter options"
    path = message.get("path")
    if not isinstance(path, list) or not path:
        raise Stale("not a request")
    if path[1:] != sys.path:
        return "another sys.path"
    why = _process_refusal(message)
    if why is not None:
        return why
    begun = time.perf_counter()
    moved = changed(server.recorded)
    server.check_seconds += time.perf_counter() - begun
    if moved is not None:
        return "the installed code changed"
    if threads() != 1:
        return "not single-threaded"
    return None


def _process_refusal(message: dict[str, object]) -> str | None:
    """The client's groups, nice level and limits, which a fork does not carry: the
    child can take its nice level and limits (_take) unless that needs a privilege."""
    if message.get("groups") != sorted(os.getgroups()):
        return "other supplementary groups"
    nice = message.get("nice")
    if not isinstance(nice, int) or (nice < os.getpriority(os.PRIO_PROCESS, 0)
                                     and not _capable(CAP_SYS_NICE)):
        return "a lower nice level"
    given = message.get("limits")
    if given != _limits_within(given):
        return "a resource limit above the warm process's"
    return None


def _limits_within(given: object) -> list[list[int]] | None:
    """`given` if it is one [resource, soft, hard] per limit, each hard limit at most
    ours (or we may raise it); None otherwise."""
    import resource

    numbers = warmclient.resources()
    may_raise = _capable(CAP_SYS_RESOURCE)  # read once, not per limit
    if not isinstance(given, list) or len(given) != len(numbers):
        return None
    for r, row in zip(numbers, given, strict=True):
        if not (isinstance(row, list) and len(row) == 3 and row[0] == r
                and all(isinstance(v, int) for v in row)):
            return None
        hard = resource.getrlimit(r)[1]
        if not may_raise and hard != resource.RLIM_INFINITY \
                and (row[2] == resource.RLIM_INFINITY or row[2] > hard):
            return None
    return given


CAP_SYS_NICE, CAP_SYS_RESOURCE = 23, 24  # linux/capability.h


def _capable(bit: int) -> bool:
    """Whether this process holds the capability `bit`: root in a container may lack
    what uid 0 implies elsewhere (then a child could not take a client's higher hard
    limit or lower nice level, and would fail after the fork, not run cold)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> bit & 1)
    except (OSError, ValueError):
        pass
    return os.geteuid() == 0  # no /proc: as root is elsewhere


def serve(server: Server) -> None:
    """The loop: accept, check, fork; reap children and report their status."""
    sel = selectors.DefaultSelector()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, lambda *_: None)  # the wakeup fd says which
    server.listener.setblocking(False)
    sel.register(server.listener, selectors.EVENT_READ, "listen")
    sel.register(wake_r, selectors.EVENT_READ, "signal")
    parent = os.getpid()
    try:
        while not (server.stopping and not server.children):
            timeout = None if server.children or server.stopping \
                else max(0.0, server.last + server.idle - time.monotonic())
            wait = _until_listening(server, sel, timeout)
            events = sel.select(_until_stalled(sel, wait))
            if not events and not server.children \
                    and time.monotonic() - server.last >= server.idle:
                break
            for key, _mask in events:
                if key.data == "listen":
                    _accept(server, sel, (wake_r, wake_w))
                    if os.getpid() != parent:  # never: the child exits in _become
                        os._exit(1)
                elif key.data == "signal":
                    _signals(server, wake_r)
                elif isinstance(key.data, Pending):
                    _request_part(server, sel, key.data, (wake_r, wake_w))
                    if os.getpid() != parent:  # never: the child exits in _become
                        os._exit(1)
                else:
                    _from_client(server, sel, key.fileobj, key.data)  # type: ignore[arg-type]
            _drop_stalled(server, sel)
    finally:
        if os.getpid() == parent:
            with contextlib.suppress(OSError):
                st = os.lstat(server.path)
                if (st.st_dev, st.st_ino) == server.bound:  # ours, not a successor's
                    os.unlink(server.path)
            server.listener.close()


def _signals(server: Server, wake_r: int) -> None:
    with contextlib.suppress(BlockingIOError):
        for signum in os.read(wake_r, 64):
            if signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                server.stopping = True
    while server.children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = server.children.pop(pid, None)
        server.last = time.monotonic()
        if conn is None:
            continue
        code = os.waitstatus_to_exitcode(status)
        with contextlib.suppress(OSError):
            warmclient.send_frame(conn, {"exit": 128 - code if code < 0 else code})
        _drop(conn)


def _drop(conn: socket.socket) -> None:
    with contextlib.suppress(Exception):
        selectors_of[conn].unregister(conn)
    selectors_of.pop(conn, None)
    conn.close()


selectors_of: dict[socket.socket, selectors.BaseSelector] = {}


def _from_client(server: Server, sel: selectors.BaseSelector, conn: socket.socket,
                 pid: int) -> None:
    """A signal byte to pass on, or the client gone: its child gets SIGHUP."""
    try:
        data = conn.recv(64)
    except OSError:
        data = b""
    if pid not in server.children:
        return
    if not data:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGHUP)
        sel.unregister(conn)
        selectors_of.pop(conn, None)
        return
    for signum in data:
        if signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)


def _accept(server: Server, sel: selectors.BaseSelector, wake: tuple[int, int]) -> None:
    try:
        conn, _ = server.listener.accept()
    except BlockingIOError:
        return
    except OSError:  # EMFILE, ENFILE, ENOBUFS: no fd for one more connection now
        _short_of_fds(server, sel)
        return
    try:
        trusted = peer_ok(conn)
    except OSError:
        trusted = False
    if not trusted or len(_arriving(sel)) >= MAX_PENDING:
        server.refused += 1
        conn.close()
        return
    conn.setblocking(False)
    sel.register(conn, selectors.EVENT_READ,
                 Pending(conn, time.monotonic() + STALL_SECONDS))


def _handle(server: Server, sel: selectors.BaseSelector, conn: socket.socket,
            message: dict[str, object], fds: list[int], wake: tuple[int, int]) -> None:
    """A whole request: answer status or stop, or check it and fork its child."""
    conn.setblocking(True)
    server_pid = os.getpid()
    try:
        if message.get("op") == "status":
            warmclient.send_frame(conn, server.status())
            conn.close()
            return
        if message.get("op") == "stop":
            server.stopping = True
            warmclient.send_frame(conn, {"stopping": os.getpid()})
            conn.close()
            return
        why = refusal(server, message)
        if why is not None or len(fds) != REQUEST_FDS or server.stopping:
            server.refused += 1
            server.stopping = server.stopping or why in ENDING
            warmclient.send_frame(conn, {"refused": why or "stopping"})
            conn.close()
            return
        server.served += 1
        server.last = time.monotonic()
        pid = os.fork()
        if pid == 0:  # server_pid: the child's parent
            _become(server, sel, conn, fds, message, wake, server_pid)
        server.children[pid] = conn
        warmclient.send_frame(conn, {"started": pid})
        sel.register(conn, selectors.EVENT_READ, pid)
        selectors_of[conn] = sel
    except Exception:  # a malformed request must not end the server
        if os.getpid() != server_pid:
            raise
        server.refused += 1
        conn.close()
    finally:
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)


def _become(server: Server, sel: selectors.BaseSelector, conn: socket.socket,
            fds: list[int], message: dict[str, object], wake: tuple[int, int],
            server_pid: int) -> None:
    """In the child: drop the server's state, take the client's, run main, exit."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        ignored = message.get("ignored")
        for signum in ignored if isinstance(ignored, list) else []:
            if signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(signum, signal.SIG_IGN)  # as the client's interpreter had it
        _hang_up_with(server_pid)
        for pending in _arriving(sel):  # other clients' requests, still arriving
            pending.close()
        sel.close()
        server.listener.close()
        for other in server.children.values():
            other.close()
        conn.close()
        for fd in wake:
            os.close(fd)
        message = {**message, "env": _read_env(fds.pop())}  # fds: 0-2, then the env pipe
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        fds.clear()
        _take(message)
        code = _run_main()
    except BaseException:  # noqa: BLE001 - a child never returns into the server's loop
        with contextlib.suppress(Exception):
            traceback.print_exc()
    finally:
        os._exit(code)


def _hang_up_with(parent: int) -> None:
    """SIGHUP when the warm process dies (kill -9): its client then tells of it and
    exits, and a command it ran must not go on past it, as with a closed terminal.
    (The client waits for the child to end; a SIGHUP the client ignored stays ignored.)"""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGHUP, 0, 0, 0)
    if os.getppid() != parent:  # it died before the prctl
        os.kill(os.getpid(), signal.SIGHUP)


def _read_env(fd: int) -> dict[str, object]:
    """The client's environment, from the pipe it writes it to once we are forked."""
    with open(fd, "rb") as pipe:
        env = warmclient.decode(pipe.read())
    if env is None:
        raise Stale("no environment")
    return env


def _take(message: dict[str, object]) -> None:
    """The client's cwd, umask, environment (and TZ), argv and standard streams."""
    env = message["env"]
    argv = message["argv"]
    umask = message["umask"]
    cwd = message["cwd"]
    assert isinstance(env, dict) and isinstance(argv, list) and isinstance(umask, int)
    assert isinstance(cwd, str)
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in env.items()})
    time.tzset()
    os.umask(umask)
    os.chdir(cwd)
    _take_process(message)
    sys.argv = [str(a) for a in argv]
    path = message["path"]
    assert isinstance(path, list)
    sys.path.insert(0, str(path[0]))  # the script's folder, or the cwd of `python -m`
    sys.modules["__main__"] = _main_module(message.get("main"))
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        stream = _stream(fd, mode, getattr(sys, name))
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)  # what rich and shutil look at


def _take_process(message: dict[str, object]) -> None:
    """The client's nice level and resource limits (checked in _process_refusal)."""
    import resource

    nice, given = message["nice"], message["limits"]
    assert isinstance(nice, int) and isinstance(given, list)
    os.setpriority(os.PRIO_PROCESS, 0, nice)
    for r, soft, hard in given:
        resource.setrlimit(r, (soft, hard))


def _main_module(given: object) -> types.ModuleType:
    """A `__main__` that says what the client's did (click's "Usage:" names the program
    after it), instead of this process's (`python -m adminkit.cli.warmstart`)."""
    stand_in = types.ModuleType("__main__")
    info = given if isinstance(given, dict) else {}
    package, spec = info.get("package"), info.get("spec")
    stand_in.__package__ = package if isinstance(package, str) else None
    stand_in.__spec__ = types.SimpleNamespace(name=spec) if isinstance(spec, str) \
        else None  # type: ignore[assignment]
    return stand_in


def _stream(fd: int, mode: str, was: io.TextIOBase | object) -> io.TextIOWrapper:
    """A standard stream on `fd` as the interpreter makes one at start-up: the same
    encoding and errors (the start environment matched), line-buffered on a terminal."""
    encoding = getattr(was, "encoding", None) or "utf-8"
    errors = getattr(was, "errors", None) or "strict"
    tty = os.isatty(fd)
    unbuffered = bool(os.environ.get("PYTHONUNBUFFERED")) and mode == "w"  # -u: not seen
    buffer = open(fd, mode + "b", buffering=0 if unbuffered else -1,  # noqa: SIM115
                  closefd=False)
    return io.TextIOWrapper(buffer, encoding=encoding, errors=errors, newline="\n",
                            line_buffering=tty or unbuffered, write_through=unbuffered)


def _run_main() -> int:
    """`adminkit.cli.main.main` as a cold process runs it, and the exit code the
    interpreter would give: SystemExit's code, 1 for an uncaught exception, after the
    atexit handlers and the final flush."""
    from adminkit.cli.main import main

    code: int
    try:
        main(warm=False)
        code = 0
    except SystemExit as exc:
        code = _exit_code(exc.code)
    except BaseException:  # noqa: BLE001 - the interpreter's own last resort
        traceback.print_exc()
        code = 1
    with contextlib.suppress(Exception):
        atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - as the interpreter: a failed final flush
            code = 120
    return code


def _exit_code(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    with contextlib.suppress(Exception):
        sys.stderr.write(f"{value}\n")
    return 1


def listen(path: str) -> socket.socket:
    """A socket at `path`, in a folder that is ours and 0700 (made so if missing)."""
    folder = os.path.dirname(path)
    if not os.path.lexists(folder):
        os.makedirs(os.path.dirname(folder), mode=0o700, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.mkdir(folder, 0o700)
    if not warmclient.private(folder, kind=stat.S_IFDIR):
        raise Stale(f"{folder} is not a folder of ours with mode 0700")
    if os.path.lexists(path):
        probe = warmclient.connect(path)
        if probe is not None:
            probe.close()
            raise Stale(f"a warm process already listens at {path}")
        if not warmclient.private(path, kind=stat.S_IFSOCK):
            raise Stale(f"{path} exists and is not our socket")
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(path)
    finally:
        os.umask(old)
    sock.listen(64)
    return sock


def run(idle: float, ready_fd: int | None) -> int:
    """Preload, listen, tell the starter where (on `ready_fd`), serve until idle/stop."""
    def tell(text: str) -> None:
        if ready_fd is not None:
            with contextlib.suppress(OSError):
                os.write(ready_fd, text.encode() + b"\n")
                os.close(ready_fd)

    try:
        preload()
        import gc

        gc.collect()
        gc.freeze()  # the imported objects: a child's collections skip them (no copy-on-write)
        if threads() != 1:
            raise Stale(f"{threads()} threads after the imports; a fork would copy one")
        path = warmclient.socket_path()
        listener = listen(path)
    except Exception as exc:  # noqa: BLE001 - said to the starter, which exits 1
        tell(f"error {type(exc).__name__}: {exc}")
        return 1
    st = os.lstat(path)
    server = Server(path=path, idle=idle, listener=listener, recorded=fingerprint(),
                    bound=(st.st_dev, st.st_ino))
    tell(f"ready {path}")
    serve(server)
    return 0


# What the warm process itself reads from its environment: what a request's must equal
# (warmclient.start_env), where its socket lives, and the home folder. Its children take
# their client's whole environment (read from a pipe after the fork).
OWN_ENV = ("HOME", "PATH", "TZ", "TMPDIR", "USER", "LOGNAME", "XDG_RUNTIME_DIR",
           "XDG_STATE_HOME")


def own_env(env: dict[str, str]) -> dict[str, str]:
    """The part of `env` the warm process keeps: no password or token its starter had."""
    return {**{k: env[k] for k in OWN_ENV if k in env}, **warmclient.start_env(env)}


def drop_environment(ready_fd: int | None) -> None:
    """Run this process again (same pid, interpreter and options) with only `own_env`,
    unless that is all it has: /proc/PID/environ shows the block a process was started
    with for as long as it lives (clearing os.environ leaves it), so a secret in the
    starter's environment would be readable there for the whole idle time."""
    kept = own_env(dict(os.environ))
    if kept == dict(os.environ):
        return
    if ready_fd is not None:
        os.set_inheritable(ready_fd, True)
    os.execve(sys.executable, sys.orig_argv, kept)  # noqa: S606 - ourselves again, no shell


def main() -> None:
    """`python -m adminkit.cli.warmstart IDLE_SECONDS [READY_FD]` (by `warm start`)."""
    drop_environment(int(sys.argv[2]) if len(sys.argv) > 2 else None)
    del sys.path[0]  # `-m`'s folder, "/": a client says its own (the script's, or its cwd)
    idle = float(sys.argv[1]) if len(sys.argv) > 1 else 1800.0
    ready = int(sys.argv[2]) if len(sys.argv) > 2 else None
    sys.exit(run(idle, ready))


if __name__ == "__main__":
    main()
