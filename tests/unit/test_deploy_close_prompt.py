"""A closed SSH connection is closed on the wire at once, not when its thread next looks
(deploy/ssh.py polls once a second): the thread's pending wait held the socket open, so
the host's sshd kept the session up to a second after close. Against a real TCP server
that says an SSH banner and then nothing, so the login times out and the client closes."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from adminkit.core.errors import ConnectionFailed
from adminkit.deploy.settings import HostConfig, SSHSettings
from adminkit.deploy.ssh import SSHBackend

ESTABLISHED = "01"  # /proc/net/tcp's state of an open connection


def _state(local_port: int, remote_port: int) -> str | None:
    """The kernel's state of the 127.0.0.1 connection local_port -> remote_port."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state = fields[1], fields[2], fields[3]
        if (int(local.split(":")[1], 16) == local_port
                and int(remote.split(":")[1], 16) == remote_port):
            return state
    return None


def test_a_failed_login_is_closed_on_the_wire_when_it_returns(tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    peers: list[socket.socket] = []
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        def serve() -> None:
            peer, _ = server.accept()
            peers.append(peer)
            peer.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")  # then silence: no key exchange

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        ssh = SSHSettings(user="u", known_hosts=known, timeout=1)
        with pytest.raises(ConnectionFailed):
            SSHBackend(HostConfig(name="h1", address="127.0.0.1", port=port), ssh)
        state = None
        thread.join(10)
        with peers[0] as peer:
            client_port = peer.getpeername()[1]
            state = _state(client_port, port)
    assert state != ESTABLISHED  # FIN sent: the sshd ends its session now


def _not_ssh_server(accepts: int) -> tuple[socket.socket, threading.Thread]:
    """A TCP server that answers `accepts` connections with a line that is no SSH banner:
    a login fails at once, after its client was given the known_hosts keys."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        for _ in range(accepts):
            peer, _ = server.accept()
            with peer:
                peer.sendall(b"not ssh\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server, thread


def _host(jump: bool, port: int) -> tuple[HostConfig, tuple[str, str, int] | None]:
    """The host h1 on the server's port, or through a jump host there (whose login fails:
    the host itself is never reached)."""
    if jump:
        return HostConfig(name="h1", address="127.0.0.2"), ("u", "127.0.0.1", port)
    return HostConfig(name="h1", address="127.0.0.1", port=port), None


@pytest.mark.parametrize("jump", [False, True])
def test_the_login_reads_known_hosts_as_it_is_then(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   jump: bool) -> None:
    """known_hosts removed while the TCP connection is made (an operator revoking a host
    key, `ssh-keygen -R`, a restore): the login that follows trusts nothing the file no
    longer holds, even with the old file's keys parsed in this process already: a usage
    error (exit 2) naming the file, as when it is missing at the start."""
    from adminkit.core.errors import UsageError
    from adminkit.deploy import ssh as ssh_mod
    from adminkit.deploy import tcp

    known = tmp_path / "known_hosts"
    known.write_text("")
    server, thread = _not_ssh_server(2)
    with server:
        port = server.getsockname()[1]
        ssh = SSHSettings(user="u", known_hosts=known, timeout=2)
        host, through = _host(jump, port)
        with pytest.raises(ConnectionFailed):  # the file parsed and kept (_known_hosts)
            SSHBackend(host, ssh, jump=through)
        real = tcp.connect

        def removing(address: str, port: int, timeout: float) -> socket.socket:
            sock = real(address, port, timeout)
            known.unlink()  # while the connection was being made
            return sock

        monkeypatch.setattr(ssh_mod.tcp, "connect", removing)
        with pytest.raises(UsageError, match="known_hosts"):
            SSHBackend(host, ssh, jump=through)
        thread.join(10)


@pytest.mark.parametrize("jump", [False, True])
def test_known_hosts_is_stated_first_and_again_before_the_login(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jump: bool) -> None:
    """The connect checks known_hosts before any host is contacted (a missing file is the
    profile's fault); the login looks again once its connection is made, just before
    the handshake (through a jump host too): two stats a host, ~2 us each."""
    from adminkit.deploy import ssh as ssh_mod
    from adminkit.deploy import tcp

    known = tmp_path / "known_hosts"
    known.write_text("")
    events: list[str] = []
    real_stat, real_connect = ssh_mod._known_hosts_stat, tcp.connect

    def counted(path: str) -> object:
        events.append("stat")
        return real_stat(path)

    def connecting(address: str, port: int, timeout: float) -> socket.socket:
        events.append("connect")
        return real_connect(address, port, timeout)

    monkeypatch.setattr(ssh_mod, "_known_hosts_stat", counted)
    monkeypatch.setattr(ssh_mod.tcp, "connect", connecting)
    server, thread = _not_ssh_server(1)
    with server:
        port = server.getsockname()[1]
        host, through = _host(jump, port)
        with pytest.raises(ConnectionFailed):
            SSHBackend(host, SSHSettings(user="u", known_hosts=known, timeout=2), jump=through)
        thread.join(10)
    assert events == ["stat", "connect", "stat"]


def test_ctrl_c_in_a_jump_hosts_login_closes_its_socket(monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    """The jump host's socket is made in its login, not handed in: a Ctrl-C during the
    handshake closes it there, not at the process's exit."""
    import paramiko

    from adminkit.deploy import ssh as ssh_mod
    from adminkit.deploy import tcp

    known = tmp_path / "known_hosts"
    known.write_text("")
    made: list[socket.socket] = []
    real_connect = tcp.connect

    def connecting(address: str, port: int, timeout: float) -> socket.socket:
        made.append(real_connect(address, port, timeout))
        return made[-1]

    def interrupted(self: object, *args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(ssh_mod.tcp, "connect", connecting)
    monkeypatch.setattr(paramiko.SSHClient, "connect", interrupted)
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        ssh = SSHSettings(user="u", known_hosts=known, timeout=2)
        with pytest.raises(KeyboardInterrupt):
            SSHBackend(HostConfig(name="h1", address="127.0.0.2"), ssh,
                       jump=("u", "127.0.0.1", port))
    [sock] = made
    assert sock.fileno() == -1  # closed


def test_ctrl_c_while_the_jump_host_opens_the_channel_closes_the_jump_login(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Logged in to the jump host, a Ctrl-C while it opens the channel to the host: the
    jump host's connection is closed then (the backend is never made: nothing else
    holds it to close it later)."""
    from adminkit.deploy import ssh as ssh_mod

    known = tmp_path / "known_hosts"
    known.write_text("")
    closed: list[str] = []

    class Transport:
        def open_channel(self, *args: object, **kwargs: object) -> None:
            raise KeyboardInterrupt

    class JumpClient:
        def get_transport(self) -> Transport:
            return Transport()

        def close(self) -> None:
            closed.append("jump")

    monkeypatch.setattr(ssh_mod.SSHBackend, "_login", lambda self, *a, **k: JumpClient())
    ssh = SSHSettings(user="u", known_hosts=known, timeout=2)
    with pytest.raises(KeyboardInterrupt):
        SSHBackend(HostConfig(name="h1", address="127.0.0.2"), ssh, jump=("u", "127.0.0.1", 22))
    assert closed == ["jump"]
