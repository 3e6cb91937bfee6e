"""Review of the warm process's reading of requests (cli/warmstart.py): a client of the
same user who opens more connections than the process has file descriptors for."""

from __future__ import annotations

import resource
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_warmstart import (
    Warm,
    _exited,
    _probe,
    base_env,  # noqa: F401 - the fixture, shared
)

LIMIT = 64  # the warm process's file descriptors (inherited from `warm start`)


def _alive(pid: int) -> bool:
    """Running: /proc/PID is there and not a zombie's (the warm process is detached, so
    a dead one stays a zombie until its parent, gone, is replaced by init's reaping)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _few_fds() -> None:  # pragma: no cover - runs in the child before exec
    resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, LIMIT))


@pytest.fixture
def small_warm(base_env: dict[str, str],  # noqa: F811 - that fixture
               tmp_path: Path) -> Iterator[Warm]:
    warm = Warm(base_env, tmp_path / "site")
    started = warm.run("warm", "start", "--idle", "120", warm=False, preexec_fn=_few_fds)
    assert started.returncode == 0, started.stderr
    warm.pid = int(warm.status()["pid"])
    yield warm
    warm.run("warm", "stop", warm=False)
    assert _exited(warm.pid)


def test_more_half_open_connections_than_fds_leave_it_serving(small_warm: Warm) -> None:
    """Each connection that sent nothing holds one of the process's fds until its 5 s
    are up; past its limit, accept fails (EMFILE): the warm process must refuse (those
    clients run cold) and go on, not die."""
    held: list[socket.socket] = []
    path = small_warm.socket()
    try:
        for _ in range(3 * LIMIT):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(path)
            except OSError:  # the backlog is full: what a client then does (runs cold)
                sock.close()
                continue
            held.append(sock)
        cold = small_warm.run("--version")  # meanwhile a client runs, cold at worst
        assert cold.returncode == 0, cold.stderr
        assert _alive(small_warm.pid), "the warm process died"
    finally:
        for sock in held:
            sock.close()
    assert _alive(small_warm.pid), "the warm process died"
    seen: dict[str, Any] = _probe(small_warm, preexec_fn=_few_fds)  # its limits
    assert seen["ppid"] == small_warm.pid  # served warm again once they are gone


def test_a_client_with_a_higher_hard_limit_runs_cold(small_warm: Warm) -> None:
    """The child takes its client's limits after the fork; one it may not raise (root
    without CAP_SYS_RESOURCE, as in a container) must be refused before it: the client
    runs cold, not into a traceback."""
    assert _probe(small_warm, preexec_fn=_few_fds)["ppid"] == small_warm.pid
    seen: dict[str, Any] = _probe(small_warm)  # this test's own, higher, limit
    assert seen["ppid"] != small_warm.pid
    assert _probe(small_warm, preexec_fn=_few_fds)["ppid"] == small_warm.pid



@pytest.mark.parametrize("started", [1e300, float("nan"), -1e18])
def test_status_with_a_time_no_clock_can_show_is_still_shown(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Any, started: float) -> None:
    """`warm status` turns the warm process's `started` into a local time: a number
    datetime cannot take (another version's, a bug's) must not end it in a traceback."""
    import os
    import threading

    from adminkit.cli import warmclient

    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    monkeypatch.setenv("ADMINKIT_WARM", "0")  # this command itself runs here, cold
    path = warmclient.socket_path()
    os.makedirs(os.path.dirname(path), mode=0o700)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen()

    def answer() -> None:
        conn, _ = listener.accept()
        with conn:
            warmclient.read_frame(conn)
            warmclient.send_frame(conn, {"pid": 1, "started": started, "served": 0})

    server = threading.Thread(target=answer, daemon=True)
    server.start()
    try:
        r = cli("warm", "status")
    finally:
        server.join(60)
        listener.close()
    assert r.code == 0, (r.code, r.out, r.err)
    assert "served" in r.out and "started" in r.out


_LOADER = '''
import ctypes, json, os
import typer
app = typer.Typer(no_args_is_help=True)

@app.command("load")
def load() -> None:
    """Open a library by name, found only on LD_LIBRARY_PATH."""
    try:
        ctypes.CDLL("librev9aprobe.so.1")
        found = True
    except OSError:
        found = False
    print(json.dumps({"found": found, "ppid": os.getppid()}))

@app.command("noop")
def noop() -> None:
    """Nothing."""
'''


def test_the_loader_path_the_starter_and_client_share_holds_in_the_child(
        base_env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811 - the fixture
    """The dynamic loader reads LD_LIBRARY_PATH (and LD_PRELOAD) once, at exec: the warm
    process ran itself again without them, so its children could not find a library
    their client (and a cold run) could; a client with other ones must run cold."""
    import json
    import shutil

    libz = next((p for p in ("/lib/x86_64-linux-gnu/libz.so.1", "/usr/lib64/libz.so.1",
                             "/lib/aarch64-linux-gnu/libz.so.1") if Path(p).exists()), None)
    if libz is None:
        pytest.skip("no libz.so.1 to copy as a library only LD_LIBRARY_PATH finds")
    libs = tmp_path / "libs"
    libs.mkdir()
    shutil.copy(libz, libs / "librev9aprobe.so.1")
    site = tmp_path / "site"
    (site / "rev9aload.py").write_text(_LOADER)
    info = site / "rev9aload-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rev9aload\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[adminkit.commands]\nrev9a = rev9aload:app\n")
    env = {**base_env, "LD_LIBRARY_PATH": str(libs)}
    warm = Warm(env, site)
    started = warm.run("warm", "start", "--idle", "120", warm=False)
    assert started.returncode == 0, started.stderr
    warm.pid = int(warm.status()["pid"])
    try:
        cold = json.loads(warm.run("rev9a", "load", warm=False).stdout)
        assert cold["found"] and cold["ppid"] != warm.pid
        hot = warm.run("rev9a", "load")
        assert hot.returncode == 0, hot.stderr
        seen = json.loads(hot.stdout)
        assert seen == {"found": True, "ppid": warm.pid}, seen  # served warm, and found
        other = json.loads(warm.run("rev9a", "load",
                                    extra={"LD_LIBRARY_PATH": str(tmp_path)}).stdout)
        assert other["ppid"] != warm.pid and not other["found"]  # cold, as its own
    finally:
        warm.run("warm", "stop", warm=False)
    assert _exited(warm.pid)
