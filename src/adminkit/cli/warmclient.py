"""The thin client of the warm start: hand this invocation to a running warm process.

`adminkit` pays ~180 ms importing typer, pydantic and the app before it does anything.
A warm process (cli/warmstart.py, started by `adminkit warm start`) has imported them
already and forks a child per invocation; this module, run by cli/main.py before typer
is imported, passes that child our stdin/stdout/stderr (SCM_RIGHTS), argv, cwd, umask
and environment, forwards SIGINT/SIGTERM/SIGHUP to it and exits with its status.

It imports only what the interpreter has loaded anyway (os, sys, stat, marshal) plus
_socket, array, zlib and signal (C modules: `socket` and `json` would cost ~15 ms, a
third of a warm run); the no-warm-process case costs one lstat. Messages are marshal
data, read only from a peer the kernel says is our own user (SO_PEERCRED). Anything unexpected (no
process, a refusal, a directory or socket that is not ours) returns, and the caller
runs the command cold, saying nothing unless --debug.
"""

from __future__ import annotations

import os
import stat
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    import _socket

# Environment that the interpreter read at start-up (encodings, paths, flags), and the
# dynamic loader at exec (LD_LIBRARY_PATH, LD_PRELOAD, glibc's tunables: a library the
# child opens later is looked for as they said then): a warm process started under other
# values would not run the command as a cold start does.
_START_ENV_PREFIXES = ("LC_", "PYTHON", "LD_", "DYLD_")
_START_ENV_NAMES = ("LANG", "LANGUAGE", "GLIBC_TUNABLES")
_SIGNALS = (2, 15, 1)  # SIGINT, SIGTERM, SIGHUP: what a terminal or a kill sends


def start_env(env: dict[str, str]) -> dict[str, str]:
    """The variables of `env` that must equal the warm process's own for it to serve."""
    return {k: v for k, v in env.items()
            if k.startswith(_START_ENV_PREFIXES) or k in _START_ENV_NAMES}


def interpreter() -> list[object]:
    """The interpreter's options that change how code runs (-O, -X dev, -W, -E, -I,
    -u ...): a warm process started with others would not run the command as a cold
    start does. -X importtime, which only reports, is left out."""
    xoptions = sorted(f"{k}={v}" for k, v in sys._xoptions.items() if k != "importtime")
    return [list(sys.flags), list(sys.warnoptions), xoptions]  # marshal: lists stay lists


def socket_dir() -> str:
    """`$XDG_RUNTIME_DIR/adminkit` (a tmpfs the user alone can enter), or the state
    folder (`$XDG_STATE_HOME/adminkit`) where there is no runtime directory."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.isabs(runtime):
        return os.path.join(runtime, "adminkit")
    state = os.environ.get("XDG_STATE_HOME", "")
    if not (state and os.path.isabs(state)):
        state = os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(state, "adminkit")


def socket_path() -> str:
    """The socket of the warm process of this interpreter and this adminkit: another
    venv or checkout has its own (and never talks to this one)."""
    import zlib  # built in: no hashlib (which loads OpenSSL) on the fast path

    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    key = zlib.crc32(f"{sys.executable}\0{package}".encode(errors="surrogateescape"))
    return os.path.join(socket_dir(), f"warm-{key:08x}.sock")


def private(path: str, *, kind: int) -> bool:
    """`path` is of `kind` (stat.S_IFDIR, S_IFSOCK), not a symlink, ours, and nobody
    else may use it (checked with lstat: a link planted there is refused)."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if stat.S_IFMT(st.st_mode) != kind or st.st_uid != os.getuid():
        return False
    return kind != stat.S_IFDIR or stat.S_IMODE(st.st_mode) & 0o077 == 0


def connect(path: str) -> _socket.socket | None:
    """A connection to the warm process at `path`, its folder and socket checked and
    the peer checked to be our user; None otherwise."""
    if not private(os.path.dirname(path), kind=stat.S_IFDIR) \
            or not private(path, kind=stat.S_IFSOCK):
        return None
    import _socket

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect(path)
        creds = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
    except OSError:
        sock.close()
        return None
    uid = int.from_bytes(creds[4:8], sys.byteorder)  # struct ucred: pid, uid, gid
    if uid != os.getuid():
        sock.close()
        return None
    return sock


def send_frame(sock: _socket.socket, message: dict[str, object],
               fds: list[int] | None = None) -> None:
    """One message (marshal), its length in front; `fds` travel with it (SCM_RIGHTS)."""
    import marshal

    data = marshal.dumps(message)
    frame = len(data).to_bytes(4, "big") + data
    if fds:
        import _socket
        import array

        rights = [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, array.array("i", fds).tobytes())]
        sent = sock.sendmsg([frame], rights)
        if sent < len(frame):
            sock.sendall(frame[sent:])
    else:
        sock.sendall(frame)


def read_frame(sock: _socket.socket) -> dict[str, object] | None:
    """The next message, or None when the peer closed the connection."""
    head = _read_exactly(sock, 4)
    if head is None:
        return None
    body = _read_exactly(sock, int.from_bytes(head, "big"))
    return None if body is None else decode(body)


def decode(body: bytes | memoryview) -> dict[str, object] | None:
    """A message: a dict of plain values (marshal, from a peer of our own uid)."""
    import marshal

    try:
        message = marshal.loads(body)  # noqa: S302 - from our own uid (SO_PEERCRED)
    except (ValueError, EOFError, TypeError):
        return None
    return message if isinstance(message, dict) else None


def _read_exactly(sock: _socket.socket, size: int) -> bytes | None:
    chunks = b""
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return chunks


def limits() -> list[list[int]]:
    """Every resource limit (ulimit): [resource, soft, hard]."""
    import resource

    return [[r, *resource.getrlimit(r)] for r in resources()]


def resources() -> list[int]:
    """The RLIMIT_* numbers this platform has."""
    import resource

    return sorted({getattr(resource, n) for n in dir(resource) if n.startswith("RLIMIT_")})


def request(argv: list[str]) -> dict[str, object]:
    """What the forked child needs to be this invocation."""
    umask = os.umask(0o022)
    os.umask(umask)
    import signal

    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    return {"op": "run", "argv": argv, "cwd": os.getcwd(), "umask": umask,
            # the environment itself goes on a pipe to the child (secrets: the warm
            # process never reads it); what must match the warm process's goes here
            "start_env": start_env(dict(os.environ)), "executable": sys.executable,
            # what a fork does not take from the client: the warm process's are inherited
            "groups": sorted(os.getgroups()), "nice": os.getpriority(os.PRIO_PROCESS, 0),
            "limits": limits(),
            "interpreter": interpreter(), "path": sys.path,
            # a signal ignored here (nohup, a shell without job control) is in the child
            "ignored": [n for n in _SIGNALS if signal.getsignal(n) is signal.SIG_IGN],
            # click names the program after __main__ ("adminkit", "python -m ...")
            "main": {"package": getattr(main, "__package__", None),
                     "spec": getattr(spec, "name", None)}}


def standard_fds_open() -> bool:
    """fds 0-2 are all open: a closed one would be taken by our socket, and the child
    would read its stdin from (or write its output into) the warm connection."""
    try:
        for fd in (0, 1, 2):
            os.fstat(fd)
    except OSError:
        return False
    return True


def run_warm(argv: list[str], *, debug: bool) -> None:
    """Run this invocation in a warm process's child and exit with its status; return
    (so the caller runs it cold) when there is no warm process or it refuses."""
    if os.environ.get("ADMINKIT_WARM") == "0":
        return
    path = socket_path()
    if not os.path.lexists(path):
        return
    if not standard_fds_open():
        _say(debug, "warm start: stdin, stdout or stderr is closed; running cold")
        return
    sock = connect(path)
    if sock is None:
        _say(debug, f"warm start: {path} is not a usable socket; running cold")
        return
    env_r, env_w = os.pipe()
    try:
        try:
            send_frame(sock, request(argv), [0, 1, 2, env_r])
            os.close(env_r)
            env_r = -1
            reply = read_frame(sock)
        except (OSError, ValueError) as exc:
            _say(debug, f"warm start: {type(exc).__name__}; running cold")
            return
        if reply is None or "started" not in reply:
            why = reply.get("refused") if reply else "no answer"
            _say(debug, f"warm start refused ({why}); running cold")
            return
        child = _pidfd(reply.get("started"))
        send_env(env_w)
        env_w = -1
        _forward_signals(sock)
        try:
            done = read_frame(sock)
        except (OSError, ValueError):
            done = None
    finally:
        sock.close()
        for fd in (env_r, env_w):
            if fd >= 0:
                os.close(fd)
    if done is None or not isinstance(done.get("exit"), int):
        _wait_for(child)  # the command still runs (it was hung up): not past us
        sys.stderr.write("adminkit: the warm process ended before the command did\n")
        sys.exit(1)
    code = done["exit"]
    assert isinstance(code, int)
    sys.exit(code)


def send_env(fd: int) -> None:
    """Our environment, to the child alone, on the pipe `fd` (closed after)."""
    import marshal

    data = memoryview(marshal.dumps(dict(os.environ)))
    try:
        while data:
            data = data[os.write(fd, data):]
    except OSError:  # the child is gone already: its exit status says why
        pass
    finally:
        os.close(fd)


def _pidfd(pid: object) -> int | None:
    """A pidfd of our child (taken while the warm process, its parent, still holds
    it unreaped as long as it runs), or None."""
    if not isinstance(pid, int) or pid <= 0:
        return None
    try:
        return os.pidfd_open(pid)
    except (OSError, AttributeError):
        return None


def _wait_for(pidfd: int | None) -> None:
    """Until the process of `pidfd` has ended (its warm parent was killed)."""
    if pidfd is None:
        return
    import select

    select.select([pidfd], [], [])
    os.close(pidfd)


def _forward_signals(sock: _socket.socket) -> None:
    """Ctrl-C, a kill or a hang-up of this client reaches its child, as one byte."""
    import signal

    def forward(signum: int, frame: object) -> None:
        try:  # noqa: SIM105 - contextlib is not imported on this path
            sock.send(bytes([signum]))
        except OSError:
            pass

    for signum in _SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:  # ignored: the child ignores it
            signal.signal(signum, forward)


def _say(debug: bool, text: str) -> None:
    if debug:
        sys.stderr.write(text + "\n")
