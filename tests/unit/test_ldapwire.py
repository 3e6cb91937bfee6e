"""adminkit's own encoding of Add and Modify requests is byte for byte what ldap3 sends."""

from __future__ import annotations

from typing import Any

import ldap3
import pytest
from ldap3.operation.add import add_operation
from ldap3.operation.modify import modify_operation
from ldap3.protocol.rfc4511 import LDAPMessage, MessageID, ProtocolOp
from pyasn1.codec.ber import encoder

from adminkit.accounts import ldapwire
from adminkit.core.errors import OutcomeUnknown


def ldap3_bytes(message_id: int, kind: str, request: Any) -> bytes:
    message = LDAPMessage()
    message["messageID"] = MessageID(message_id)
    message["protocolOp"] = ProtocolOp().setComponentByName(kind, request)
    return bytes(encoder.encode(message))


ENTRY: dict[str, Any] = {
    "objectClass": ["inetOrgPerson", "posixAccount"],
    "uid": "jcermak",
    "cn": "Jiří Čermák",  # UTF-8
    "description": "x" * 300,  # a long-form length
    "uidNumber": 10001,  # an int
    "pwdReset": "TRUE",
    "unicodePwd": '"Secr3t!"'.encode("utf-16-le"),  # bytes stay bytes
    "member": ["cn=a,dc=example,dc=org", "cn=b\\2C c,dc=example,dc=org"],
}


@pytest.mark.parametrize("message_id", [1, 127, 128, 255, 256, 70000, 2**31 - 1])
def test_add_request_matches_ldap3(message_id: int) -> None:
    dn = "uid=jcermak,ou=people,dc=example,dc=org"
    ours = ldapwire.encode_add(message_id, dn, ENTRY)
    theirs = ldap3_bytes(message_id, "addRequest", add_operation(dn, ENTRY, auto_encode=True))
    assert ours == theirs


def test_modify_request_matches_ldap3() -> None:
    dn = "cn=staff,ou=groups,dc=example,dc=org"
    changes = {"member": [(ldap3.MODIFY_ADD, ["uid=a,dc=example,dc=org", "uid=b,dc=x"])],
               "memberUid": [(ldap3.MODIFY_DELETE, ["a"])],
               "description": [(ldap3.MODIFY_REPLACE, [])],
               "uidNumber": [(ldap3.MODIFY_DELETE, ["7"]), (ldap3.MODIFY_ADD, ["8"])]}
    flat = [(ldapwire.OPERATIONS[op], name, values) for name, ops in changes.items()
            for op, values in ops]
    ours = ldapwire.encode_modify(5, dn, flat)
    theirs = ldap3_bytes(5, "modifyRequest", modify_operation(dn, changes, auto_encode=True))
    assert ours == theirs


def test_a_bool_is_sent_as_ldap_boolean_syntax() -> None:
    """RFC 4517 3.3.3: TRUE / FALSE (ldap3 would send Python's "True")."""
    assert b"\x04\x04TRUE" in ldapwire.encode_add(1, "cn=x", {"pwdReset": True})
    assert b"\x04\x05FALSE" in ldapwire.encode_add(1, "cn=x", {"pwdReset": False})


def test_a_closed_connection_is_left_to_ldap3() -> None:
    """No socket: this path declines, and ldap3's own method answers (here: refuses)."""
    conn = ldap3.Connection(ldap3.Server("ldap://127.0.0.1:9"), client_strategy=ldap3.SYNC)
    with pytest.raises(ldap3.core.exceptions.LDAPException):
        ldapwire.add(conn, "cn=x,dc=example,dc=org", ["person"], {"cn": "x", "sn": "y"})


def ldap3_response(message_id: int, kind: str, code: int, dn: str, text: str) -> bytes:
    from ldap3.protocol.rfc4511 import (
        LDAPDN,
        AddResponse,
        LDAPString,
        ModifyResponse,
        ResultCode,
    )

    response = (AddResponse if kind == "addResponse" else ModifyResponse)()
    response["resultCode"] = ResultCode(code)
    response["matchedDN"] = LDAPDN(dn)
    response["diagnosticMessage"] = LDAPString(text)
    return ldap3_bytes(message_id, kind, response)


@pytest.mark.parametrize(("kind", "code"), [("addResponse", 0), ("addResponse", 68),
                                            ("modifyResponse", 20), ("modifyResponse", 53)])
def test_answers_decode_like_ldap3(kind: str, code: int) -> None:
    from ldap3.strategy.base import BaseStrategy
    from ldap3.utils.asn1 import decode_message_fast

    text = "0000202F: UpdErr: DSID-031A1236, problem 6002 (OBJ_CLASS_VIOLATION) " + "é" * 100
    raw = ldap3_response(300, kind, code, "ou=people,dc=example,dc=org", text)
    message_id, ours = ldapwire.decode_result(raw)
    theirs = BaseStrategy.decode_response_fast(None, decode_message_fast(raw))  # type: ignore[arg-type]
    assert message_id == 300
    assert ours == {k: theirs[k] for k in ("result", "description", "dn", "message", "type")} | {
        "referrals": None}


def test_an_answer_it_does_not_know_is_refused() -> None:
    from ldap3.protocol.rfc4511 import LDAPDN, DelResponse, LDAPString, ResultCode

    response = DelResponse()
    response["resultCode"] = ResultCode(0)
    response["matchedDN"] = LDAPDN("")
    response["diagnosticMessage"] = LDAPString("")
    with pytest.raises(ldapwire.Unreadable):
        ldapwire.decode_result(ldap3_bytes(1, "delResponse", response))
    with pytest.raises(ldapwire.Unreadable):
        ldapwire.decode_result(b"\x30\x05\x02\x01")


def test_search_request_matches_ldap3() -> None:
    from ldap3 import DEREF_ALWAYS, SUBTREE
    from ldap3.operation.search import search_operation
    from ldap3.utils.conv import escape_filter_chars

    matches = [("uid", "jcermak"), ("uid", "x)(uid=*"), ("uid", "Jiří\\*"),
               ("userPrincipalName", "a@example.org")]
    attributes = ["uid", "cn", "memberOf", "objectClass"]
    text = "(|" + "".join(f"({a}={escape_filter_chars(v)})" for a, v in matches) + ")"
    ours = ldapwire.encode_search_equal(42, "dc=example,dc=org", matches, attributes)
    request = search_operation("dc=example,dc=org", text, SUBTREE, DEREF_ALWAYS, attributes,
                               0, 0, False, False, True, None, None, False)
    assert ours == ldap3_bytes(42, "searchRequest", request)


def test_object_classes_given_as_an_attribute_are_merged_not_dropped() -> None:
    entry = ldapwire.add_entry(["inetOrgPerson", "posixAccount"],
                               {"uid": "x", "objectclass": ["shadowAccount", "POSIXACCOUNT"]})
    assert entry == {"objectClass": ["inetOrgPerson", "posixAccount", "shadowAccount"],
                     "uid": "x"}


@pytest.mark.parametrize("value", [None, 1.5, object()])
def test_values_it_cannot_send_as_they_are_are_refused(value: object) -> None:
    from adminkit.core.secrets import Secret

    for bad in (value, Secret("Not-Sent-1")):
        with pytest.raises(TypeError, match="attribute title: cannot send"):
            ldapwire.encode_add(1, "cn=x", {"title": bad})


class _Strategy:
    sync, pooled = True, False

    def __init__(self, answers: list[bytes]) -> None:
        self._outstanding: dict[int, Any] = {}
        self.answers = answers
        self.closed = False

    def receiving(self) -> list[bytes]:
        return self.answers

    def close(self) -> None:
        self.closed = True


class _Conn:
    """Just what ldapwire touches of an ldap3 Connection; the socket is one end of a pair."""

    def __init__(self, answers: list[bytes], *, stale: bool = False) -> None:
        import socket
        import threading

        self.socket, self.peer = socket.socketpair()
        if stale:
            self.peer.close()  # the server went away while the connection was idle
        self.connection_lock = threading.RLock()
        self.closed, self.bound, self.sasl_mechanism = False, True, None
        self.strategy = _Strategy(answers)
        self.server = self
        self.result: dict[str, Any] | None = None
        self.fallbacks: list[str] = []

    def next_message_id(self) -> int:
        return 7

    def add(self, *args: Any) -> bool:
        self.fallbacks.append("add")
        return True

    def modify(self, *args: Any) -> bool:
        self.fallbacks.append("modify")
        return True


def test_an_add_whose_answer_is_lost_is_reported_not_sent_again() -> None:
    conn = _Conn(answers=[])  # sent, then the connection ended without an answer
    # OutcomeUnknown: whoever delivered a password for the add keeps it delivered
    with pytest.raises(OutcomeUnknown, match="may or may not have been done"):
        ldapwire.add(conn, "cn=x,dc=example,dc=org", ["person"], {"cn": "x"})  # type: ignore[arg-type]
    assert conn.fallbacks == [] and conn.strategy.closed


def test_an_ad_create_whose_answer_is_lost_is_not_taken_for_a_namesake() -> None:
    """AD answers 68 when a namesake holds the CN, and the create tries another CN; a lost
    answer leaves conn.result as an older request's (68 here): it is reported, and no
    second account is attempted for the same person."""
    from adminkit.accounts.ad import ActiveDirectory
    from adminkit.accounts.directory import NewUser
    from adminkit.accounts.settings import DirectoryConfig
    from adminkit.core.secrets import Secret

    class Counting(_Conn):
        sent = 0

        def next_message_id(self) -> int:
            self.sent += 1
            return 7

    conn = Counting(answers=[])
    conn.result = {"result": 68, "description": "entryAlreadyExists"}  # an earlier add's
    ad = ActiveDirectory.__new__(ActiveDirectory)
    ad.config = DirectoryConfig(kind="ad", url="ldaps://dc1", base_dn="DC=x", bind_user="svc",
                                password="env:NONE")
    ad.conn = conn  # type: ignore[assignment]
    with pytest.raises(OutcomeUnknown):
        ad.create_user(NewUser("jnovak", "Jan", "Novák", "Jan Novák", Secret("Pw-12345678"),
                               "OU=Staff,DC=x"))
    assert conn.sent == 1 and conn.fallbacks == []


def test_a_modify_whose_answer_is_lost_goes_again_through_ldap3() -> None:
    conn = _Conn(answers=[])
    assert ldapwire.modify(conn, "cn=g", {"member": [(ldap3.MODIFY_ADD, ["cn=x"])]})  # type: ignore[arg-type]
    assert conn.fallbacks == ["modify"] and conn.strategy.closed


def test_a_connection_the_server_closed_while_idle_is_not_written_on() -> None:
    conn = _Conn(answers=[], stale=True)
    assert ldapwire.add(conn, "cn=x", ["person"], {"cn": "x"})  # type: ignore[arg-type]
    assert conn.fallbacks == ["add"]  # ldap3 reconnects and sends it once


def test_an_add_on_a_closed_connection_is_sent_here_once_ldap3_has_opened_it() -> None:
    """ldap3 reopens it (with a read, which may safely go twice); the add itself is not
    left to ldap3, which would send it again if its answer were lost."""

    class Closed(_Conn):
        searches = 0

        def search(self, *args: Any, **kwargs: Any) -> bool:
            self.searches += 1
            self.closed = False
            return True

    conn = Closed(answers=[ldap3_response(7, "addResponse", 0, "", "")])
    conn.closed = True  # an earlier answer was lost, or the server closed it
    assert ldapwire.add(conn, "cn=x", ["person"], {"cn": "x"})  # type: ignore[arg-type]
    assert conn.searches == 1 and conn.fallbacks == []
    lost = Closed(answers=[])
    lost.closed = True
    with pytest.raises(OutcomeUnknown):  # and its answer lost again: reported, never resent
        ldapwire.add(lost, "cn=x", ["person"], {"cn": "x"})  # type: ignore[arg-type]
    assert lost.fallbacks == []


def test_an_answer_to_the_request_is_read_into_the_result() -> None:
    answer = ldap3_response(7, "addResponse", 68, "", "entry exists")
    conn = _Conn(answers=[answer])
    assert not ldapwire.add(conn, "cn=x", ["person"], {"cn": "x"})  # type: ignore[arg-type]
    assert conn.result is not None and conn.result["result"] == 68
    assert conn.fallbacks == []
    wrong = _Conn(answers=[ldap3_response(7, "modifyResponse", 0, "", "")])
    with pytest.raises(Exception, match="may or may not"):  # an answer of the wrong kind
        ldapwire.add(wrong, "cn=x", ["person"], {"cn": "x"})  # type: ignore[arg-type]
