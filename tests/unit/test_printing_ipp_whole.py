"""Cancel-Jobs written whole by printing/ipp.py (`cancel_jobs_whole`).

A listening socket of the test's own plays the server: it reads the whole request
(head and Content-Length bytes), keeps it, and answers what cupsd could (success, an
IPP error with its message, a login wanted, silence). The request is checked byte by
byte against RFC 8010's layout; that cupsd cancels exactly these jobs and keeps them as
history is tested on a real cupsd (tests/integration/test_printing_cli.py).
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from adminkit.printing import ipp
from tests.unit.test_printing_ippread import attr

URI = "ipp://localhost/printers/front-desk"


def ipp_answer(status: int, message: str | None = None) -> bytes:
    ops = attr(0x47, "attributes-charset", b"utf-8") + attr(0x48, "attributes-natural-"
                                                            "language", b"en")
    if message is not None:
        ops += attr(0x41, "status-message", message.encode())
    return struct.pack(">BBHI", 2, 0, status, 1) + b"\x01" + ops + b"\x03"


def http(status: str, body: bytes, **fields: str) -> bytes:
    fields.setdefault("Content_Length", str(len(body)))
    head = [f"HTTP/1.1 {status}", *(f"{k.replace('_', '-')}: {v}" for k, v in fields.items())]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class Server:
    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.replies: list[bytes] = []
        self.requests: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                while len(body) < length:
                    body += conn.recv(65536)
                self.requests.append(head + b"\r\n\r\n" + body)
                reply = self.replies.pop(0) if self.replies else b""
                if reply == b"silence":
                    conn.recv(65536)  # until the client gives up
                    continue
                conn.sendall(reply)


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.sock.close()


def test_the_request_names_exactly_the_jobs_and_keeps_history() -> None:
    body = ipp.cancel_jobs_request(URI, "operator", [3, 70000])
    version, op, request_id = struct.unpack_from(">HHI", body)
    assert (version, op, request_id) == (0x0200, 0x0038, 1)
    assert body[8:] == b"\x01" + b"".join([
        attr(0x47, "attributes-charset", b"utf-8"),
        attr(0x48, "attributes-natural-language", b"en"),
        attr(0x45, "printer-uri", URI.encode()),
        attr(0x42, "requesting-user-name", b"operator"),
        attr(0x21, "job-ids", struct.pack(">i", 3), struct.pack(">i", 70000))]) + b"\x03"
    assert b"purge-jobs" not in body  # a purge would delete the history too


def test_head_and_body_go_in_one_write(server: Server,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    writes: list[int] = []
    connect = socket.create_connection

    class Counted(socket.socket):
        def sendall(self, data: Any, flags: int = 0) -> None:
            writes.append(len(data))
            super().sendall(data, flags)

        def send(self, data: Any, flags: int = 0) -> int:
            writes.append(len(data))
            return super().send(data, flags)

    def counted(address: tuple[str, int], timeout: float | None = None) -> socket.socket:
        plain = connect(address, timeout=timeout)
        sock = Counted(fileno=plain.detach())
        sock.settimeout(timeout)
        return sock

    monkeypatch.setattr(ipp.socket, "create_connection", counted)
    server.replies.append(http("200 OK", ipp_answer(0)))
    assert ipp.cancel_jobs_whole("127.0.0.1", server.port, URI, "root", list(range(1, 2001)))
    [request] = server.requests
    assert writes == [len(request)]
    assert request.startswith(b"POST /jobs/ HTTP/1.1\r\nHost: localhost:")
    assert request.endswith(ipp.cancel_jobs_request(URI, "root", list(range(1, 2001))))


def test_an_ipp_error_carries_the_servers_message(server: Server) -> None:
    server.replies.append(http("200 OK", ipp_answer(0x0406, "Job #7 does not exist.")))
    with pytest.raises(ipp.IppRequestFailed) as failed:
        ipp.cancel_jobs_whole("127.0.0.1", server.port, URI, "root", [7])
    assert (failed.value.code, failed.value.message) == (0x0406, "Job #7 does not exist.")


@pytest.mark.parametrize("reply", [
    http("401 Unauthorized", b"", WWW_Authenticate="Basic realm=\"CUPS\""),
    http("426 Upgrade Required", b"", Upgrade="TLS/1.2,TLS/1.1,TLS/1.0"),
    http("403 Forbidden", b""),
])
def test_an_answer_but_200_is_not_taken_and_sent_again_through_libcups(
        server: Server, reply: bytes) -> None:
    server.replies.append(reply)
    assert ipp.cancel_jobs_whole("127.0.0.1", server.port, URI, "root", [7]) is False
    assert len(server.requests) == 1


def test_no_server_is_not_taken() -> None:
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    assert ipp.cancel_jobs_whole("127.0.0.1", port, URI, "root", [7]) is False


@pytest.mark.parametrize("reply", [
    b"silence",
    b"",  # closed before any answer
    http("200 OK", b"\x02\x00", Content_Length="100"),  # closed inside the body
])
def test_an_answer_lost_after_sending_is_an_unknown_outcome(
        server: Server, reply: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ipp, "ANSWER_SECONDS", 0.3)
    server.replies.append(reply)
    with pytest.raises(ipp.IppNoAnswer) as lost:
        ipp.cancel_jobs_whole("127.0.0.1", server.port, URI, "root", [7])
    assert lost.value.sent


@pytest.mark.parametrize("ids", [[0], [2**31], [-1]])
def test_ids_ipp_cannot_carry_are_refused_before_any_connection(ids: list[int]) -> None:
    with pytest.raises(ValueError, match="out of range"):
        ipp.cancel_jobs_whole("127.0.0.1", 9, URI, "root", ids)


def test_a_nul_in_the_uri_is_refused() -> None:
    with pytest.raises(ValueError, match="NUL"):
        ipp.cancel_jobs_whole("127.0.0.1", 9, URI + "\x00x", "root", [1])


def test_the_status_message_is_found_among_other_attributes() -> None:
    assert ipp.response_status(ipp_answer(0, "successful-ok")) == (0, "successful-ok")
    assert ipp.response_status(ipp_answer(0x0401)) == (0x0401, "")
