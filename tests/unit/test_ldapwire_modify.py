"""A bulk unit's group modifies, encoded by adminkit and pipelined on one connection
(ldapwire.modify_many through Link.modify_many): the request is byte for byte ldap3's,
the answer is read as ldap3 reads it, and a lost connection follows `Link.modify`'s rule
(a modify goes again only where doing it twice is doing it once)."""

from __future__ import annotations

from typing import Any

import ldap3
import pytest
from ldap3.operation.modify import modify_operation

from adminkit.accounts import connection, ldapwire
from adminkit.accounts.ldapbase import ALREADY_THERE
from adminkit.accounts.ldaperrors import OutcomeUnknown
from tests.fakes.ldappeer import Peer
from tests.unit.test_ldapwire import ldap3_bytes
from tests.unit.test_revpipe_wire import link_to

CHANGES: dict[str, Any] = {
    "member": [(ldap3.MODIFY_ADD, ["uid=a,ou=people,dc=example,dc=org",
                                   "uid=b\\2C c,ou=people,dc=example,dc=org"])],
    "memberUid": [(ldap3.MODIFY_ADD, ["a", "Jiří"])],
    "description": [(ldap3.MODIFY_REPLACE, ["x" * 300])],  # a long-form length
    "mail": [(ldap3.MODIFY_DELETE, [])],  # the whole attribute: an empty set
    "uidNumber": [(ldap3.MODIFY_DELETE, ["10"]), (ldap3.MODIFY_ADD, [11])],
    "counter": [(ldap3.MODIFY_INCREMENT, ["1"])],
}


@pytest.mark.parametrize("message_id", [1, 128, 70000])
def test_modify_request_matches_ldap3(message_id: int) -> None:
    dn = "cn=staff,ou=groups,dc=example,dc=org"
    ours = ldapwire._message(message_id, ldapwire._modify_operation(dn, CHANGES))
    theirs = ldap3_bytes(message_id, "modifyRequest",
                         modify_operation(dn, CHANGES, auto_encode=True))
    assert ours == theirs


def test_an_unknown_operation_is_not_sent() -> None:
    with pytest.raises(TypeError, match="unknown operation"):
        ldapwire._modify_operation("cn=x", {"member": [("MODIFY_MERGE", ["y"])]})


@pytest.mark.parametrize("code", [0, 20, 32])
def test_a_modify_answer_decodes_like_ldap3(code: int) -> None:
    from ldap3.protocol.rfc4511 import LDAPDN, LDAPString, ModifyResponse, ResultCode
    from ldap3.strategy.base import BaseStrategy
    from ldap3.utils.asn1 import decode_message_fast

    response = ModifyResponse()
    response["resultCode"] = ResultCode(code)
    response["matchedDN"] = LDAPDN("ou=groups,dc=example,dc=org")
    response["diagnosticMessage"] = LDAPString("modify/add: member: value #0 already exists")
    raw = ldap3_bytes(77, "modifyResponse", response)
    message_id, ours = ldapwire.decode_add_result(raw, ldapwire.MODIFY_RESPONSE)
    theirs = BaseStrategy.decode_response_fast(None, decode_message_fast(raw))  # type: ignore[arg-type]
    assert message_id == 77
    assert ours == {k: theirs[k] for k in ("result", "description", "dn", "message", "type")} | {
        "referrals": None}
    with pytest.raises(ldapwire.Unreadable):  # an add's answer is not a modify's
        ldapwire.decode_add_result(raw)


@pytest.fixture(autouse=True)
def _no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection, "RECONNECT_PAUSE", 0)


def joins(count: int, *, swap: bool = False) -> list[tuple[str, str, Any, Any]]:
    """`count` group modifies adding a member each; `swap`: a DELETE and an ADD in one
    modify, which may not go again after a lost answer."""
    out = []
    for i in range(count):
        dn = f"cn=g{i},ou=groups,dc=example,dc=org"
        changes: dict[str, Any] = {"member": [(ldap3.MODIFY_ADD, [f"uid=u{i},dc=x"])]}
        if swap:
            changes["member"].insert(0, (ldap3.MODIFY_DELETE, ["cn=placeholder"]))
        out.append((f"add u{i} to g{i}", dn, changes, ALREADY_THERE))
    return out


def modified_dn(message: bytes) -> str:
    """The object of a ModifyRequest, as ldap3's ASN.1 spec reads it."""
    from ldap3.protocol.rfc4511 import LDAPMessage
    from pyasn1.codec.ber import decoder

    decoded, _ = decoder.decode(message, asn1Spec=LDAPMessage())
    return str(decoded["protocolOp"]["modifyRequest"]["object"])


def modifies_sent(peer: Peer) -> list[tuple[int, str]]:
    return [(number, modified_dn(m)) for number, k, m in peer.requests if k == "modify"]


def modify_many(peer: Peer, modifies: list[tuple[str, str, Any, Any]]) -> list[Any]:
    link = link_to(peer)
    try:
        return link.modify_many(modifies)
    finally:
        link.close()
        peer.stop()


def test_modifies_go_together_on_one_connection() -> None:
    peer = Peer()
    out = modify_many(peer, joins(3))
    assert [o["result"] for o in out] == [0, 0, 0]
    assert [o["type"] for o in out] == ["modifyResponse"] * 3
    assert modifies_sent(peer) == [(1, f"cn=g{i},ou=groups,dc=example,dc=org")
                                   for i in range(3)]


def test_a_lost_connection_sends_again_only_what_may_go_twice() -> None:
    """The server hangs up on the second modify: the first is answered; the second and
    third left and lost their answers. Adding a member (20 taken as done) goes again on
    a new connection; a DELETE+ADD swap is 'may or may not have been done', never sent
    again."""
    for swap in (False, True):
        peer = Peer()
        peer.spare["modify"], peer.cut["modify"] = 1, 1
        out = modify_many(peer, joins(3, swap=swap))
        assert out[0]["result"] == 0
        sent = modifies_sent(peer)
        if not swap:
            assert [o["result"] for o in out] == [0, 0, 0]
            assert [n for n, _ in sent].count(2) == 2  # the two lost went again, once
        else:
            assert all(isinstance(o, OutcomeUnknown) and "may or may not" in o.message
                       for o in out[1:])
            assert len(sent) == len({dn for _, dn in sent})  # nothing twice


def test_a_refused_modify_is_its_own_outcome_and_the_others_stand() -> None:
    peer = Peer()
    peer.codes["modify"] = 20
    out = modify_many(peer, joins(2))
    assert [o["result"] for o in out] == [20, 20]
    assert len(modifies_sent(peer)) == 2
