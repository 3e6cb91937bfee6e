"""Hostile review (rev9b) of bulk9: the LDAP add encoder against ldap3's for hostile
values, and a Result's cached public encodings after the Result or the known secrets
change."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from ldap3.operation.add import add_operation
from ldap3.protocol.rfc4511 import LDAPMessage, MessageID, ProtocolOp
from pyasn1.codec.ber import encoder

from adminkit.accounts import ldapwire
from adminkit.core import secrets
from adminkit.core.result import Change, Result, Status

HOSTILE = ["", "\x00", "\x7f", "a\r\nb", "\u202e", "\ufeff", "😀" * 40, "é" * 127,
           "x" * 127, "x" * 128, "x" * 255, "x" * 256, "x" * 65535, "x" * 65536,
           "x" * 70000, "\U0010ffff", "cn=a\\,b", "*)(uid=*"]


def ldap3_bytes(message_id: int, dn: str, entry: dict[str, Any]) -> bytes:
    message = LDAPMessage()
    message["messageID"] = MessageID(message_id)
    message["protocolOp"] = ProtocolOp().setComponentByName(
        "addRequest", add_operation(dn, entry, auto_encode=True))
    return bytes(encoder.encode(message))


def _value(rng: random.Random) -> str:
    pick = rng.random()
    if pick < 0.3:
        return rng.choice(HOSTILE)
    size = rng.choice([0, 1, 126, 127, 128, 129, 255, 256, 300, 1000, 70000])
    alphabet = rng.choice([(0, 0x7f), (0x80, 0x7ff), (0x800, 0xd7ff), (0xe000, 0xffff),
                           (0x10000, 0x10ffff)])
    return "".join(chr(rng.randint(*alphabet)) for _ in range(size))


@pytest.mark.parametrize("seed", range(40))
def test_the_add_encoder_is_ldap3s_for_hostile_values(seed: int) -> None:
    rng = random.Random(seed)
    entry: dict[str, Any] = {}
    for n in range(rng.randint(1, 6)):
        values = [_value(rng) for _ in range(rng.randint(1, 4))]
        entry[f"attr{n}"] = values if len(values) > 1 or rng.random() < 0.5 else values[0]
    dn = "cn=" + _value(rng) + ",dc=example,dc=org"
    message_id = rng.choice([1, 127, 128, 2**31 - 1])
    assert ldapwire.encode_add(message_id, dn, entry) == ldap3_bytes(message_id, dn, entry)


def test_a_lone_surrogate_is_refused_as_ldap3_refuses_it() -> None:
    with pytest.raises(UnicodeEncodeError):
        ldap3_bytes(1, "cn=x", {"cn": "a\ud800b"})
    with pytest.raises(UnicodeEncodeError):
        ldapwire.encode_add(1, "cn=x", {"cn": "a\ud800b"})


def row(**data: Any) -> Result:
    return Result(action="account.create", target="jdoe", status=Status.CHANGED,
                  summary="created", changes=[Change(op="set", field="mail", after="a@x")],
                  data=dict(data))


def test_a_password_learnt_after_the_journal_encoded_the_row_is_not_in_the_spool_line(
        ) -> None:
    result = row(note="initial pw Hunter2-rev9b")
    result.public_json("data")  # the journal row
    result.public_json("changes")
    secrets.Secret("Hunter2-rev9b")  # learnt later (not fresh: earlier text may hold it)
    line = result.public_line()
    assert "Hunter2-rev9b" not in line
    assert json.loads(line) == json.loads(json.dumps(result.public(), default=str))


def test_a_field_set_after_encoding_is_in_the_spool_line() -> None:
    result = row(note="a")
    result.public_json("data")
    result.data = {"note": "b"}
    result.changes = [*result.changes, Change(op="set", field="cn", after="J")]
    line = json.loads(result.public_line())
    assert line["data"] == {"note": "b"} and len(line["changes"]) == 2
    assert json.loads(result.public_json("data")) == {"note": "b"}


def test_the_spliced_line_is_json_dumps_of_the_public_form() -> None:
    result = row(note="x\u2028\x00😀", n=1)
    result.error = "boom"
    result.public_json("data")
    result.public_json("changes")
    assert result.public_line() == json.dumps(result.public(), ensure_ascii=False,
                                              default=str)
