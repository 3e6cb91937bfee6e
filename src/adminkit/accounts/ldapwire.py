"""Add and Modify requests encoded here, sent and answered on an ldap3 connection.

ldap3 builds every request as a tree of pyasn1 objects and encodes it with pyasn1's
generic BER encoder: about 2 ms of CPU for an add with a dozen attributes, ten times
what the directory spends on it, which makes a bulk import client-bound. These two
requests and their answers are simple (RFC 4511 4.6, 4.7, 4.1.9: a DN and lists of
octet strings; a result code and two strings), so they are encoded and decoded here;
ldap3 still owns the socket, TLS, the bind, message ids and everything else. Anything
this path cannot serve (a closed connection, a strategy that is not synchronous, SASL
signing, an answer it does not expect) goes through ldap3's own methods.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from adminkit.core.errors import OutcomeUnknown

if TYPE_CHECKING:
    import ldap3

Values = Any  # a value or a sequence of values: str, bytes, int or bool
# ModifyRequest operation codes (RFC 4511 4.6); ldap3's MODIFY_* constants name them
OPERATIONS = {"MODIFY_ADD": 0, "MODIFY_DELETE": 1, "MODIFY_REPLACE": 2, "MODIFY_INCREMENT": 3}


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(octets),)) + octets


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes((tag,)) + _length(len(body)) + body


def _raw(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bool):
        return b"TRUE" if value else b"FALSE"
    if isinstance(value, str | int):
        return str(value).encode("utf-8")
    # a Secret would go out as its mask, None as "None": refuse rather than store that
    raise TypeError(f"cannot send a {type(value).__name__} as an LDAP value")


def _octets(value: Any) -> bytes:
    return _tlv(0x04, _raw(value))


def _attribute(name: str, values: Values) -> bytes:
    """PartialAttribute ::= SEQUENCE { type, vals SET OF value }."""
    items = values if isinstance(values, list | tuple) else [values]
    try:
        encoded = b"".join(_octets(v) for v in items)
    except TypeError as exc:
        raise TypeError(f"attribute {name}: {exc}") from None
    return _tlv(0x30, _octets(name) + _tlv(0x31, encoded))


def _message(message_id: int, operation: bytes) -> bytes:
    number = message_id.to_bytes((message_id.bit_length() + 8) // 8, "big")
    return _tlv(0x30, _tlv(0x02, number) + operation)


def encode_add(message_id: int, dn: str, attributes: Mapping[str, Values]) -> bytes:
    """AddRequest ::= [APPLICATION 8] SEQUENCE { entry LDAPDN, attributes AttributeList }."""
    listed = b"".join(_attribute(name, values) for name, values in attributes.items())
    return _message(message_id, _tlv(0x68, _octets(dn) + _tlv(0x30, listed)))


def encode_modify(message_id: int, dn: str,
                  changes: Iterable[tuple[int, str, Values]]) -> bytes:
    """ModifyRequest ::= [APPLICATION 6] SEQUENCE { object, changes SEQUENCE OF change }."""
    listed = b"".join(_tlv(0x30, _tlv(0x0A, bytes((op,))) + _attribute(name, values))
                      for op, name, values in changes)
    return _message(message_id, _tlv(0x66, _octets(dn) + _tlv(0x30, listed)))


def encode_search_equal(message_id: int, base: str, matches: Sequence[tuple[str, str]],
                        attributes: Sequence[str]) -> bytes:
    """SearchRequest (RFC 4511 4.5.1) for the subtree of `base`, derefAliases always, no
    limits, with the filter or [1] of equalityMatch [3] terms: each value travels as
    the octets it is, so no filter escaping is involved at all."""
    terms = b"".join(_tlv(0xA3, _octets(attr) + _octets(value)) for attr, value in matches)
    body = (_octets(base) + b"\x0a\x01\x02\x0a\x01\x03\x02\x01\x00\x02\x01\x00\x01\x01\x00"
            + _tlv(0xA1, terms) + _tlv(0x30, b"".join(_octets(a) for a in attributes)))
    return _message(message_id, _tlv(0x63, body))


RESPONSES = {0x69: "addResponse", 0x67: "modifyResponse"}  # [APPLICATION 9] and [7]


class Unreadable(Exception):
    """An answer this module does not decode (a disconnect notice, say)."""


def _read(data: bytes, at: int) -> tuple[int, int, int]:
    """(tag, start of the value, end of the value) of the element at `at`."""
    if at + 2 > len(data):
        raise Unreadable("truncated")
    tag, first = data[at], data[at + 1]
    at += 2
    if first < 0x80:
        size = first
    else:
        count = first & 0x7F
        size = int.from_bytes(data[at:at + count], "big")
        at += count
    if at + size > len(data):
        raise Unreadable("truncated")
    return tag, at, at + size


def decode_result(message: bytes) -> tuple[int, dict[str, Any]]:
    """(message id, result) of an AddResponse or ModifyResponse (RFC 4511 4.1.9), in the
    shape ldap3 gives `conn.result`."""
    from ldap3.core.results import RESULT_CODES

    tag, at, end = _read(message, 0)
    if tag != 0x30:
        raise Unreadable("not an LDAPMessage")
    tag, start, stop = _read(message, at)
    if tag != 0x02:
        raise Unreadable("no message id")
    message_id = int.from_bytes(message[start:stop], "big", signed=True)
    tag, at, end = _read(message, stop)
    if tag not in RESPONSES:
        raise Unreadable(f"answer of type {tag:#x}")
    fields: list[bytes] = []
    while at < end and len(fields) < 3:  # resultCode, matchedDN, diagnosticMessage
        _, start, at = _read(message, at)
        fields.append(message[start:at])
    if len(fields) < 3:
        raise Unreadable("short LDAPResult")
    code = int.from_bytes(fields[0], "big")
    return message_id, {"result": code, "description": RESULT_CODES.get(code, "other"),
                        "dn": fields[1].decode("utf-8", "replace"),
                        "message": fields[2].decode("utf-8", "replace"), "referrals": None,
                        "type": RESPONSES[tag]}


def _servable(conn: ldap3.Connection) -> bool:
    strategy = conn.strategy
    return (not conn.closed and conn.bound and conn.socket is not None and strategy.sync
            and not strategy.pooled and not conn.sasl_mechanism
            and isinstance(getattr(strategy, "_outstanding", None), dict))


def _exchange(conn: ldap3.Connection, kind: str, encode: Any, *,
              resend: bool) -> bool | None:
    """Send one request and read its answer into conn.result.

    None if this path cannot serve the connection, or the request never left whole:
    then ldap3's own call reconnects and sends it. If it left and its answer is lost,
    the directory may have done it: a modify is sent again (adminkit's modifies come
    out the same twice), an add is not (`resend` False): `OutcomeUnknown` says so, and
    a caller that delivered a password for it keeps it delivered.
    """
    from ldap3.core.exceptions import LDAPCommunicationError, LDAPResponseTimeoutError

    with conn.connection_lock:
        if not _servable(conn):
            return None
        strategy = conn.strategy
        if _stale(conn):  # the server closed it while idle: nothing was sent on it yet
            with contextlib.suppress(Exception):
                strategy.close()
            return None
        message_id = conn.server.next_message_id()
        payload = encode(message_id)
        sent = False
        try:
            conn.socket.sendall(payload)
            sent = True
            answers = strategy.receiving()
            if len(answers) != 1:
                raise Unreadable(f"{len(answers)} messages")
            answered_id, result = decode_result(answers[0])
            if answered_id != message_id or result["type"] != kind.replace("Request",
                                                                           "Response"):
                raise Unreadable(f"a {result['type']} to message {answered_id}")
        except (OSError, Unreadable, LDAPCommunicationError, LDAPResponseTimeoutError) as exc:
            with contextlib.suppress(Exception):  # its state is unknown: never reuse it
                strategy.close()
            if sent and not resend:
                raise OutcomeUnknown(
                    f"the directory did not answer ({_reason(exc)}); the {kind[:-7]} may "
                    "or may not have been done",
                    hint="look the entry up (`adminkit account show LOGIN`) before trying "
                         "again") from None
            return None
        conn.result = result
        return bool(result["result"] == 0)


def _stale(conn: ldap3.Connection) -> bool:
    """Anything to read before a request is sent (the server's close, a disconnect
    notice) means the connection is over; a live idle one has nothing."""
    import select

    sock = conn.socket
    pending = getattr(sock, "pending", None)
    if pending is not None and pending() > 0:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _reason(exc: Exception) -> str:
    return str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__


def search_equal(conn: ldap3.Connection, base: str, matches: Sequence[tuple[str, str]],
                 attributes: Sequence[str], text_filter: str) -> list[dict[str, Any]] | None:
    """Entries below `base` where any (attribute, value) of `matches` holds, as
    {"dn": ..., attribute: values}; ldap3 decodes the answer. `text_filter` is the same
    filter as text, for what ldap3 may redo with the request (ranged attributes).
    None: not servable here, or not a plain success (a size limit, say): ask ldap3.

    A bulk run looks up thousands of logins this way; ldap3 spends ~0.1 ms of CPU
    compiling each term of a text filter.
    """
    if not matches:
        return []
    with conn.connection_lock:
        if not _servable(conn):
            return None
        message_id = conn.server.next_message_id()
        strategy = conn.strategy
        strategy._outstanding[message_id] = {
            "type": "searchRequest", "base": base, "scope": 2, "dereferenceAlias": 3,
            "sizeLimit": 0, "timeLimit": 0, "typesOnly": False, "filter": text_filter,
            "attributes": list(attributes), "controls": None}
        try:
            conn.socket.sendall(encode_search_equal(message_id, base, matches, attributes))
            responses, result = strategy.get_response(message_id)
        except Exception:  # noqa: BLE001 - any surprise: drop the connection, ask ldap3
            strategy._outstanding.pop(message_id, None)
            with contextlib.suppress(Exception):
                strategy.close()
            return None
        conn.result = result
    if result is None or result.get("result") not in (0, 32):
        return None
    return [{"dn": e["dn"], **e["attributes"]} for e in responses or []
            if e.get("type") == "searchResEntry"]


def add_entry(object_classes: Sequence[str], attributes: Mapping[str, Values]
              ) -> dict[str, Values]:
    """objectClass first: the classes given, then any an `objectClass` attribute adds
    (in any spelling, each once), as ldap3's `add` merges them."""
    classes = list(object_classes)
    given = [k for k in attributes if k.lower() == "objectclass"]
    for key in given:
        extra = attributes[key]
        for name in extra if isinstance(extra, list | tuple) else [extra]:
            if str(name).lower() not in {c.lower() for c in classes}:
                classes.append(str(name))
    return {"objectClass": classes, **{k: v for k, v in attributes.items() if k not in given}}


def add(conn: ldap3.Connection, dn: str, object_classes: Sequence[str],
        attributes: Mapping[str, Values]) -> bool:
    """Like `conn.add`: True on success, else the answer is in `conn.result`.

    Sent here, once, even on a connection that has to be opened again: ldap3's own
    reconnecting path sends an add again when its answer is lost, and the directory
    then answers "already exists" for the entry it made the first time.
    """
    entry = add_entry(object_classes, attributes)

    def encode(message_id: int) -> bytes:
        return encode_add(message_id, dn, entry)

    done = _exchange(conn, "addRequest", encode, resend=False)
    if done is None and _reopen(conn):
        done = _exchange(conn, "addRequest", encode, resend=False)
    return conn.add(dn, list(object_classes), dict(attributes)) if done is None else done


def _reopen(conn: ldap3.Connection) -> bool:
    """Open a closed connection again through ldap3 (its restart redoes StartTLS and the
    bind) with a read of the root DSE, which may go twice; whether it is open now."""
    import ldap3

    if not conn.closed:
        return False
    with contextlib.suppress(Exception):  # still down: ldap3's add says so below
        conn.search("", "(objectClass=*)", ldap3.BASE, attributes=["1.1"])
    return not conn.closed


def modify(conn: ldap3.Connection, dn: str,
           changes: Mapping[str, Sequence[tuple[str, Values]]]) -> bool:
    """Like `conn.modify` with {attr: [(ldap3.MODIFY_*, values), ...]}."""
    flat = [(OPERATIONS[op], name, values) for name, ops in changes.items()
            for op, values in ops]
    done = _exchange(conn, "modifyRequest", lambda mid: encode_modify(mid, dn, flat),
                     resend=True)
    return conn.modify(dn, dict(changes)) if done is None else done
