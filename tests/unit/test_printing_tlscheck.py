"""The certificate check against a real TLS listener (Python's ssl, the lab's CA maker)
on the loopback: an IPv6 print server is written `[::1]` in a profile, as libcups needs."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from adminkit.core.errors import ConnectionFailed
from adminkit.lab.smtp import make_tls
from adminkit.printing.tlscheck import check_certificate


@pytest.fixture
def tls_v6(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    make_tls(tmp_path, ("::1",), ca_name="tlscheck test CA")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "sink.pem", tmp_path / "sink.key")
    listener = socket.create_server(("::1", 0), family=socket.AF_INET6)

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(conn, server_side=True):
                    pass
            except (OSError, ssl.SSLError):
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1], tmp_path / "ca.pem"
    listener.close()


def test_an_ipv6_server_in_brackets_is_checked(tls_v6: tuple[int, Path]) -> None:
    port, ca = tls_v6
    check_certificate("v6", "[::1]", port, ca)  # raises if not reached or not trusted


def test_an_ipv6_server_with_another_ca_is_refused(tls_v6: tuple[int, Path],
                                                   tmp_path: Path) -> None:
    port, _ = tls_v6
    make_tls(tmp_path / "other", ("::1",), ca_name="another CA")
    with pytest.raises(ConnectionFailed, match="not trusted"):
        check_certificate("v6", "[::1]", port, tmp_path / "other" / "ca.pem")
