"""The warm process's memory for requests still arriving (cli/warmstart.py): one local
user opening many connections that each announce a large request and send it slowly
could make it hold MAX_PENDING x MAX_REQUEST (1 GiB). Measured on the process itself:
its peak resident memory while they arrive. Real processes, as test_warmstart.py."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

from adminkit.cli import warmclient
from adminkit.cli.warmstart import LARGE_ROOM, MAX_ARRIVING, MAX_PENDING, MAX_REQUEST
from tests.unit import test_warmstart as warmstart_tests
from tests.unit.test_warmstart import Warm, _probe

base_env = warmstart_tests.base_env  # the fixtures: a warm process of a test's own
warm = warmstart_tests.warm
hangup = warmstart_tests.hangup_as_a_terminal_has_it  # autouse: SIGHUP as a terminal's

EACH = 4 << 20  # what each client announces (header included): within MAX_REQUEST
CLIENTS = 40  # within MAX_PENDING: 160 MiB announced, five times the budget


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def _send_all_but_the_last_byte(path: str, outcome: dict[int, str], n: int,
                                hold: list[socket.socket]) -> None:
    """A request announced at EACH bytes, all of it sent but its last byte: the warm
    process holds it until the client's time is up (or drops it at once)."""
    sock = warmclient.connect(path)
    if sock is None:
        outcome[n] = "no connection"
        return
    hold.append(sock)
    sock.settimeout(60)
    try:
        sock.sendall((EACH - 4).to_bytes(4, "big") + b"\0" * (EACH - 5))
    except OSError:
        outcome[n] = "dropped"
        return
    outcome[n] = "sent"


def test_many_large_slow_requests_hold_no_more_than_the_budget(warm: Warm) -> None:
    assert CLIENTS <= MAX_PENDING and EACH <= MAX_REQUEST and CLIENTS * EACH > 4 * MAX_ARRIVING
    path = warm.socket()
    before = warm.status()["refused"]
    Path(f"/proc/{warm.pid}/clear_refs").write_text("5")  # its peak from now on
    base = _kib(warm.pid, "VmRSS")
    outcome: dict[int, str] = {}
    hold: list[socket.socket] = []
    threads = [threading.Thread(target=_send_all_but_the_last_byte,
                                args=(path, outcome, n, hold)) for n in range(CLIENTS)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        peak = _kib(warm.pid, "VmHWM")
        seen = warm.status()
        refused = seen["refused"] - before
    finally:
        for sock in hold:
            sock.close()
    grew = (peak - base) * 1024
    # The budget, and what Python's buffers add to it (a bytearray grows by an eighth).
    assert grew <= MAX_ARRIVING * 5 // 4, f"held {grew >> 20} MiB at its peak"
    assert refused >= CLIENTS - LARGE_ROOM // EACH, outcome  # the rest were dropped
    assert list(outcome.values()).count("sent") >= LARGE_ROOM // EACH  # within: taken
    assert _probe(warm)["ppid"] == warm.pid  # and it serves the next client warm


def test_a_small_request_is_served_while_large_ones_fill_the_budget(warm: Warm) -> None:
    """The budget full of large requests still arriving: `warm status` (asked above)
    and a command still get their room."""
    path = warm.socket()
    outcome: dict[int, str] = {}
    hold: list[socket.socket] = []
    try:
        for n in range(LARGE_ROOM // EACH + 2):
            _send_all_but_the_last_byte(path, outcome, n, hold)
        assert list(outcome.values()).count("sent") == LARGE_ROOM // EACH, outcome
        assert warm.status()["pid"] == warm.pid
        assert _probe(warm)["ppid"] == warm.pid
    finally:
        for sock in hold:
            sock.close()


def test_the_budget_is_given_back_when_clients_die_midway(warm: Warm) -> None:
    """Clients that fill the budget and then go away (killed mid-request): their room
    is free again at once, not held until some later reckoning."""
    path = warm.socket()
    room = LARGE_ROOM // EACH
    for _ in range(2):
        outcome: dict[int, str] = {}
        hold: list[socket.socket] = []
        try:
            for n in range(room):
                _send_all_but_the_last_byte(path, outcome, n, hold)
            assert list(outcome.values()) == ["sent"] * room, outcome
        finally:
            for sock in hold:
                sock.close()  # gone with its last byte unsent
        assert warm.status()["pid"] == warm.pid  # served after it saw them go
    assert _probe(warm)["ppid"] == warm.pid
