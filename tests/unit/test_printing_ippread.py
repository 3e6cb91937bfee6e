"""The Get-Jobs answer parser and HTTP exchange of printing/ippread.py.

Answers are written here byte by byte as RFC 8010 lays them out (the integration test
tests/integration/test_printing_ippread.py compares the reader with pycups on a real
cupsd); the HTTP cases run against a listening socket of the test's own that answers
what a server could (a login asked for, a chunked body, a connection closed, silence).
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from adminkit.printing import ippread


def attr(tag: int, name: str, *values: bytes) -> bytes:
    out = b""
    for n, value in enumerate(values):
        label = b"" if n else name.encode()
        out += struct.pack(">BH", tag, len(label)) + label + struct.pack(">H", len(value))
        out += value
    return out


def integer(n: int) -> bytes:
    return struct.pack(">i", n)


def answer(*groups: bytes, status: int = 0) -> bytes:
    head = struct.pack(">BBHI", 2, 0, status, 1)
    ops = b"\x01" + attr(0x47, "attributes-charset", b"utf-8")
    return head + ops + b"".join(groups) + b"\x03"


def job(job_id: int, *more: bytes) -> bytes:
    return b"\x02" + attr(0x21, "job-id", integer(job_id)) + b"".join(more)


def test_jobs_by_id_as_pycups_gives_them() -> None:
    body = answer(job(7, attr(0x42, "job-originating-user-name", b"jnovak"),
                      attr(0x23, "job-state", integer(4)),
                      attr(0x21, "time-at-creation", integer(1_700_000_000)),
                      attr(0x45, "job-printer-uri", b"ipp://localhost/printers/a%20b")),
                  job(9, attr(0x42, "job-name", "Žádost".encode())))
    assert ippread.parse_jobs(body) == {
        7: {"job-originating-user-name": "jnovak", "job-state": 4,
            "time-at-creation": 1_700_000_000,
            "job-printer-uri": "ipp://localhost/printers/a%20b"},
        9: {"job-name": "Žádost"}}


def test_several_values_are_a_list_and_odd_types_are_read() -> None:
    lang = struct.pack(">H", 2) + b"cs" + struct.pack(">H", 5) + b"tisk1"
    body = answer(job(1, attr(0x44, "job-state-reasons", b"job-held", b"job-incoming"),
                      attr(0x36, "job-name", lang), attr(0x22, "job-preserved", b"\x01"),
                      attr(0x13, "job-printer-state-message", b""),
                      attr(0x21, "negative", integer(-5))))
    assert ippread.parse_jobs(body)[1] == {
        "job-state-reasons": ["job-held", "job-incoming"], "job-name": "tisk1",
        "job-preserved": True, "job-printer-state-message": None, "negative": -5}


def test_other_groups_and_jobs_without_an_id_are_left_out() -> None:
    printer = b"\x04" + attr(0x42, "printer-name", b"front-desk")
    no_id = b"\x02" + attr(0x42, "job-name", b"orphan")
    assert ippread.parse_jobs(answer(printer, no_id, job(3))) == {3: {}}


@pytest.mark.parametrize("body", [
    answer(job(1), status=0x0406),  # client-error-not-found
    answer(job(1))[:-3],  # cut short inside an attribute
    answer(job(1))[:-1],  # no end tag
    answer(b"\x02" + attr(0x21, "job-id", b"\x00\x01")),  # an integer of two bytes
    answer(job(1, attr(0x42, "job-name", b"\xff\xfe"))),  # no UTF-8
    b"\x02\x00",
])
def test_an_answer_that_is_no_plain_job_list_is_unread(body: bytes) -> None:
    with pytest.raises(ippread.Unread):
        ippread.parse_jobs(body)


def test_the_request_asks_what_pycups_asks() -> None:
    body = ippread.get_jobs_request("ipp://localhost/printers/", "not-completed",
                                    ["job-id", "job-state"])
    assert body[:8] == struct.pack(">BBHI", 2, 0, 0x000A, 1)
    assert body.endswith(attr(0x44, "requested-attributes", b"job-id", b"job-state") + b"\x03")
    assert attr(0x22, "my-jobs", b"\x00") in body
    assert b"requesting-user-name" not in body


@pytest.mark.parametrize(("host", "peer", "header"), [
    ("127.0.3.9", "127.0.3.9", "localhost:631"),
    ("print1.example", "::1", "localhost:631"),
    ("print1.example", "192.0.2.7", "print1.example:631"),
    ("[2001:db8::7]", "2001:db8::7", "[2001:db8::7]:631"),
])
def test_the_host_header_is_the_one_libcups_sends(host: str, peer: str, header: str) -> None:
    assert ippread.host_header(host, 631, peer) == header


@pytest.fixture
def server() -> Iterator[tuple[socket.socket, list[bytes]]]:
    """A listening socket whose next connection gets `replies[0]`, written whole."""
    sock = socket.create_server(("127.0.0.1", 0))
    replies: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                reply = replies.pop(0) if replies else b""
                if reply == b"silence":
                    conn.recv(65536)  # until the client gives up
                    continue
                conn.sendall(reply)

    threading.Thread(target=serve, daemon=True).start()
    yield sock, replies
    sock.close()


def http(status: str, body: bytes, **fields: str) -> bytes:
    head = [f"HTTP/1.1 {status}", *(f"{k.replace('_', '-')}: {v}" for k, v in fields.items())]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def test_a_plain_answer_is_read(server: tuple[socket.socket, list[bytes]]) -> None:
    sock, replies = server
    body = answer(job(5, attr(0x23, "job-state", integer(3))))
    replies.append(http("200 OK", body, Content_Length=str(len(body))))
    port = sock.getsockname()[1]
    assert ippread.get_jobs("127.0.0.1", port, "ipp://localhost/printers/", "all",
                            ["job-state"]) == {5: {"job-state": 3}}


@pytest.mark.parametrize("reply", [
    http("401 Unauthorized", b"", Content_Length="0", WWW_Authenticate="Basic realm=x"),
    http("426 Upgrade Required", b"", Content_Length="0"),
    http("200 OK", b"5\r\nabcde\r\n0\r\n\r\n", Transfer_Encoding="chunked"),
    http("200 OK", b"\x02\x00", Content_Length="100"),  # closed inside the body
    b"",  # closed before any answer
])
def test_any_other_answer_is_unread(server: tuple[socket.socket, list[bytes]],
                                    reply: bytes) -> None:
    sock, replies = server
    replies.append(reply)
    with pytest.raises(ippread.Unread):
        ippread.get_jobs("127.0.0.1", sock.getsockname()[1], "ipp://localhost/printers/",
                         "all", ["job-id"])


def test_a_refused_connection_is_unread() -> None:
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(ippread.Unread):
        ippread.get_jobs("127.0.0.1", port, "ipp://localhost/printers/", "all", ["job-id"])


def test_silence_is_no_answer(server: tuple[socket.socket, list[bytes]],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    sock, replies = server
    replies.append(b"silence")
    monkeypatch.setattr(ippread, "READ_SECONDS", 0.3)
    with pytest.raises(ippread.NoAnswer, match=r"no answer within 0\.3 s"):
        ippread.get_jobs("127.0.0.1", sock.getsockname()[1], "ipp://localhost/printers/",
                         "all", ["job-id"])
