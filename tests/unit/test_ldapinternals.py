"""The parts of ldap3 adminkit uses beyond its public methods are there, checked, and used
right: on a real ldap3 connection to a scripted peer (real TCP on 127.0.0.1).

If one of these fails after an ldap3 upgrade, ldap3 changed under accounts/ldapinternals.py:
fix that module (and its pin in pyproject.toml) before anything else.
"""

from __future__ import annotations

import logging
import socket
import tomllib
from collections.abc import Iterator
from pathlib import Path

import ldap3
import pytest
from packaging.requirements import Requirement

from adminkit.accounts import ldapinternals, ldapwire
from adminkit.accounts.ldapinternals import AnswerLost, Ldap3Changed
from tests.fakes.ldapframes import message_id
from tests.fakes.ldappeer import Peer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def peer() -> Iterator[Peer]:
    with Peer() as p:
        yield p


def bound(peer: Peer) -> ldap3.Connection:
    conn = ldap3.Connection(ldap3.Server(peer.url, get_info=ldap3.NONE), "cn=svc", "pw",
                            client_strategy=ldap3.SYNC, raise_exceptions=False)
    assert conn.bind()
    return conn


def test_the_installed_ldap3_is_the_one_pinned() -> None:
    """The internals were checked against this range; another ldap3 must be checked again."""
    pinned = next(Requirement(d) for d in tomllib.loads(
        (ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
        if d.startswith("ldap3"))
    assert ldap3.__version__ in pinned.specifier
    assert not pinned.specifier.contains("2.10.0")


def test_every_part_adminkit_uses_is_there_with_its_type(peer: Peer) -> None:
    conn = bound(peer)
    p = ldapinternals.servable(conn)
    assert p is not None
    assert isinstance(p.socket, socket.socket) and p.socket is ldapinternals.socket_of(conn)
    assert isinstance(p.outstanding, dict)
    assert all(callable(f) for f in (p.next_message_id, p.receiving, p.get_response, p.close))
    first, second = p.next_message_id(), p.next_message_id()
    assert second == first + 1
    assert ldapinternals.result_description(68) == "entryAlreadyExists"
    assert not ldapinternals.has_unread(conn)
    ldapinternals.set_no_delay(conn)
    assert p.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    conn.unbind()


@pytest.mark.parametrize(("owner", "name", "value"), [
    ("strategy", "_outstanding", []),  # no longer a dict
    ("strategy", "receiving", None),  # no longer callable
    ("server", "next_message_id", 7),
    ("conn", "socket", "a socket"),
])
def test_a_part_that_changed_is_named_and_the_fast_path_steps_aside(
        peer: Peer, owner: str, name: str, value: object,
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = bound(peer)
    target = {"strategy": conn.strategy, "server": conn.server, "conn": conn}[owner]
    real_socket = conn.socket
    monkeypatch.setattr(target, name, value)
    monkeypatch.setattr(ldapinternals, "_warned", [])
    with pytest.raises(Ldap3Changed, match=name):
        ldapinternals.parts(conn)
    with caplog.at_level(logging.WARNING, "adminkit.accounts"):
        assert ldapinternals.servable(conn) is None
    assert name in caplog.text and "fast LDAP path is off" in caplog.text
    monkeypatch.undo()
    assert conn.socket is real_socket
    conn.unbind()


def test_an_add_goes_out_as_our_bytes_and_its_answer_is_read(peer: Peer) -> None:
    peer.codes["add"] = 68
    conn = bound(peer)
    result = ldapwire.add(conn, "cn=x,dc=example,dc=org", ["person"], {"cn": "x", "sn": "y"})
    assert result["result"] == 68 and result["description"] == "entryAlreadyExists"
    assert conn.result == result
    (_, _, sent), = [r for r in peer.requests if r[1] == "add"]
    assert sent == ldapwire.encode_add(message_id(sent), "cn=x,dc=example,dc=org",
                                       {"objectClass": ["person"], "cn": "x", "sn": "y"})
    conn.unbind()


def test_an_add_whose_answer_is_lost_is_reported_and_the_connection_closed(peer: Peer) -> None:
    peer.cut["add"] = 1
    conn = bound(peer)
    with pytest.raises(AnswerLost):
        ldapwire.add(conn, "cn=x,dc=example,dc=org", ["person"], {"cn": "x", "sn": "y"})
    assert peer.kinds() == ["add"]
    assert conn.closed


def test_pipelined_adds_go_out_together_and_receiving_hands_back_every_answer(
        peer: Peer) -> None:
    """ldap3's `receiving()` returns every whole message that came in one read: the peer
    writes four answers at once, after all four adds are in (so they were sent without
    waiting), and each reaches its own add."""
    peer.hold_adds = 4
    conn = bound(peer)
    adds = [(f"cn=x{i},dc=example,dc=org", ["person"], {"cn": f"x{i}", "sn": "y"})
            for i in range(4)]
    p = ldapinternals.servable(conn)
    assert p is not None
    with p.lock:
        ids = [p.next_message_id() for _ in adds]
        payload = b"".join(ldapwire.encode_add(mid, dn, ldapwire.add_entry(c, a))
                           for mid, (dn, c, a) in zip(ids, adds, strict=True))
        assert ldapinternals.send_counted(p, payload) == (len(payload), None)
        answers = ldapinternals.receive(p)
    assert len(answers) == 4  # in one read, as the peer wrote them
    assert [ldapwire.decode_add_result(a)[0] for a in answers] == ids[::-1]
    results = ldapwire.add_many(conn, adds)
    assert [r["result"] for r in results if isinstance(r, dict)] == [0] * 4
    conn.unbind()


def test_a_search_is_sent_as_our_bytes_and_ldap3_reads_its_answers(peer: Peer) -> None:
    peer.found = ["uid=a,dc=example,dc=org", "uid=b,dc=example,dc=org"]
    conn = bound(peer)
    found = ldapwire.search_equal(conn, "dc=example,dc=org", [("uid", "a"), ("uid", "b")],
                                  ["uid"], "(|(uid=a)(uid=b))")
    assert [e["dn"] for e in found or []] == peer.found
    assert conn.strategy._outstanding == {}  # its entry was consumed, as ldap3's own are
    conn.unbind()


def test_a_server_close_while_idle_is_seen_before_a_request_is_written(peer: Peer) -> None:
    conn = bound(peer)
    assert not ldapinternals.has_unread(conn)
    peer.close_open()
    assert ldapinternals.has_unread(conn)


def test_a_closed_connection_is_left_to_ldap3s_own_methods() -> None:
    """No socket: the fast path declines, and ldap3's own method answers (here: refuses)."""
    conn = ldap3.Connection(ldap3.Server("ldap://127.0.0.1:9"), client_strategy=ldap3.SYNC)
    assert ldapinternals.servable(conn) is None
    with pytest.raises(ldap3.core.exceptions.LDAPException):
        ldapwire.add(conn, "cn=x,dc=example,dc=org", ["person"], {"cn": "x", "sn": "y"})
