"""Hostile review of the ticket deadline and pre-run check (revspool)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_ticket_contract import Rig, flush_from_a_dribbler, peer, rig

__all__ = ["peer", "rig"]  # the contract's fixtures, used here


def accepting(listener: socket.socket, stop: threading.Event,
              handle: Callable[[socket.socket], None]) -> None:
    """Hand each connection `listener` accepts to `handle` in a thread of its own."""
    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()


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

    def relay(conn: socket.socket) -> None:
        head = conn.recv(65536)
        seen.append(head.split(b"\r\n", 1)[0].decode())
        target = head.split(b" ", 2)[1].split(b"/", 3)[2].decode()  # http://h:p/...
        host, _, port = target.partition(":")
        upstream = socket.create_connection((host, int(port)))
        upstream.sendall(head)
        threading.Thread(target=pipe, args=(conn, upstream), daemon=True).start()
        pipe(upstream, conn)

    accepting(listener, stop, relay)
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


def test_a_connection_whose_body_ran_out_of_time_is_never_reused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The deadline fires in the middle of a keep-alive answer's body: the rest of that
    body must never be read as the next request's answer (a desynchronised pool)."""
    import ssl

    import httpx

    from adminkit.tickets import bounded
    from adminkit.tickets.deadline import DeadlineTransport

    monkeypatch.setattr(bounded, "MAX_SECONDS", 1.0)
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    connections: list[int] = []

    def serve(conn: socket.socket) -> None:
        connections.append(1)
        with conn:
            while not stop.is_set():
                try:
                    head = conn.recv(65536)
                except OSError:
                    return
                if not head:
                    return
                if b" /slow " in head:  # 2 s of body, a byte every 0.2 s
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
                    for byte in b"HTTP/1.1 2":  # what a next answer would parse
                        if stop.wait(0.2):
                            return
                        try:
                            conn.sendall(bytes([byte]))
                        except OSError:
                            return
                else:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfast")

    accepting(listener, stop, serve)
    host, port = listener.getsockname()
    client = httpx.Client(base_url=f"http://{host}:{port}",
                          transport=DeadlineTransport(ssl.create_default_context()))
    try:
        with pytest.raises(httpx.ReadTimeout):
            client.get("/slow")
        answer = client.get("/fast")
        assert answer.text == "fast"
        assert len(connections) == 2
    finally:
        client.close()
        stop.set()
        listener.close()


@pytest.mark.parametrize("peer", ["jira"], indirect=True)
def test_a_jira_account_locked_behind_a_captcha_is_not_taken_for_a_missing_ticket(
        rig: Rig) -> None:
    """Jira answers 403 to every call of an account that must solve a CAPTCHA: that is
    refused credentials (exit 3: the run acts, its notes wait), not "no such ticket"
    (exit 2: every run refused, every queued note failed as if its ticket were gone)."""
    from adminkit.core.errors import ExitCode
    from tests.fakes.jira import FakeJira
    from tests.unit.test_ticket_contract import run_for

    server = rig.server
    assert isinstance(server, FakeJira)
    ticket = server.create_ticket()
    rig.queue(ticket)
    server.captcha = True
    report = rig.flush()
    assert report.failed == 1, report
    assert "CAPTCHA" in rig.row()["last_error"], rig.row()["last_error"]
    calls: list[tuple[str, str]] = []
    run = run_for(rig, ticket, calls, rows=2)
    assert [phase for _, phase in calls].count("apply") == 2
    assert any("CAPTCHA" in n for n in run.notices), run.notices
    assert run.exit_code == ExitCode.OK


def test_a_run_for_a_ticket_of_another_queue_than_the_profiles_is_refused(
        env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ticket number one digit off most often names a ticket that exists, in another
    team's queue: the run would act and put internal notes on that ticket."""
    import yaml

    from adminkit.automation.request import RunRequest
    from adminkit.automation.service import RunService
    from adminkit.core.config import load_profile
    from adminkit.core.errors import UsageError
    from adminkit.tickets.local import LocalTickets
    from tests.unit.toys import toy

    monkeypatch.setenv("ADMINKIT_TICKETS", str(tmp_path / "tickets.db"))
    store = LocalTickets(tmp_path / "tickets.db")
    other = store.new("payroll question", queue="HR")
    store.close()
    (env.profiles / "acme.yaml").write_text(yaml.safe_dump(
        {"tickets": {"kind": "local", "queue": "Helpdesk"}}))
    calls: list[tuple[str, str]] = []
    with pytest.raises(UsageError) as refused:
        RunService(journal_path=env.journal).run(RunRequest(
            command="toy", profile=load_profile("acme"), ticket=f"local:{other}",
            actions=[toy("a", calls)]))
    assert calls == [], refused.value.message
