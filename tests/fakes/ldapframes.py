"""Whole LDAP messages cut from a byte stream, and what each one is (RFC 4511 4.1.1).

Shared by the scripted LDAP peer of the unit tests (ldappeer.py) and the dropping proxy
of the integration tests: both read what a real client or server writes, message by
message, to decide what to do with it.
"""

from __future__ import annotations

# protocolOp tags: [APPLICATION n], constructed (0x60) or primitive (0x40)
KINDS = {
    0x60: "bind", 0x61: "bindResponse", 0x42: "unbind", 0x63: "search",
    0x64: "searchResEntry", 0x65: "searchResDone", 0x73: "searchResRef",
    0x66: "modify", 0x67: "modifyResponse", 0x68: "add", 0x69: "addResponse",
    0x4A: "delete", 0x6B: "deleteResponse", 0x6C: "modifyDN", 0x6D: "modifyDNResponse",
    0x6E: "compare", 0x6F: "compareResponse", 0x50: "abandon", 0x77: "extended",
    0x78: "extendedResponse", 0x79: "intermediate",
}
ANSWERS = {"bind": "bindResponse", "search": "searchResDone", "modify": "modifyResponse",
           "add": "addResponse", "delete": "deleteResponse", "modifyDN": "modifyDNResponse",
           "compare": "compareResponse", "extended": "extendedResponse"}


def _header(data: bytes, at: int) -> tuple[int, int] | None:
    """(start of the value, its length) of the element at `at`; None if cut short."""
    if len(data) < at + 2:
        return None
    first = data[at + 1]
    if first < 0x80:
        return at + 2, first
    count = first & 0x7F
    if len(data) < at + 2 + count:
        return None
    return at + 2 + count, int.from_bytes(data[at + 2:at + 2 + count], "big")


class Framer:
    """Feed bytes as they come; get back the messages completed so far."""

    def __init__(self) -> None:
        self.buffer = b""

    def feed(self, data: bytes) -> list[bytes]:
        self.buffer += data
        messages = []
        while (head := _header(self.buffer, 0)) is not None:
            start, size = head
            if len(self.buffer) < start + size:
                break
            messages.append(self.buffer[:start + size])
            self.buffer = self.buffer[start + size:]
        return messages


def message_id(message: bytes) -> int:
    start, _ = _header(message, 0) or (0, 0)
    value, size = _header(message, start) or (0, 0)
    return int.from_bytes(message[value:value + size], "big")


def kind(message: bytes) -> str:
    """"add", "searchResDone", ... of a whole LDAPMessage."""
    start, _ = _header(message, 0) or (0, 0)
    value, size = _header(message, start) or (0, 0)
    tag = message[value + size]
    return KINDS.get(tag, f"tag {tag:#x}")


def add_dn(message: bytes) -> str:
    """The entry DN of an AddRequest (LDAPMessage: the id, then [APPLICATION 8] whose
    first element is the DN)."""
    body, _ = _header(message, 0) or (0, 0)
    start, size = _header(message, body) or (0, 0)
    op = start + size
    if message[op] != 0x68:
        raise ValueError("not an AddRequest")
    start, _ = _header(message, op) or (0, 0)
    start, size = _header(message, start) or (0, 0)
    return message[start:start + size].decode()
