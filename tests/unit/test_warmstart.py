"""The warm start (cli/warmstart.py, cli/warmclient.py): a command run through a warm
process's forked child says, writes and exits exactly as the same command run cold.

Real processes throughout: a warm process started by `adminkit warm start`, clients
run as the installed `adminkit` script, and a test-only command group (`probe`,
tests/unit/plugins/warmprobe.py) that shows what the process running it sees.
Every warm run is checked to have been served by the warm process (its `served`
count), so a silent fall back to a cold run cannot pass for a warm one.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adminkit.cli import warmclient
from tests.childproc import exited as _exited

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = Path(__file__).resolve().parent / "plugins"
SCRIPT = Path(sys.executable).parent / "adminkit"
ENTRY = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "adminkit.cli.main"]


@dataclass
class Warm:
    env: dict[str, str]
    site: Path
    pid: int = 0
    path: str = ""  # its socket

    def environ(self, warm: bool, extra: dict[str, str] | None) -> dict[str, str]:
        env = {**self.env, **(extra or {})}
        if not warm:
            env["ADMINKIT_WARM"] = "0"
        return env

    def run(self, *args: str, warm: bool = True, extra: dict[str, str] | None = None,
            entry: list[str] | None = None, **kw: Any) -> subprocess.CompletedProcess[bytes]:
        kw.setdefault("capture_output", True)
        return subprocess.run([*(entry or ENTRY), *args], env=self.environ(warm, extra),
                              timeout=120, check=False, **kw)

    def popen(self, *args: str, warm: bool = True, **kw: Any) -> subprocess.Popen[bytes]:
        return subprocess.Popen([*ENTRY, *args], env=self.environ(warm, None), **kw)

    def status(self) -> dict[str, Any]:
        result = self.run("warm", "status", "-o", "json", warm=False)
        answer: dict[str, Any] = json.loads(result.stdout)
        return answer

    def served(self) -> int:
        return int(self.status().get("served", -1))

    def socket(self) -> str:
        return str(self.status()["socket"])


def _wait_gone(pid: int) -> bool:
    """`pid` no longer exists (exited and reaped: a zombie still has /proc/PID); looked
    for every 50 ms, for up to two minutes (a loaded machine)."""
    for _ in range(2400):
        if not os.path.exists(f"/proc/{pid}"):
            return True
        time.sleep(0.05)
    return False


def _probe_site(site: Path) -> None:
    info = site / "warmprobe-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: warmprobe\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[adminkit.commands]\nprobe = warmprobe:app\n")


def _listener_pid(path: str) -> int | None:
    """The pid of the warm process listening on `path`, from a status request sent from
    here (what `warm status` sends: no command, so it keeps nothing awake, nor counts as
    refused), or None: nobody listens there any more."""
    sock = warmclient.connect(path)
    if sock is None:  # ENOENT, ECONNREFUSED: the listener is gone
        return None
    try:
        warmclient.send_frame(sock, {"op": "status"})
        answer = warmclient.read_frame(sock)
    finally:
        sock.close()
    return None if answer is None else int(answer["pid"])  # type: ignore[call-overload]


def _start(env: dict[str, str], site: Path, idle: str = "120") -> Warm:
    """`adminkit warm start`; the pid read from its socket (a `warm status` child would
    cost ~0.4 s more in every test)."""
    warm = Warm(env, site)
    started = warm.run("warm", "start", "--idle", idle, warm=False)
    assert started.returncode == 0, started.stderr
    assert started.stdout.startswith(b"warm process ready: ")
    warm.path = started.stdout.decode().removeprefix("warm process ready: ").strip()
    pid = _listener_pid(warm.path)
    assert pid is not None, "the warm process was gone at once"
    warm.pid = pid
    return warm


def _stop(warm: Warm) -> None:
    """What `adminkit warm stop` sends, sent from here (a cold child costs ~0.4 s); the
    CLI's own stop is tested where it is the point."""
    sock = warmclient.connect(warm.path)
    if sock is None:
        return  # gone already
    try:
        warmclient.send_frame(sock, {"op": "stop"})
        warmclient.read_frame(sock)
    finally:
        sock.close()


@pytest.fixture(autouse=True)
def hangup_as_a_terminal_has_it() -> Iterator[None]:
    """Under `nohup`, or a runner that ignores SIGHUP, every process these tests start
    would inherit SIGHUP ignored, and a warm child keeps its client's ignored signals
    (as a cold run would): the hang-up tests would then see no hang-up. The clients
    start with SIGHUP as a terminal's processes have it."""
    was = signal.signal(signal.SIGHUP, signal.SIG_DFL)
    try:
        yield
    finally:
        signal.signal(signal.SIGHUP, was)


@pytest.fixture
def base_env(tmp_path: Path, env: Any) -> dict[str, str]:
    site = tmp_path / "site"
    _probe_site(site)
    run_dir = tmp_path / "run"
    run_dir.mkdir(mode=0o700)
    environ = {k: v for k, v in os.environ.items() if k != "ADMINKIT_WARM"}
    environ["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(PLUGINS), str(site)])
    environ["XDG_RUNTIME_DIR"] = str(run_dir)
    environ.pop("COLUMNS", None)  # the terminal's width, not the unit tests' fixed one
    return environ


@pytest.fixture
def warm(base_env: dict[str, str], tmp_path: Path) -> Iterator[Warm]:
    process = _start(base_env, tmp_path / "site")
    yield process
    _stop(process)
    assert _exited(process.pid)


def _same(warm: Warm, *args: str, **kw: Any) -> subprocess.CompletedProcess[bytes]:
    """Run `args` warm then cold; the warm process served the first; both alike."""
    before = warm.served()
    hot = warm.run(*args, **kw)
    assert warm.served() == before + 1, "the warm process did not run it"
    cold = warm.run(*args, warm=False, **kw)
    assert (hot.returncode, hot.stdout, hot.stderr) == (cold.returncode, cold.stdout,
                                                        cold.stderr)
    return hot


@pytest.mark.parametrize(("args", "code"), [
    (["profile", "--help"], 0),
    (["profile", "list"], 0),
    (["-p", "acme", "profile", "show", "acme"], 0),
    (["profile", "show", "nosuch"], 2),
    (["no-such-command"], 2),
    (["probe", "show", "--no-such-option"], 2),
    (["warm", "--help"], 0),
])
def test_a_command_says_the_same_warm_and_cold(warm: Warm, env: Any, args: list[str],
                                               code: int) -> None:
    (env.profiles / "acme.yaml").write_text("description: Acme s.r.o.\n")
    assert _same(warm, *args).returncode == code


def test_python_dash_m_names_the_program_as_cold(warm: Warm) -> None:
    result = _same(warm, "profile", "show",
                   entry=[sys.executable, "-m", "adminkit.cli.main"])
    assert b"python -m adminkit.cli.main" in result.stderr + result.stdout


def _probe(warm: Warm, *args: str, hot: bool = True, **kw: Any) -> dict[str, Any]:
    result = warm.run("probe", "show", *args, warm=hot, **kw)
    assert result.returncode == 0, result.stderr
    seen: dict[str, Any] = json.loads(result.stdout)
    return seen


def test_the_child_takes_the_clients_cwd_umask_env_tz_and_stdin(warm: Warm,
                                                                 tmp_path: Path) -> None:
    here = tmp_path / "here"
    here.mkdir()
    (here / "note.txt").write_text("relative")
    views = []
    for hot in (True, False):
        before = warm.served()
        seen = _probe(warm, "--path", "note.txt", hot=hot, cwd=here, input=b"piped in\n",
                      extra={"PROBE": "x1", "TZ": "Asia/Kolkata", "NO_COLOR": "1"},
                      preexec_fn=lambda: os.umask(0o027))
        assert warm.served() == before + hot
        assert (seen["ppid"] == warm.pid) is hot
        views.append({k: v for k, v in seen.items() if k not in ("pid", "ppid", "random")})
    assert views[0]["path"][0] == str(Path(ENTRY[0]).parent) if SCRIPT.exists() else True
    assert views[0] == views[1]
    assert views[0]["umask"] == 0o027 and views[0]["cwd"] == str(here)
    assert views[0]["tz"] == "+0530" and views[0]["probe"] == "x1"
    assert views[0]["content"] == "relative" and views[0]["stdin"] == "piped in\n"


def test_each_child_draws_its_own_random_numbers(warm: Warm) -> None:
    first, second = _probe(warm), _probe(warm)
    assert first["ppid"] == second["ppid"] == warm.pid
    assert first["random"] != second["random"]


def _on_a_terminal(warm: Warm, args: list[str], *, hot: bool, columns: int,
                   answer: bytes = b"") -> tuple[int, bytes, bool]:
    """Run on a new pty of `columns`; type `answer` after the prompt if any. The exit
    code, what the terminal showed, and whether echo was off while it waited."""
    import fcntl
    import struct

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    process = warm.popen(*args, warm=hot, stdin=slave, stdout=slave, stderr=slave,
                         start_new_session=True)
    shown, echo_off = b"", False
    try:
        while process.poll() is None or select.select([master], [], [], 0)[0]:
            if not select.select([master], [], [], 0.2)[0]:
                continue
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            shown += chunk
            if answer and shown.endswith(b"secret: "):
                echo_off = not termios.tcgetattr(slave)[3] & termios.ECHO
                os.write(master, answer)
                answer = b""
        process.wait(timeout=60)
    finally:
        os.close(slave)
        os.close(master)
    return process.returncode, shown, echo_off


def test_a_terminal_is_seen_with_its_width(warm: Warm) -> None:
    views = []
    for hot in (True, False):
        code, shown, _ = _on_a_terminal(warm, ["probe", "show"], hot=hot, columns=37)
        assert code == 0
        seen = json.loads(shown.decode().replace("\r\n", "\n").strip().splitlines()[-1])
        assert (seen["ppid"] == warm.pid) is hot
        views.append((seen["stdin_tty"], seen["stdout_tty"], seen["columns"]))
    assert views == [(True, True, 37), (True, True, 37)]


def test_a_secret_typed_at_the_prompt_is_not_echoed(warm: Warm) -> None:
    """Chosen: warm mode also serves prompting commands. The child has no controlling
    terminal, so getpass turns echo off on the stdin it was passed (the terminal)."""
    before = warm.served()
    code, shown, echo_off = _on_a_terminal(warm, ["probe", "ask"], hot=True, columns=80,
                                           answer=b"hunter2\n")
    assert warm.served() == before + 1
    assert code == 0 and echo_off
    assert b"got 7 characters" in shown and b"hunter2" not in shown


def _waiting(process: subprocess.Popen[bytes]) -> int:
    assert process.stdout is not None
    line = process.stdout.readline().decode()
    assert line.startswith("waiting "), line
    return int(line.split()[1])


@pytest.mark.parametrize(("signum", "code"), [
    (signal.SIGINT, 130), (signal.SIGTERM, 128 + signal.SIGTERM),
    (signal.SIGHUP, 128 + signal.SIGHUP)])
def test_a_signal_to_the_client_ends_the_child_as_a_cold_run(
        warm: Warm, signum: int, code: int) -> None:
    results = []
    for hot in (True, False):
        process = warm.popen("probe", "wait", warm=hot, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        child = _waiting(process)
        assert (child != process.pid) is hot
        process.send_signal(signum)
        _out, stderr = process.communicate(timeout=60)
        returncode = process.returncode if process.returncode >= 0 \
            else 128 - process.returncode  # the shell's convention, as the client says
        results.append((returncode, stderr))
        assert _wait_gone(child)
    assert results[0] == results[1]
    assert results[0][0] == code


def test_a_killed_client_hangs_up_its_child_which_is_reaped(warm: Warm) -> None:
    process = warm.popen("probe", "wait", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child = _waiting(process)
    assert child != process.pid
    process.kill()
    process.wait(timeout=30)
    assert _wait_gone(child)  # SIGHUP ended it, and the warm process reaped it
    assert warm.status()["children"] == 0


def _zombies_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] == "Z":
                found.append(int(entry))
    return found


def test_eight_clients_at_once_each_get_their_own_child_and_no_zombie_is_left(
        warm: Warm) -> None:
    before = warm.served()
    with ThreadPoolExecutor(8) as pool:
        views = list(pool.map(lambda _: _probe(warm), range(24)))
    assert warm.served() == before + 24
    assert len({v["pid"] for v in views}) == 24
    assert {v["ppid"] for v in views} == {warm.pid}
    assert _zombies_of(warm.pid) == []
    assert warm.status()["children"] == 0


def test_the_warm_process_holds_no_file_thread_or_network_socket(warm: Warm) -> None:
    _probe(warm)
    kinds = set()
    for fd in os.listdir(f"/proc/{warm.pid}/fd"):
        target = os.readlink(f"/proc/{warm.pid}/fd/{fd}")
        kinds.add(target.split(":")[0] if ":" in target else target)
    assert kinds <= {"/dev/null", "socket", "pipe", "anon_inode"}
    inodes = {os.readlink(f"/proc/{warm.pid}/fd/{fd}") for fd in os.listdir(
        f"/proc/{warm.pid}/fd")}
    tcp = Path("/proc/net/tcp").read_text() + Path("/proc/net/tcp6").read_text()
    for link in inodes:
        if link.startswith("socket:["):
            assert f" {link[8:-1]} " not in tcp  # only Unix sockets
    assert warm.status()["threads"] == 1
    assert len(os.listdir(f"/proc/{warm.pid}/task")) == 1


def test_the_preloaded_process_has_no_ssl_context_and_one_thread(
        base_env: dict[str, str]) -> None:
    code = ("import gc, ssl; from adminkit.cli.warmstart import preload, threads; preload(); "
            "print(sum(isinstance(o, ssl.SSLContext) for o in gc.get_objects()), threads())")
    out = subprocess.run([sys.executable, "-c", code], env=base_env, capture_output=True,
                         check=True, timeout=120).stdout
    assert out.split() == [b"0", b"1"]


def test_changed_plugin_metadata_makes_it_refuse_and_exit(warm: Warm) -> None:
    points = warm.site / "warmprobe-0.1.dist-info" / "entry_points.txt"
    points.write_text(points.read_text() + "\n")
    seen = _probe(warm)
    assert seen["ppid"] != warm.pid  # ran cold, silently
    assert _exited(warm.pid)


def test_changed_adminkit_module_makes_it_refuse_and_exit(base_env: dict[str, str],
                                                          tmp_path: Path) -> None:
    """On a copy of adminkit first on PYTHONPATH: a change to the repository's own files
    would end every other test's warm process running meanwhile (`pytest -n 2`)."""
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "adminkit", src / "adminkit")
    env = {**base_env, "PYTHONPATH": os.pathsep.join([str(src), base_env["PYTHONPATH"]])}
    warm = _start(env, tmp_path / "site")
    try:
        assert _probe(warm)["ppid"] == warm.pid  # served from the copy, warm
        module = src / "adminkit" / "cli" / "warm_cmd.py"
        was = module.stat()
        os.utime(module, ns=(was.st_atime_ns, was.st_mtime_ns + 1_000_000))
        seen = _probe(warm)
    finally:
        warm.run("warm", "stop", warm=False)
    assert seen["ppid"] != warm.pid
    assert _exited(warm.pid)


@pytest.mark.parametrize("extra", [{"LANG": "C"}, {"LC_ALL": "C.UTF-8"},
                                   {"PYTHONIOENCODING": "latin-1"}, {"PYTHONUTF8": "1"}])
def test_another_locale_or_python_setting_runs_cold_and_the_warm_process_goes_on(
        warm: Warm, extra: dict[str, str]) -> None:
    if all(warm.env.get(k) == v for k, v in extra.items()):
        extra = {k: v + "x" for k, v in extra.items()}
    result = warm.run("probe", "show", extra=extra)
    assert result.returncode == 0 and result.stderr == b""
    assert json.loads(result.stdout)["ppid"] != warm.pid
    _still_serves(warm)


def _still_serves(warm: Warm) -> None:
    """A refusal about one client leaves the warm process serving the others."""
    before = warm.served()
    assert _probe(warm)["ppid"] == warm.pid
    assert warm.served() == before + 1


def test_another_interpreter_is_refused(warm: Warm) -> None:
    sock = warmclient.connect(warm.socket())
    assert sock is not None
    try:
        request = {**warmclient.request(["adminkit", "probe", "show"]),
                   "env": warm.env, "executable": "/usr/bin/python-other"}
        warmclient.send_frame(sock, request, [0, 1, 2])
        assert warmclient.read_frame(sock) == {"refused": "another interpreter"}
    finally:
        sock.close()
    _still_serves(warm)


def _stranger(path: str, uid: int, gid: int,
              request: dict[str, object]) -> None:  # pragma: no cover - forked
    """As `uid`:`gid`, send `request` (made before the fork: as another user the child
    may not import what making it needs, `resource`, unless a test before did) to the
    warm process at `path`; exit 0 when it closes the connection without an answer, 1
    when it answers or anything fails."""
    code = 1
    try:
        os.setgid(gid)
        os.setuid(uid)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(path)
        try:
            warmclient.send_frame(sock, request, [0, 1, 2])
            code = 0 if sock.recv(1) == b"" else 1
        except (BrokenPipeError, ConnectionResetError):
            code = 0
    finally:
        os._exit(code)


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to connect as another user")
@pytest.mark.parametrize(("uid", "gid"), [(65534, 65534), (0, 65534)])
def test_another_user_or_group_is_refused_by_peer_credentials(
        warm: Warm, uid: int, gid: int) -> None:
    # The 0700 folder keeps strangers out; a second name for the socket outside it
    # (a hard link in /tmp, the socket opened to all) lets one reach the peer check.
    path = warm.socket()
    os.chmod(path, 0o666)  # noqa: S103 - the point: a stranger may connect
    link = f"/tmp/adminkit-warm-test-{os.getpid()}-{uid}-{gid}.sock"
    os.link(path, link)
    request = warmclient.request(["adminkit", "probe", "show"])
    refused = warm.status()["refused"]
    try:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the stranger
            _stranger(link, uid, gid, request)
        _, status = os.waitpid(pid, 0)
    finally:
        os.unlink(link)
    assert os.waitstatus_to_exitcode(status) == 0
    assert warm.status()["refused"] == refused + 1
    assert _probe(warm)["ppid"] == warm.pid  # still serving its own user


@pytest.mark.parametrize("spoil", ["loose", "link"])
def test_a_socket_folder_not_private_means_cold_silently(
        warm: Warm, tmp_path: Path, spoil: str) -> None:
    folder = Path(warm.socket()).parent
    before = warm.served()
    if spoil == "loose":
        folder.chmod(0o755)
    else:
        folder.rename(tmp_path / "elsewhere")
        folder.symlink_to(tmp_path / "elsewhere")
    try:
        result = warm.run("probe", "show")
        debug = warm.run("--debug", "probe", "show")
    finally:  # as it was, for `warm stop`
        if spoil == "loose":
            folder.chmod(0o700)
        else:
            folder.unlink()
            (tmp_path / "elsewhere").rename(folder)
    assert result.returncode == 0 and result.stderr == b""
    assert json.loads(result.stdout)["ppid"] != warm.pid
    assert b"not a usable socket" in debug.stderr
    assert warm.served() == before


def test_the_thin_client_imports_no_typer_pydantic_rich_or_yaml(warm: Warm) -> None:
    before = warm.served()
    result = warm.run("profile", "list", entry=[sys.executable, "-X", "importtime", "-m",
                                                 "adminkit.cli.main"])
    assert result.returncode == 0 and warm.served() == before + 1
    imported = {line.split("|")[-1].strip() for line in result.stderr.decode().splitlines()
                if line.startswith("import time:")}
    assert "_socket" in imported and "adminkit.cli.warmclient" in imported
    assert not {m.split(".")[0] for m in imported} & {"typer", "pydantic", "rich", "yaml",
                                                      "click", "socket", "json"}


def test_it_exits_when_idle(base_env: dict[str, str], tmp_path: Path) -> None:
    """Its pid is read from the socket at once, not from a `warm status` child that a
    loaded machine may start after the idle second is up (then it found no process).
    Already gone by then: that is the outcome too, seen by the socket and the status."""
    process = Warm(base_env, tmp_path / "site")
    started = process.run("warm", "start", "--idle", "1s", warm=False)
    assert started.returncode == 0, started.stderr
    path = started.stdout.decode().removeprefix("warm process ready: ").strip()
    pid = _listener_pid(path)
    if pid is not None:
        assert pid != os.getpid()
        assert _exited(pid)
    assert process.run("warm", "status", "-o", "json").stdout.startswith(b'{"running": false')


def test_status_and_stop_without_a_warm_process(base_env: dict[str, str],
                                                tmp_path: Path) -> None:
    idle = Warm(base_env, tmp_path / "site")
    assert idle.run("warm", "stop").stdout == b"no warm process runs\n"
    assert json.loads(idle.run("warm", "status", "-o", "json").stdout)["running"] is False
    bad = idle.run("warm", "start", "--idle", "soon")
    assert bad.returncode == 2 and b"--idle 'soon'" in bad.stderr


@pytest.mark.parametrize("option", [["-O"], ["-W", "error"], ["-X", "dev"]])
def test_other_interpreter_options_run_cold_and_the_warm_process_goes_on(
        warm: Warm, option: list[str]) -> None:
    result = warm.run("probe", "show", entry=[sys.executable, *option, "-m",
                                              "adminkit.cli.main"])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ppid"] != warm.pid
    _still_serves(warm)


@pytest.mark.parametrize("entry", [ENTRY, [sys.executable, "-m", "adminkit.cli.main"]])
def test_the_child_has_the_clients_sys_path(warm: Warm, tmp_path: Path,
                                            entry: list[str]) -> None:
    """`python -m` puts the cwd first on sys.path, the installed script its folder."""
    views = [_probe(warm, hot=hot, cwd=tmp_path, entry=entry) for hot in (True, False)]
    assert views[0]["ppid"] == warm.pid
    assert views[0]["path"] == views[1]["path"]


def test_a_signal_the_client_ignores_is_ignored_by_its_child(warm: Warm) -> None:
    """`nohup adminkit ...`: SIGHUP ignored from the start, in the child too."""
    process = warm.popen("probe", "wait", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    child = _waiting(process)
    assert child != process.pid
    os.kill(process.pid, signal.SIGHUP)  # not forwarded: ignored
    os.kill(child, signal.SIGHUP)  # a SIGHUP it heard would end it before the SIGTERM
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM


def test_a_secret_in_the_starters_environment_is_not_kept_by_the_warm_process(
        base_env: dict[str, str], tmp_path: Path) -> None:
    """/proc/PID/environ is the block a process started with: the warm process runs
    itself again without the starter's secrets; each child gets its client's."""
    secret = "s3cr3t-" + os.urandom(8).hex()
    env = {**base_env, "ADMINKIT_RT_PASSWORD": secret, "HELPDESK_TOKEN": secret}
    process = _start(env, tmp_path / "site")
    try:
        environ = Path(f"/proc/{process.pid}/environ").read_bytes()
        assert secret.encode() not in environ
        assert b"ADMINKIT_RT_PASSWORD" not in environ and b"HELPDESK_TOKEN" not in environ
        assert f"PYTHONPATH={base_env['PYTHONPATH']}".encode() in environ.split(b"\0")
        seen = _probe(process, extra={"PROBE": secret})
        assert seen["ppid"] == process.pid and seen["probe"] == secret
    finally:
        process.run("warm", "stop", warm=False)
    assert _exited(process.pid)


def test_a_stalled_client_holds_up_no_other(warm: Warm) -> None:
    """Three clients send half a request and stop: another is served meanwhile (they
    are still waiting, not yet dropped), and each is dropped later (it runs cold)."""
    refused = warm.status()["refused"]
    stalled = []
    for _ in range(3):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(warm.socket())
        sock.sendall((1000).to_bytes(4, "big") + b"\0" * 10)  # 10 of 1000 bytes
        stalled.append(sock)
    try:
        assert _probe(warm)["ppid"] == warm.pid
        for sock in stalled:
            sock.setblocking(False)
            with pytest.raises(BlockingIOError):  # no answer yet, nor closed
                sock.recv(1)
        for sock in stalled:
            sock.settimeout(120)
            assert sock.recv(1) == b""  # dropped at its deadline
    finally:
        for sock in stalled:
            sock.close()
    assert warm.status()["refused"] == refused + 3
    _still_serves(warm)


def test_status_says_when_it_started_as_a_local_iso_time(warm: Warm) -> None:
    from datetime import datetime

    answer = warm.status()
    started = datetime.fromisoformat(answer["started_at"])
    assert started.tzinfo is not None
    assert int(started.timestamp()) == int(answer["started"])
    table = warm.run("warm", "status", warm=False).stdout.decode()
    assert answer["started_at"] in table and str(answer["started"]) not in table


def test_a_stopped_warm_process_removes_its_socket_file(base_env: dict[str, str],
                                                        tmp_path: Path) -> None:
    warm = _start(base_env, tmp_path / "site")
    assert os.path.exists(warm.path)
    _stop(warm)
    assert _exited(warm.pid)
    assert not os.path.lexists(warm.path)  # no stale socket left for the next start


def test_a_successors_socket_file_is_left_alone(base_env: dict[str, str],
                                                tmp_path: Path) -> None:
    """Its file replaced meanwhile (another warm process took the name): not removed."""
    warm = _start(base_env, tmp_path / "site")
    os.unlink(warm.path)
    successor = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        successor.bind(warm.path)
        os.kill(warm.pid, signal.SIGTERM)
        assert _exited(warm.pid)
        assert os.path.lexists(warm.path)
    finally:
        successor.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(warm.path)
