"""The TLS relay libcups talks to for a `tls: true` print server, against a real TLS
server (Python's ssl, certificates from the lab's CA maker) on the loopback: what the
server receives, decrypted, is what the test asserts on."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from adminkit.core.errors import ConnectionFailed
from adminkit.lab.smtp import make_tls
from adminkit.printing import tlsrelay
from adminkit.printing.tlsrelay import TlsRelay
from tests.fakes.loopback import LoopbackListener


class TlsServer(LoopbackListener):
    """Echoes what a connection sends; or, with `reply`, answers once and closes.
    `context` is read for each connection: the test can swap in another certificate."""

    def __init__(self, certs: Path, host: str = "127.0.0.1", reply: bytes | None = None
                 ) -> None:
        super().__init__(host)
        self.context = self.context_for(certs)
        self.reply = reply
        self.handshakes = 0  # connections whose TLS handshake completed
        self.received: list[bytes] = []  # per connection, decrypted
        self._open: list[socket.socket] = []
        self.start()

    @staticmethod
    def context_for(certs: Path) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certs / "sink.pem", certs / "sink.key")
        return context

    def serve(self, sock: socket.socket) -> None:
        self._open.append(sock)
        with contextlib.suppress(OSError), sock:
            sock.settimeout(10)
            with self.context.wrap_socket(sock, server_side=True) as tls:
                self.handshakes += 1
                got = bytearray()
                self.received.append(b"")
                index = len(self.received) - 1
                while data := tls.recv(65536):
                    got += data
                    self.received[index] = bytes(got)
                    if self.reply is not None:
                        tls.sendall(self.reply)
                        return
                    tls.sendall(data)

    def close_open(self) -> None:
        for sock in self._open:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.stop()


@pytest.fixture
def certs(tmp_path: Path) -> Path:
    make_tls(tmp_path / "ca", ("127.0.0.1", "::1"), ca_name="relay test CA")
    return tmp_path / "ca"


@pytest.fixture
def server(certs: Path) -> Iterator[TlsServer]:
    srv = TlsServer(certs)
    yield srv
    srv.close()


@pytest.fixture
def relay(server: TlsServer, certs: Path) -> Iterator[TlsRelay]:
    r = TlsRelay("p1", "127.0.0.1", server.port, certs / "ca.pem")
    yield r
    r.close()


def client(relay: TlsRelay) -> socket.socket:
    sock = socket.create_connection((relay.address, relay.port), timeout=10)
    return sock


def read_all(sock: socket.socket, size: int) -> bytes:
    got = bytearray()
    while len(got) < size and (data := sock.recv(65536)):
        got += data
    return bytes(got)


def echoed(relay: TlsRelay, data: bytes) -> bytes:
    """What comes back for `data` on a new connection, then the relay closed."""
    try:
        with client(relay) as sock:
            sock.sendall(data)
            return read_all(sock, len(data))
    finally:
        relay.close()


def test_bytes_go_both_ways_over_the_verified_connection(relay: TlsRelay,
                                                         server: TlsServer) -> None:
    payload = bytes(range(256)) * 8192  # 2 MiB: more than any buffer on the way
    with client(relay) as sock:
        sender = threading.Thread(target=sock.sendall, args=(payload,))
        sender.start()
        assert read_all(sock, len(payload)) == payload
        sender.join()
    assert server.handshakes == 1  # the connection made at start is the one used
    assert server.received == [payload]


def test_an_ipv6_server_in_brackets(certs: Path) -> None:
    with TlsServer(certs, host="::1") as srv:
        assert echoed(TlsRelay("v6", "[::1]", srv.port, certs / "ca.pem"), b"ping") == b"ping"


def test_what_the_server_says_before_it_closes_arrives_whole(certs: Path) -> None:
    answer = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"x" * 500_000
    srv = TlsServer(certs, reply=answer)
    relay = TlsRelay("p1", "127.0.0.1", srv.port, certs / "ca.pem")
    try:
        with client(relay) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\n\r\n")
            assert read_all(sock, len(answer) + 1) == answer  # and then EOF
    finally:
        relay.close()
        srv.close()


@pytest.mark.parametrize("case", ["another CA", "another name", "expired"])
def test_a_certificate_that_does_not_pass_is_exit_3_and_nothing_is_sent(
        certs: Path, tmp_path: Path, case: str) -> None:
    ca = certs / "ca.pem"
    if case == "another CA":
        make_tls(tmp_path / "bad", ("127.0.0.1",), ca_name="another CA")
    elif case == "another name":  # the right CA, a certificate for another address
        make_tls(tmp_path / "bad", ("127.0.0.9",), ca_name="name test CA")
        ca = tmp_path / "bad" / "ca.pem"
    else:
        make_tls(tmp_path / "bad", ("127.0.0.1",), ca_name="expiry test CA", expired=True)
        ca = tmp_path / "bad" / "ca.pem"
    srv = TlsServer(tmp_path / "bad")
    try:
        with pytest.raises(ConnectionFailed, match="TLS certificate is not trusted") as caught:
            TlsRelay("p1", "127.0.0.1", srv.port, ca)
        said = str(caught.value) + (caught.value.hint or "")
        assert "print server p1 (127.0.0.1:" in said and "ca_file" in said
        assert {"another CA": "unable to get local issuer certificate",
                "another name": "IP address mismatch",
                "expired": "certificate has expired"}[case] in said
        assert caught.value.exit_code == 3
    finally:
        srv.close()
    assert srv.handshakes == 0 and srv.received == []


def test_a_later_connection_to_a_certificate_that_does_not_pass_is_closed_unread(
        relay: TlsRelay, server: TlsServer, tmp_path: Path) -> None:
    with client(relay) as sock:  # the first: the server the relay started with
        sock.sendall(b"one")
        assert read_all(sock, 3) == b"one"
    make_tls(tmp_path / "evil", ("127.0.0.1",), ca_name="a middle's CA")
    server.context = TlsServer.context_for(tmp_path / "evil")  # someone took its place
    with client(relay) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(b"POST /admin/ HTTP/1.1\r\nAuthorization: Basic c2VjcmV0\r\n\r\n")
        with contextlib.suppress(OSError):
            assert read_all(sock, 1) == b""  # closed (or reset), nothing answered
    assert server.received == [b"one"]  # the second connection's handshake never finished
    assert relay.failure is not None and "not trusted" in str(relay.failure)


def test_a_stale_first_connection_is_made_anew(server: TlsServer, certs: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tlsrelay, "FRESH", -1.0)  # whatever its age, it is too old
    relay = TlsRelay("p1", "127.0.0.1", server.port, certs / "ca.pem")
    assert echoed(relay, b"fresh") == b"fresh"
    assert server.handshakes == 2 and server.received[-1] == b"fresh"


def test_close_ends_open_connections_and_the_thread(relay: TlsRelay, server: TlsServer,
                                                    tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    socks = [client(relay) for _ in range(3)]
    for sock in socks:
        sock.sendall(b"x")
        assert read_all(sock, 1) == b"x"
    make_tls(tmp_path / "evil", ("127.0.0.1",), ca_name="a middle's CA")
    server.context = TlsServer.context_for(tmp_path / "evil")
    refused = client(relay)
    with contextlib.suppress(OSError):
        refused.sendall(b"y")
        refused.recv(1)
    thread = relay._thread
    relay.close()
    assert not thread.is_alive()
    for sock in [*socks, refused]:
        with contextlib.suppress(ConnectionResetError):  # reset or EOF: either way, over
            assert sock.recv(1) == b""
        sock.close()
    with pytest.raises(ConnectionRefusedError):
        client(relay).close()  # nobody listens any more
    relay.close()  # again: nothing
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []


def test_a_server_that_does_not_answer_is_exit_3() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # bound, not listening: refused
        with pytest.raises(ConnectionFailed, match="does not answer") as caught:
            TlsRelay("p1", "127.0.0.1", port, None)
    assert caught.value.exit_code == 3
