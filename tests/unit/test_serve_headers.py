"""`serve` closes a connection whose request headers do not arrive in time.

uvicorn waits for ever for headers: idle or trickling connections held `serve` before any
sender was authenticated, and `max_connections` of them refused everyone (slowloris).
These tests also fail loudly if uvicorn's H11Protocol loses what headerwait rests on.
"""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

# the serve and secrets fixtures are test_serve's, taken by name (F401, F811)
# ruff: noqa: F811
from tests.unit.test_serve import (  # noqa: F401
    TOKEN,
    assert_taken_again,
    make_profile,
    secrets,
    serve,
)


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    assert parts.hostname and parts.port
    return socket.create_connection((parts.hostname, parts.port), timeout=30)


def _closed_while_trickling(sock: socket.socket, data: bytes, every: float) -> bool:
    """Send `data` a byte at a time, `every` seconds apart; True if the server closed the
    connection before the last byte (the whole trickle takes far longer than the deadline)."""
    sock.settimeout(every)
    for byte in data:
        try:
            if sock.recv(1) == b"":
                return True
        except TimeoutError:
            pass
        except ConnectionResetError:  # closed with our bytes unread: a reset
            return True
        try:
            sock.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            return True
    return False


HEADERS = (b"POST /hooks/form HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"X-Adminkit-Token: " + TOKEN.encode() + b"\r\nContent-Length: 2\r\n\r\n")


def test_headers_that_trickle_in_are_cut_off(serve: Any) -> None:
    s = serve(make_profile(header_timeout=1, body_timeout=30), workers=0)
    with _connect(s.url) as sock:  # 60 s of trickling against a 1 s deadline
        assert _closed_while_trickling(sock, HEADERS[:120], every=0.5)
    assert s.triggers() == {}


def test_a_connection_that_says_nothing_is_closed(serve: Any) -> None:
    s = serve(make_profile(header_timeout=1), workers=0)
    with _connect(s.url) as sock:
        assert sock.recv(100) == b""  # closed by the server, not our 30 s timeout


def test_a_kept_alive_connections_next_headers_have_the_deadline_too(serve: Any) -> None:
    s = serve(make_profile(header_timeout=1), workers=0)
    with _connect(s.url) as sock:
        sock.sendall(HEADERS + b"{}")
        first = sock.recv(4096)
        assert first.startswith(b"HTTP/1.1 "), first  # answered, connection kept
        assert _closed_while_trickling(sock, HEADERS[:120], every=0.5)


def test_prompt_requests_are_taken_and_stalled_ones_free_their_slots(serve: Any) -> None:
    """With more than max_connections silent clients, serve answered everyone 503 for as
    long as they stayed; now each is closed at the deadline (our sockets stay open) and a
    webhook is queued."""
    s = serve(make_profile(header_timeout=1, max_connections=3), workers=0)
    stalled = [_connect(s.url) for _ in range(6)]
    try:
        for sock in stalled:
            assert sock.recv(100) == b""
        assert_taken_again(s)
    finally:
        for sock in stalled:
            sock.close()
