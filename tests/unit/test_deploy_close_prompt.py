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


@pytest.mark.parametrize("jump", [False, True])
def test_known_hosts_is_stated_once_per_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             jump: bool) -> None:
    """The connect checks known_hosts before any host is contacted; the login trusts by
    that same stat instead of taking another moments later (through a jump host too)."""
    from adminkit.deploy import ssh as ssh_mod

    known = tmp_path / "known_hosts"
    known.write_text("")
    stats: list[str] = []
    real = ssh_mod._known_hosts_stat

    def counted(path: str) -> object:
        stats.append(path)
        return real(path)

    monkeypatch.setattr(ssh_mod, "_known_hosts_stat", counted)
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        def serve() -> None:
            peer, _ = server.accept()
            with peer:
                peer.sendall(b"not ssh\r\n")  # the login fails at once, after the trust

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        ssh = SSHSettings(user="u", known_hosts=known, timeout=2)
        # through a jump host, its login fails: the host itself is never reached
        host = (HostConfig(name="h1", address="127.0.0.2") if jump
                else HostConfig(name="h1", address="127.0.0.1", port=port))
        with pytest.raises(ConnectionFailed):
            SSHBackend(host, ssh, jump=("u", "127.0.0.1", port) if jump else None)
        thread.join(10)
    assert stats == [str(known)]
