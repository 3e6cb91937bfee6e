"""Review rev8c of the warm start: what a cold run does that a warm run lost, a
malformed request that ended the warm process, and plug-in code that went stale.

Real processes, as tests/unit/test_warmstart.py (whose fixtures these reuse)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from adminkit.cli import warmclient
from tests.unit import test_warmstart as warmstart_tests
from tests.unit.test_warmstart import (
    ENTRY,
    Warm,
    _exited,
    _probe,
    _start,
    _waiting,
)

base_env = warmstart_tests.base_env  # the fixtures: a warm process of a test's own
warm = warmstart_tests.warm
hangup = warmstart_tests.hangup_as_a_terminal_has_it  # autouse: SIGHUP as a terminal's


def _closed(warm: Warm, fd: int, *args: str, hot: bool) -> subprocess.CompletedProcess[bytes]:
    """`args` run with `fd` closed (`<&-`, `>&-`), as a shell does it."""
    return subprocess.run(["sh", "-c", f'exec "$@" {fd}>&-', "sh", *ENTRY, *args],
                          env=warm.environ(hot, None), capture_output=fd != 1,
                          stdout=subprocess.DEVNULL if fd == 1 else None,
                          timeout=60, check=False)


@pytest.mark.parametrize("fd", [0, 1])
def test_a_closed_standard_fd_runs_cold_instead_of_handing_over_the_socket(
        warm: Warm, fd: int) -> None:
    """The client's socket took the lowest free fd: the child read its stdin from the
    warm connection (and hung the client forever) or wrote its output into it. Now a
    closed fd gets /dev/null before anything opens (cli/main.py): closed output or
    errors are refused (exit 2) before any hand-over; a closed stdin, /dev/null now,
    may go warm, and reads as empty there as cold."""
    before = warm.served()
    hot = _closed(warm, fd, "probe", "show", hot=True)  # TimeoutExpired: it hung
    cold = _closed(warm, fd, "probe", "show", hot=False)
    assert warm.served() == before + (1 if fd == 0 else 0)  # never with the socket there
    assert (hot.returncode, hot.stderr) == (cold.returncode, cold.stderr)
    if fd == 0:  # the probe's own report; a warm child has its own pid, path and draw
        import json

        volatile = ("pid", "ppid", "random", "path")
        seen = [{k: v for k, v in json.loads(r.stdout).items() if k not in volatile}
                for r in (hot, cold)]
        assert seen[0] == seen[1] and seen[0]["stdin"] == ""
    else:
        assert hot.stdout == cold.stdout


def _send_raw(path: str, data: bytes) -> bytes:
    sock = warmclient.connect(path)
    assert sock is not None
    try:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(30)
        return sock.recv(4096)
    finally:
        sock.close()


def _frame(message: dict[str, object]) -> bytes:
    import marshal

    data = marshal.dumps(message)
    return len(data).to_bytes(4, "big") + data


@pytest.mark.parametrize("spoil", ["int_env_key", "env_not_str", "path_not_list",
                                   "huge_size", "half_frame"])
def test_a_malformed_request_is_refused_and_the_warm_process_keeps_serving(
        warm: Warm, spoil: str) -> None:
    """A request with an int environment key raised AttributeError out of the serve
    loop: the warm process died (and never ran the next command)."""
    path = warm.socket()
    message: dict[str, Any] = warmclient.request([*ENTRY, "probe", "show"])
    message["start_env"] = warmclient.start_env(warm.env)  # the warm process's
    if spoil == "int_env_key":
        message["start_env"] = {**message["start_env"], 1: "x"}
    elif spoil == "env_not_str":
        message["start_env"] = {**message["start_env"], "X": 1}
    elif spoil == "path_not_list":
        message["path"] = 5
    data = _frame(message)
    if spoil == "huge_size":
        data = (2**32 - 1).to_bytes(4, "big") + b"\0" * 10
    elif spoil == "half_frame":
        data = data[: len(data) // 2]
    _send_raw(path, data)
    assert warm.status()["pid"] == warm.pid
    assert _probe(warm)["ppid"] == warm.pid


def test_a_directory_as_stdin_leaves_no_fd_behind(warm: Warm) -> None:
    folder = os.open("/", os.O_RDONLY)
    try:
        for _ in range(3):
            hot = warm.run("probe", "show", stdin=folder)
            assert hot.returncode == warm.run("probe", "show", stdin=folder,
                                              warm=False).returncode
    finally:
        os.close(folder)
    assert warm.status()["pid"] == warm.pid
    links = [os.readlink(f"/proc/{warm.pid}/fd/{fd}") for fd in os.listdir(
        f"/proc/{warm.pid}/fd")]
    assert "/" not in links


def _stale_site(base_env: dict[str, str], site: Path) -> Path:
    module = site / "rev8cstale.py"
    module.write_text("import typer\napp = typer.Typer(no_args_is_help=True)\n\n\n"
                      "@app.command('v')\ndef v() -> None:\n    print('AAAA')\n\n\n"
                      "@app.command('w')\ndef w() -> None:\n    print('w')\n")
    points = site / "warmprobe-0.1.dist-info" / "entry_points.txt"
    points.write_text(points.read_text() + "rev8cstale = rev8cstale:app\n")
    return module


@pytest.mark.parametrize("keep_mtime", [False, True])
def test_an_edited_plugin_module_is_never_run_stale(
        base_env: dict[str, str], tmp_path: Path, keep_mtime: bool) -> None:
    """Only adminkit's own module files were watched: a plug-in's edited code (size and
    mtime changed) ran old, silently; and an edit whose mtime was put back, anywhere."""
    module = _stale_site(base_env, tmp_path / "site")
    warm = _start(base_env, tmp_path / "site")
    try:
        assert warm.run("rev8cstale", "v").stdout == b"AAAA\n"
        was = module.stat()
        module.write_text(module.read_text().replace("AAAA", "BBBB" if keep_mtime
                                                     else "BBBBBB"))
        if keep_mtime:
            os.utime(module, ns=(was.st_atime_ns, was.st_mtime_ns))
        result = warm.run("rev8cstale", "v")
        assert result.stdout == (b"BBBB\n" if keep_mtime else b"BBBBBB\n")
        assert _exited(warm.pid)  # it knew itself stale and ended
    finally:
        warm.run("warm", "stop", warm=False)


def _proc(warm: Warm, hot: bool, **kw: Any) -> dict[str, Any]:
    before = warm.served()
    result = warm.run("probe", "proc", warm=hot, **kw)
    assert result.returncode == 0, result.stderr
    if hot:
        assert warm.served() == before + 1, "not served warm"
    seen: dict[str, Any] = json.loads(result.stdout)
    return seen


def test_the_child_takes_the_clients_nice_level(warm: Warm) -> None:
    """A fork kept the warm process's nice level: `nice adminkit ...` ran at 0."""
    entry = ["nice", "-n", "7", *ENTRY]
    assert _proc(warm, True, entry=entry)["nice"] == _proc(warm, False, entry=entry)["nice"]


def test_the_child_takes_the_clients_resource_limits(warm: Warm) -> None:
    """A fork kept the warm process's limits: `ulimit -n 100` was not seen."""
    import resource

    def lower() -> None:  # pragma: no cover - in the client before exec
        resource.setrlimit(resource.RLIMIT_NOFILE, (100, 100))

    assert _proc(warm, True, preexec_fn=lower)["nofile"] == [100, 100]


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to start a client with other groups")
def test_a_client_with_other_supplementary_groups_runs_cold(warm: Warm) -> None:
    """A fork kept the warm process's groups: a user added to (or removed from) a group
    since `warm start` ran with the old ones."""
    result = warm.run("probe", "proc", extra_groups=[65534])
    assert json.loads(result.stdout)["groups"] == [65534]


def _running(pid: int) -> bool:
    """`pid` exists and has not ended (a zombie waits for init to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_killed_warm_process_leaves_no_command_running_past_its_client(warm: Warm) -> None:
    """The child ran on (reparented), writing into the terminal, while its client had
    exited 1 at once: now it is hung up, and the client waits for it to end."""
    process = warm.popen("probe", "wait", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child = _waiting(process)
    os.kill(warm.pid, signal.SIGKILL)
    process.wait(timeout=60)
    alive = _running(child)
    if alive:
        os.kill(child, signal.SIGKILL)
    assert not alive


def _in_memory(pid: int, needle: bytes) -> int:
    """How often `needle` is in the writable memory of process `pid`."""
    found = 0
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb") as mem:
        for line in maps:
            span, perms = line.split()[:2]
            if not perms.startswith("rw"):
                continue
            start, end = (int(x, 16) for x in span.split("-"))
            try:
                mem.seek(start)
                found += mem.read(end - start).count(needle)
            except OSError:
                continue
    return found


def test_a_secret_in_the_clients_env_is_not_left_in_the_warm_process(warm: Warm) -> None:
    """The warm process decoded the whole request, env included, before forking: the
    freed strings stayed in its heap (core dumps, swap) for its life. The environment
    now goes on a pipe to the child alone."""
    secret = "rev8c-" + os.urandom(12).hex()
    before = warm.served()
    result = warm.run("probe", "show", extra={"PROBE": secret})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["probe"] == secret  # the child had it
    assert warm.served() == before + 1
    assert warm.status()["children"] == 0
    assert _in_memory(warm.pid, secret.encode()) == 0
