"""The fds a request still arriving holds in the warm process (cli/warmstart.py): a
request comes with four (stdin, stdout, stderr, the env pipe) on its first bytes, but
each chunk read may bring up to four more. One local client sending its request in
many small pieces, each with fds, must not fill the warm process's fd table (it then
drops other clients' requests for want of fds). Real processes, as test_warmstart.py."""

from __future__ import annotations

import os
import socket
import time

from adminkit.cli import warmclient
from tests.unit import test_warmstart as warmstart_tests
from tests.unit.test_warmstart import Warm, _probe

base_env = warmstart_tests.base_env  # the fixtures: a warm process of a test's own
warm = warmstart_tests.warm
hangup = warmstart_tests.hangup_as_a_terminal_has_it  # autouse: SIGHUP as a terminal's

PIECES = 100  # of one byte each, four fds with each: 400 fds sent


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_a_request_sending_fds_with_every_piece_is_dropped(warm: Warm) -> None:
    path = warm.socket()
    before_refused = warm.status()["refused"]
    before = _open_fds(warm.pid)
    sock = warmclient.connect(path)
    assert sock is not None
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        sock.settimeout(10)
        socket.send_fds(sock, [(1 << 20).to_bytes(4, "big")], [null] * 4)
        for _ in range(PIECES):
            try:
                socket.send_fds(sock, [b"\0"], [null] * 4)
            except OSError:  # dropped: the warm process closed it
                break
            time.sleep(0.002)  # each its own read on the other side
        time.sleep(0.3)
        held = _open_fds(warm.pid) - before
        refused = warm.status()["refused"] - before_refused
    finally:
        os.close(null)
        sock.close()
    assert held <= 8, f"the warm process holds {held} fds more for one request"
    assert refused == 1
    assert _probe(warm)["ppid"] == warm.pid  # and it serves the next client warm
