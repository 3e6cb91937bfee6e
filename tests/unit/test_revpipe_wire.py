"""Hostile review of the pipelined adds (ldapwire.add_many through Link.add_many): a
scripted server end that holds every add of the unit, then answers them in a chosen,
hostile way (out of order, a notice of disconnection in between, an answer to a message
id never sent, the same answer twice, a partial frame then close, nothing at all).

The rules held: no add is sent twice; an add that left and got no answer of its own is
"may or may not have been done"; an add answered is reported with its own answer; the
outcomes come back in the order given, one for each add.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest

from adminkit.accounts import connection
from adminkit.accounts.connection import Link
from adminkit.accounts.ldaperrors import OutcomeUnknown
from adminkit.accounts.settings import DirectoryConfig
from adminkit.core.secrets import Secret
from tests.fakes.ldapframes import Framer, add_dn, kind, message_id
from tests.fakes.ldappeer import Peer, _message, answer

Script = Callable[[list[int]], tuple[bytes, bool]]  # held ids -> (bytes to write, close?)


def notice_of_disconnection() -> bytes:
    """RFC 4511 4.4.1: an unsolicited ExtendedResponse, message id 0."""
    from ldap3.protocol import rfc4511

    op = rfc4511.ExtendedResponse()
    op["resultCode"] = rfc4511.ResultCode(52)
    op["matchedDN"] = rfc4511.LDAPDN("")
    op["diagnosticMessage"] = rfc4511.LDAPString("going down")
    op["responseName"] = rfc4511.ResponseName("1.3.6.1.4.1.1466.20036")
    return _message(0, "extendedResp", op)


class Hostile(Peer):
    """The first connection holds `hold` adds, then writes what `script` says; later
    connections are served as the ordinary peer serves them."""

    def __init__(self, hold: int, script: Script) -> None:
        self.hold, self.script = hold, script
        super().__init__()

    def serve(self, sock: socket.socket) -> None:
        if self.connections >= 1:
            super().serve(sock)
            return
        with self._lock:
            self.connections += 1
            self._open.append(sock)
        framer, held = Framer(), []
        try:
            while data := sock.recv(65536):
                for message in framer.feed(data):
                    what = kind(message)
                    with self._lock:
                        self.requests.append((1, what, message))
                    if what == "bind":
                        sock.sendall(answer(message_id(message), "bind"))
                    elif what == "add":
                        held.append(message_id(message))
                        if len(held) == self.hold:
                            payload, close = self.script(list(held))
                            sock.sendall(payload)
                            if close:
                                return
        except OSError:
            return
        finally:
            self._hang_up(sock)


def link_to(peer: Peer) -> Link:
    cfg = DirectoryConfig(kind="openldap", url=peer.url, base_dn="dc=example,dc=org",
                          bind_user="cn=svc,dc=example,dc=org", password="env:UNUSED",
                          insecure=True, timeout=5)
    return Link(cfg, Secret("Svc-Secret-1"))


def adds(count: int) -> list[tuple[str, tuple[str, list[str], dict[str, Any]]]]:
    return [(f"create u{i}", (f"uid=u{i},ou=people,dc=example,dc=org", ["inetOrgPerson"],
                              {"uid": f"u{i}", "sn": "N"})) for i in range(count)]


@pytest.fixture(autouse=True)
def _no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection, "RECONNECT_PAUSE", 0)


def run(hold: int, count: int, script: Script) -> tuple[list[Any], Hostile]:
    peer = Hostile(hold, script)
    link = link_to(peer)
    try:
        return link.add_many(adds(count)), peer
    finally:
        link.close()
        peer.stop()


def sent_dns(peer: Peer) -> list[str]:
    return [add_dn(m) for _, k, m in peer.requests if k == "add"]


def assert_once(peer: Peer) -> None:
    dns = sent_dns(peer)
    assert len(dns) == len(set(dns)), dns


def is_unknown(outcome: Any) -> bool:
    return isinstance(outcome, OutcomeUnknown) and "may or may not" in outcome.message


def test_out_of_order_with_a_notice_of_disconnection_in_between() -> None:
    """The third answered, then the notice (id 0), then the first, then close."""
    def script(ids: list[int]) -> tuple[bytes, bool]:
        return answer(ids[2], "add", 68) + notice_of_disconnection() + answer(ids[0], "add"), True

    results, peer = run(4, 4, script)
    assert len(results) == 4
    assert isinstance(results[2], dict) and results[2]["result"] == 68  # its own answer
    # the first's answer came after the notice: taken, or conservatively unknown
    assert isinstance(results[0], dict) or is_unknown(results[0]), results[0]
    assert is_unknown(results[1]) and is_unknown(results[3])
    assert_once(peer)


def test_an_answer_to_a_message_id_never_sent() -> None:
    def script(ids: list[int]) -> tuple[bytes, bool]:
        return answer(ids[1], "add") + answer(ids[-1] + 50, "add") + answer(ids[0], "add"), False

    results, peer = run(3, 3, script)
    assert len(results) == 3
    assert isinstance(results[1], dict) and results[1]["result"] == 0
    assert is_unknown(results[0]) or isinstance(results[0], dict)
    assert is_unknown(results[2])
    assert_once(peer)


def test_the_same_answer_twice() -> None:
    def script(ids: list[int]) -> tuple[bytes, bool]:
        return answer(ids[0], "add") + answer(ids[0], "add", 68), False

    results, peer = run(2, 2, script)
    assert isinstance(results[0], dict) and results[0]["result"] == 0
    assert is_unknown(results[1])
    assert_once(peer)


def test_a_partial_frame_then_close() -> None:
    def script(ids: list[int]) -> tuple[bytes, bool]:
        whole = answer(ids[0], "add")
        return whole + answer(ids[1], "add")[:5], True

    results, peer = run(3, 3, script)
    assert isinstance(results[0], dict) and results[0]["result"] == 0
    assert is_unknown(results[1]) and is_unknown(results[2])
    assert_once(peer)


def test_close_after_every_add_left_before_any_answer() -> None:
    results, peer = run(32, 40, lambda ids: (b"", True))
    assert len(results) == 40
    assert all(is_unknown(r) for r in results[:32]), results[:3]
    # beyond the window of 32: never left, so they go (once) on a new connection
    assert all(isinstance(r, dict) and r["result"] == 0 for r in results[32:])
    assert peer.connections == 2
    assert_once(peer)


def test_a_bad_value_takes_no_message_id_and_the_others_are_matched() -> None:
    def script(ids: list[int]) -> tuple[bytes, bool]:
        return b"".join(answer(mid, "add", 0 if n % 2 == 0 else 68)
                        for n, mid in reversed(list(enumerate(ids)))), False

    peer = Hostile(3, script)
    link = link_to(peer)
    try:
        batch = adds(4)
        batch[1][1][2]["description"] = None
        results = link.add_many(batch)
    finally:
        link.close()
        peer.stop()
    assert isinstance(results[1], TypeError)
    assert [r["result"] if isinstance(r, dict) else "error" for r in results] == [
        0, "error", 68, 0]  # rows 0, 2, 3: answers 0, 68, 0 in the order sent
    assert_once(peer)


@pytest.mark.parametrize("tail", [b"\x30", b"\x30\x84\x00\x00\x00\x10\x02\x01"])
def test_garbage_after_answers(tail: bytes) -> None:
    def script(ids: list[int]) -> tuple[bytes, bool]:
        return answer(ids[0], "add") + tail, True

    results, peer = run(2, 2, script)
    assert isinstance(results[0], dict)
    assert is_unknown(results[1])
    assert_once(peer)


def test_an_answer_of_another_type_with_a_waiting_id() -> None:
    """A modifyResponse with an add's id: not that add's answer."""
    def script(ids: list[int]) -> tuple[bytes, bool]:
        return answer(ids[0], "modify", 0) + answer(ids[1], "add"), False

    results, peer = run(2, 2, script)
    assert is_unknown(results[0])
    assert_once(peer)
