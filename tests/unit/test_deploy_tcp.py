"""The socket an SSH login runs on (deploy/tcp.py), against a real local TCP server."""

from __future__ import annotations

import socket

import pytest

from adminkit.deploy import tcp


def test_no_nagle_and_quick_acks_after_each_read() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        sock = tcp.connect("127.0.0.1", port, 5.0)
        peer, _ = server.accept()
        with sock, peer:
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
            sock.sendall(b"SSH-2.0-client\r\n")
            assert peer.recv(64) == b"SSH-2.0-client\r\n"
            peer.sendall(b"SSH-2.0-server\r\n")
            assert sock.recv(64) == b"SSH-2.0-server\r\n"
            if tcp.QUICKACK is not None:
                assert sock.getsockopt(socket.IPPROTO_TCP, tcp.QUICKACK) == 1
            peer.close()
            assert sock.recv(64) == b""  # the end still reads as the end


def test_a_closed_port_is_an_oserror() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
    with pytest.raises(ConnectionRefusedError):
        tcp.connect("127.0.0.1", port, 5.0)


def test_ctrl_c_while_connecting_closes_the_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    """A KeyboardInterrupt (not an OSError) in connect: the socket is closed at once, not
    left open until the process exits."""
    made: list[socket.socket] = []

    def interrupted(self: socket.socket, target: object) -> None:
        made.append(self)
        raise KeyboardInterrupt

    monkeypatch.setattr(tcp.QuickAckSocket, "connect", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tcp.connect("127.0.0.1", 9, 5.0)
    [sock] = made
    assert sock.fileno() == -1  # closed
