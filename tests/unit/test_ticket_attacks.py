"""Hostile review of the ticket deadline and pre-run check (revspool)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from tests.unit.test_ticket_contract import Rig, flush_from_a_dribbler, peer, rig

__all__ = ["peer", "rig"]  # the contract's fixtures, used here


@pytest.fixture
def forward_proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """A plain HTTP forward proxy (what HTTP_PROXY names in many offices): relays each
    request to the host its absolute URL names, and the answer back as it comes; yields
    the request lines it relayed."""
    seen: list[str] = []
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while not stop.is_set() and (data := src.recv(65536)):
                dst.sendall(data)
        except OSError:
            pass

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            head = conn.recv(65536)
            seen.append(head.split(b"\r\n", 1)[0].decode())
            target = head.split(b" ", 2)[1].split(b"/", 3)[2].decode()  # http://h:p/...
            host, _, port = target.partition(":")
            upstream = socket.create_connection((host, int(port)))
            upstream.sendall(head)
            threading.Thread(target=pipe, args=(conn, upstream), daemon=True).start()
            threading.Thread(target=pipe, args=(upstream, conn), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    host, port = listener.getsockname()
    url = f"http://{host}:{port}"
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    yield seen
    stop.set()
    listener.close()


@pytest.mark.parametrize("peer", ["redmine"], indirect=True)
def test_headers_that_trickle_in_through_a_proxy_from_the_environment_are_given_up_on(
        rig: Rig, forward_proxy: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP_PROXY set (as in most offices): the request goes through the proxy, and the
    one deadline must hold there too."""
    report = flush_from_a_dribbler(rig, monkeypatch, b"HTTP/1.1 200 OK\r\n", b"X")
    assert forward_proxy, "the request did not go through HTTP_PROXY"
    assert report.retrying == 1 and report.delivered == 0, report
    assert "took longer than 1 s" in rig.row()["last_error"], rig.row()["last_error"]


@pytest.mark.parametrize("peer", ["redmine", "jira"], indirect=True)
def test_notes_go_through_the_proxy_the_environment_names(
        rig: Rig, forward_proxy: list[str]) -> None:
    """Where the ticket system is reachable only through the office's proxy."""
    rig.queue(rig.server.create_ticket())
    report = rig.flush()
    assert report.delivered == 1, report
    assert forward_proxy, "the request did not go through HTTP_PROXY"


@pytest.mark.parametrize("peer", ["redmine"], indirect=True)
def test_no_proxy_exempts_the_ticket_system(rig: Rig, forward_proxy: list[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    rig.queue(rig.server.create_ticket())
    assert rig.flush().delivered == 1
    assert not forward_proxy
