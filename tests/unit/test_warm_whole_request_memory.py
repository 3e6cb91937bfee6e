"""The warm process's memory for one large request as it comes whole (cli/warmstart.py):
the budget counts what requests still arriving announce; the request read whole is then
decoded where it lies, not copied twice first (a slice of the buffer, then bytes of it:
three times its size at once). Measured on the process itself: its peak resident memory.
Real processes, as test_warmstart.py."""

from __future__ import annotations

import marshal
from pathlib import Path

from adminkit.cli import warmclient
from adminkit.cli.warmstart import MAX_REQUEST
from tests.unit import test_warmstart as warmstart_tests
from tests.unit.test_warmstart import Warm, _probe

base_env = warmstart_tests.base_env  # the fixtures: a warm process of a test's own
warm = warmstart_tests.warm
hangup = warmstart_tests.hangup_as_a_terminal_has_it  # autouse: SIGHUP as a terminal's


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def test_a_large_request_come_whole_is_not_copied_before_decoding(warm: Warm) -> None:
    body = marshal.dumps({"executable": "/not/this/python", "pad": b"\0" * (12 << 20)})
    assert len(body) + 4 <= MAX_REQUEST
    path = warm.socket()
    before = warm.status()["refused"]
    Path(f"/proc/{warm.pid}/clear_refs").write_text("5")  # its peak from now on
    base = _kib(warm.pid, "VmRSS")
    sock = warmclient.connect(path)
    assert sock is not None
    try:
        sock.settimeout(30)
        sock.sendall(len(body).to_bytes(4, "big") + body)
        sock.recv(1)  # its answer (refused: another interpreter), or the end
    finally:
        sock.close()
    grew = (_kib(warm.pid, "VmHWM") - base) * 1024
    assert warm.status()["refused"] >= before  # it was read, and answered
    # the buffer (a bytearray grows by an eighth) and the decoded pad: twice its size
    assert grew <= len(body) * 5 // 2, f"held {grew >> 20} MiB for a {len(body) >> 20} MiB request"
    assert _probe(warm)["ppid"] == warm.pid
