"""The requests adminkit encodes itself: the bulk login search, the add and a bulk
unit's group modifies.

ldap3 builds every request as a tree of pyasn1 objects and encodes it with pyasn1's
generic BER encoder: about 2 ms of CPU for an add with a dozen attributes (ten times
what slapd spends on it) and ~0.1 ms for each term of a text filter it compiles. A
bulk import adds thousands of entries and looks up thousands of logins, so these are
encoded here (RFC 4511 4.7, 4.6 and 4.5.1: a DN, lists of octet strings, changes, a
filter of equality terms) and the add's and modify's answers decoded here (4.1.9: a
code and two strings);
a search's answers are still decoded by ldap3. Everything else, and any connection
this path cannot serve, goes through ldap3's own methods.

A bulk unit's adds are pipelined (`add_many`): sent without waiting for each answer,
the answers matched by message id, so a unit waits for the directory about once, not
once per account; so are its groups' modifies that add the new members (`modify_many`).

These functions only talk on the connection they are given: whether a request goes
again after a lost connection is decided by the caller (`connection.Link`), and every
touch of ldap3's insides is in `ldapinternals`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from adminkit.accounts import ldapinternals
from adminkit.accounts.ldapinternals import AnswerLost, RequestNotSent

if TYPE_CHECKING:
    import ldap3

Values = Any  # a value or a sequence of values: str, bytes, int or bool


# BER lengths under 128 are one octet: an add's dozens of elements each take one
_SHORT_LENGTHS = tuple(bytes((n,)) for n in range(0x80))


def _length(n: int) -> bytes:
    if n < 0x80:
        return _SHORT_LENGTHS[n]
    octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(octets),)) + octets


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes((tag,)) + _length(len(body)) + body


def _raw(value: Any) -> bytes:
    if type(value) is str:  # the usual value first: a bulk add encodes thousands
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return value
    if isinstance(value, bool):
        return b"TRUE" if value else b"FALSE"
    if isinstance(value, str | int):
        return str(value).encode("utf-8")
    # a Secret would go out as its mask, None as "None": refuse rather than store that
    raise TypeError(f"cannot send a {type(value).__name__} as an LDAP value")


def _octets(value: Any) -> bytes:
    raw = _raw(value)
    return b"\x04" + _length(len(raw)) + raw


def _attribute(name: str, values: Values) -> bytes:
    """PartialAttribute ::= SEQUENCE { type, vals SET OF value }."""
    items = values if isinstance(values, list | tuple) else (values,)
    try:
        encoded = b"".join([_octets(v) for v in items])
    except TypeError as exc:
        raise TypeError(f"attribute {name}: {exc}") from None
    body = _octets(name) + b"\x31" + _length(len(encoded)) + encoded
    return b"\x30" + _length(len(body)) + body


def _message(message_id: int, operation: bytes) -> bytes:
    number = message_id.to_bytes((message_id.bit_length() + 8) // 8, "big")
    return _tlv(0x30, _tlv(0x02, number) + operation)


def _add_operation(dn: str, attributes: Mapping[str, Values]) -> bytes:
    """AddRequest ::= [APPLICATION 8] SEQUENCE { entry LDAPDN, attributes AttributeList }."""
    listed = b"".join([_attribute(name, values) for name, values in attributes.items()])
    return _tlv(0x68, _octets(dn) + _tlv(0x30, listed))


def encode_add(message_id: int, dn: str, attributes: Mapping[str, Values]) -> bytes:
    return _message(message_id, _add_operation(dn, attributes))


def encode_search_equal(message_id: int, base: str, matches: Sequence[tuple[str, str]],
                        attributes: Sequence[str]) -> bytes:
    """SearchRequest (RFC 4511 4.5.1) for the subtree of `base`, derefAliases always, no
    limits, with the filter or [1] of equalityMatch [3] terms: each value travels as
    the octets it is, so no filter escaping is involved at all."""
    terms = b"".join(_tlv(0xA3, _octets(attr) + _octets(value)) for attr, value in matches)
    body = (_octets(base) + b"\x0a\x01\x02\x0a\x01\x03\x02\x01\x00\x02\x01\x00\x01\x01\x00"
            + _tlv(0xA1, terms) + _tlv(0x30, b"".join(_octets(a) for a in attributes)))
    return _message(message_id, _tlv(0x63, body))


ADD_RESPONSE = 0x69  # [APPLICATION 9]
MODIFY_RESPONSE = 0x67  # [APPLICATION 7]
RESPONSE_TYPES = {ADD_RESPONSE: "addResponse", MODIFY_RESPONSE: "modifyResponse"}
# ldap3's names of the operations of a change (RFC 4511 4.6; increment: RFC 4525)
MODIFY_OPERATIONS = {"MODIFY_ADD": 0, "MODIFY_DELETE": 1, "MODIFY_REPLACE": 2,
                     "MODIFY_INCREMENT": 3}
Changes = Mapping[str, Sequence[tuple[str, Values]]]  # ldap3's: {attr: [(op, values)]}


def _modify_operation(dn: str, changes: Changes) -> bytes:
    """ModifyRequest ::= [APPLICATION 6] SEQUENCE { object LDAPDN, changes SEQUENCE OF
    change SEQUENCE { operation ENUMERATED, modification PartialAttribute } }."""
    listed = []
    for name, pairs in changes.items():
        for op, values in pairs:
            code = MODIFY_OPERATIONS.get(op)
            if code is None:
                raise TypeError(f"attribute {name}: unknown operation {op!r}")
            listed.append(_tlv(0x30, b"\x0a\x01" + bytes((code,)) + _attribute(name, values)))
    return _tlv(0x66, _octets(dn) + _tlv(0x30, b"".join(listed)))


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


def decode_add_result(message: bytes, expected: int = ADD_RESPONSE
                      ) -> tuple[int, dict[str, Any]]:
    """(message id, result) of an AddResponse (or `expected`: a ModifyResponse), an
    LDAPResult (RFC 4511 4.1.9), in the shape ldap3 gives `conn.result`."""
    tag, at, end = _read(message, 0)
    if tag != 0x30:
        raise Unreadable("not an LDAPMessage")
    tag, start, stop = _read(message, at)
    if tag != 0x02:
        raise Unreadable("no message id")
    message_id = int.from_bytes(message[start:stop], "big", signed=True)
    tag, at, end = _read(message, stop)
    if tag != expected:
        raise Unreadable(f"answer of type {tag:#x}")
    fields: list[bytes] = []
    while at < end and len(fields) < 3:  # resultCode, matchedDN, diagnosticMessage
        _, start, at = _read(message, at)
        fields.append(message[start:at])
    if len(fields) < 3:
        raise Unreadable("short LDAPResult")
    code = int.from_bytes(fields[0], "big")
    return message_id, {"result": code, "description": ldapinternals.result_description(code),
                        "dn": fields[1].decode("utf-8", "replace"),
                        "message": fields[2].decode("utf-8", "replace"), "referrals": None,
                        "type": RESPONSE_TYPES[expected]}


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
        attributes: Mapping[str, Values]) -> dict[str, Any]:
    """Add one entry; its result, also left in `conn.result` as ldap3 does.

    RequestNotSent / AnswerLost (or ldap3's own exceptions, on its path) when the
    connection fails: the caller decides what that means.
    """
    entry = add_entry(object_classes, attributes)
    p = ldapinternals.servable(conn)
    if p is None:
        conn.add(dn, list(object_classes), dict(attributes))
        return dict(conn.result)
    message_id, answer = ldapinternals.exchange(p, lambda mid: encode_add(mid, dn, entry))
    try:
        answered, result = decode_add_result(answer)
    except Unreadable as exc:
        ldapinternals.drop(p)
        raise AnswerLost(f"an answer it cannot read ({exc})") from None
    if answered != message_id:
        ldapinternals.drop(p)
        raise AnswerLost(f"an answer to message {answered}, not {message_id}")
    conn.result = result
    return result


WINDOW = 32  # adds sent and not answered yet, at most, on one connection
Add = tuple[str, Sequence[str], Mapping[str, Values]]  # (dn, object classes, attributes)


def add_many(conn: ldap3.Connection, adds: Sequence[Add], window: int = WINDOW
             ) -> list[dict[str, Any] | Exception] | None:
    """Several adds pipelined on one connection (RFC 4511 4.1.1.1: a client may send
    requests without waiting for answers): each goes without waiting for the answer to
    the one before, at most `window` unanswered, and every answer is matched to its
    request by message id (the server may answer them in any order).

    Each add's outcome, in the order given: its result; TypeError (a value it cannot
    send: never sent); RequestNotSent (it did not leave, the connection failed first);
    AnswerLost (it left and no answer came: it may or may not have been done). After a
    failure nothing more is sent and the connection is closed. None: this path cannot
    serve the connection; the caller sends them one at a time.
    """
    if ldapinternals.servable(conn) is None:
        return None
    operations: list[bytes | Exception] = []
    for dn, classes, attributes in adds:
        try:
            operations.append(_add_operation(dn, add_entry(classes, attributes)))
        except TypeError as exc:
            operations.append(exc)
    return _pipelined(conn, operations, ADD_RESPONSE, window)


def modify_many(conn: ldap3.Connection, modifies: Sequence[tuple[str, Changes]],
                window: int = WINDOW) -> list[dict[str, Any] | Exception] | None:
    """Several modifies (dn, changes as ldap3 takes them) pipelined on one connection,
    as `add_many` does adds, with the same outcomes: a bulk unit's groups each get
    their new members in one modify, and the unit waits for all of them once. Whether a
    modify whose answer was lost may go again is the caller's to decide."""
    if ldapinternals.servable(conn) is None:
        return None
    operations: list[bytes | Exception] = []
    for dn, changes in modifies:
        try:
            operations.append(_modify_operation(dn, changes))
        except TypeError as exc:
            operations.append(exc)
    return _pipelined(conn, operations, MODIFY_RESPONSE, window)


def _pipelined(conn: ldap3.Connection, operations: Sequence[bytes | Exception],
               response: int, window: int) -> list[dict[str, Any] | Exception]:
    """Send the encoded operations (an Exception: one that could not be encoded, never
    sent) without waiting for each answer, at most `window` unanswered; their outcomes."""
    p = ldapinternals.servable(conn)
    assert p is not None
    out: list[dict[str, Any] | Exception | None] = [None] * len(operations)
    queue: list[tuple[int, bytes]] = []
    for k, operation in enumerate(operations):
        if isinstance(operation, Exception):
            out[k] = operation
        else:
            queue.append((k, operation))
    waiting: dict[int, int] = {}  # message id -> index of its add
    failure: Exception | None = None
    with p.lock:
        sent = 0
        while failure is None and (sent < len(queue) or waiting):
            room = window - len(waiting)
            if sent < len(queue) and room > 0:
                # the next requests in one write: each write gives the GIL up, and
                # getting it back may wait for a busy thread
                batch = queue[sent:sent + room]
                ids = [p.next_message_id() for _ in batch]
                frames = [_message(mid, op) for mid, (_, op) in zip(ids, batch, strict=True)]
                left, why = ldapinternals.send_counted(p, b"".join(frames))
                for mid, (k, _), frame in zip(ids, batch, frames, strict=True):
                    if left < len(frame):
                        break
                    left -= len(frame)
                    waiting[mid] = k
                    sent += 1
                if why is not None:
                    failure = RequestNotSent(why)
                continue
            failure = _answers(p, waiting, out, response)
    if failure is not None:
        lost = AnswerLost(str(failure)) if isinstance(failure, RequestNotSent) else failure
        for k in waiting.values():  # left: done or not, nobody can say
            out[k] = lost
        for k, _ in queue[sent:]:  # never left (or cut short: the server cannot act on it)
            out[k] = RequestNotSent(str(failure))
    done = [r for r in out if isinstance(r, dict)]
    if done:
        conn.result = done[-1]
    return [r if r is not None else AnswerLost("no answer") for r in out]


def _answers(p: ldapinternals.Parts, waiting: dict[int, int],
             out: list[dict[str, Any] | Exception | None], response: int = ADD_RESPONSE
             ) -> Exception | None:
    """Read the answers that came and file each under its add; the failure that ends the
    connection (which is then closed), or None."""
    try:
        messages = ldapinternals.receive(p)
    except AnswerLost as exc:
        return exc
    for message in messages:
        try:
            answered, result = decode_add_result(message, response)
        except Unreadable as exc:  # a notice of disconnection, say
            ldapinternals.drop(p)
            return AnswerLost(f"an answer it cannot read ({exc})")
        k = waiting.pop(answered, None)
        if k is None:
            ldapinternals.drop(p)
            return AnswerLost(f"an answer to message {answered}, which was not waiting")
        out[k] = result
    return None


def search_equal(conn: ldap3.Connection, base: str, matches: Sequence[tuple[str, str]],
                 attributes: Sequence[str], text_filter: str) -> list[dict[str, Any]] | None:
    """Entries below `base` where any (attribute, value) of `matches` holds, as
    {"dn": ..., attribute: values}; ldap3 decodes the answer. `text_filter` is the same
    filter as text, for what ldap3 may redo with the request (ranged attributes).
    None: not servable here, or not a plain success (a size limit, say): ask ldap3.
    """
    if not matches:
        return []
    p = ldapinternals.servable(conn)
    if p is None:
        return None
    request = {"type": "searchRequest", "base": base, "scope": 2, "dereferenceAlias": 3,
               "sizeLimit": 0, "timeLimit": 0, "typesOnly": False, "filter": text_filter,
               "attributes": list(attributes), "controls": None}
    responses, result = ldapinternals.exchange_search(
        p, lambda mid: encode_search_equal(mid, base, matches, attributes), request)
    conn.result = result
    if result.get("result") not in (0, 32):
        return None
    return [{"dn": e["dn"], **e["attributes"]} for e in responses
            if e.get("type") == "searchResEntry"]
