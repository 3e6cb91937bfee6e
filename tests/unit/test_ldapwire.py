"""adminkit's own Add and Search requests are byte for byte what ldap3 would send, and
its reading of an Add's answer is ldap3's."""

from __future__ import annotations

from typing import Any

import pytest
from ldap3.operation.add import add_operation
from ldap3.protocol.rfc4511 import LDAPMessage, MessageID, ProtocolOp
from pyasn1.codec.ber import encoder

from adminkit.accounts import ldapwire


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


def test_a_bool_is_sent_as_ldap_boolean_syntax() -> None:
    """RFC 4517 3.3.3: TRUE / FALSE (ldap3 would send Python's "True")."""
    assert b"\x04\x04TRUE" in ldapwire.encode_add(1, "cn=x", {"pwdReset": True})
    assert b"\x04\x05FALSE" in ldapwire.encode_add(1, "cn=x", {"pwdReset": False})


def ldap3_response(message_id: int, code: int, dn: str, text: str) -> bytes:
    """An AddResponse as ldap3's own encoder writes it."""
    from ldap3.protocol.rfc4511 import LDAPDN, AddResponse, LDAPString, ResultCode

    response = AddResponse()
    response["resultCode"] = ResultCode(code)
    response["matchedDN"] = LDAPDN(dn)
    response["diagnosticMessage"] = LDAPString(text)
    return ldap3_bytes(message_id, "addResponse", response)


@pytest.mark.parametrize("code", [0, 68, 19, 53])
def test_answers_decode_like_ldap3(code: int) -> None:
    from ldap3.strategy.base import BaseStrategy
    from ldap3.utils.asn1 import decode_message_fast

    text = "0000202F: UpdErr: DSID-031A1236, problem 6002 (OBJ_CLASS_VIOLATION) " + "é" * 100
    raw = ldap3_response(300, code, "ou=people,dc=example,dc=org", text)
    message_id, ours = ldapwire.decode_add_result(raw)
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
        ldapwire.decode_add_result(ldap3_bytes(1, "delResponse", response))
    with pytest.raises(ldapwire.Unreadable):
        ldapwire.decode_add_result(b"\x30\x05\x02\x01")


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
