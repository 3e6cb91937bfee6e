"""A scripted LDAP server end for unit tests: real TCP on 127.0.0.1, plain LDAP.

It reads whole requests, records each one (connection number, kind, bytes) and answers
with messages ldap3's own encoder builds: success by default, a chosen result code per
kind, or, for N requests of a kind (after `spare` of them were answered), nothing at
all: it reads the request and closes the connection, the way a server or network dies
after the request arrived. `close_open()` closes every connection between requests (a
server restart). With `pages`, searches are answered a page at a time with a paged
results cookie, counted per connection (a cookie means nothing on another one). The client
under test (ldap3, and adminkit's transport on it) is real and unmodified; the
integration tests do the same against the lab's real servers.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

from pyasn1.codec.ber import encoder

from tests.fakes.ldapframes import ANSWERS, Framer, kind, message_id
from tests.fakes.loopback import LoopbackListener

COMPONENTS = {"bindResponse": "BindResponse", "searchResDone": "SearchResultDone",
              "modifyResponse": "ModifyResponse", "addResponse": "AddResponse",
              "deleteResponse": "DelResponse", "modifyDNResponse": "ModifyDNResponse",
              "compareResponse": "CompareResponse", "extendedResponse": "ExtendedResponse"}
CHOICES = {"bindResponse": "bindResponse", "searchResDone": "searchResDone",
           "modifyResponse": "modifyResponse", "addResponse": "addResponse",
           "deleteResponse": "delResponse", "modifyDNResponse": "modDNResponse",
           "compareResponse": "compareResponse", "extendedResponse": "extendedResp"}


PAGED = "1.2.840.113556.1.4.319"


def _message(mid: int, choice: str, op: Any, cookie: bytes | None = None) -> bytes:
    from ldap3.protocol.convert import build_controls_list
    from ldap3.protocol.rfc2696 import paged_search_control
    from ldap3.protocol.rfc4511 import LDAPMessage, MessageID, ProtocolOp

    message = LDAPMessage()
    message["messageID"] = MessageID(mid)
    message["protocolOp"] = ProtocolOp().setComponentByName(choice, op)
    if cookie is not None:
        message["controls"] = build_controls_list([paged_search_control(False, 0, cookie)])
    return bytes(encoder.encode(message))


def answer(mid: int, request: str, code: int = 0, text: str = "",
           cookie: bytes | None = None) -> bytes:
    """The final answer to a request of kind `request`, as ldap3 would encode it."""
    from ldap3.protocol import rfc4511

    response = ANSWERS[request]
    op = getattr(rfc4511, COMPONENTS[response])()
    op["resultCode"] = rfc4511.ResultCode(code)
    op["matchedDN"] = rfc4511.LDAPDN("")
    op["diagnosticMessage"] = rfc4511.LDAPString(text)
    return _message(mid, CHOICES[response], op, cookie)


def entry(mid: int, dn: str) -> bytes:
    """A search result entry with no attributes."""
    from ldap3.protocol import rfc4511

    op = rfc4511.SearchResultEntry()
    op["object"] = rfc4511.LDAPDN(dn)
    op["attributes"] = rfc4511.PartialAttributeList()
    return _message(mid, "searchResEntry", op)


class Peer(LoopbackListener):
    def __init__(self) -> None:
        super().__init__()
        self.requests: list[tuple[int, str, bytes]] = []  # (connection number, kind, bytes)
        self.cut: dict[str, int] = {}  # kind -> how many more to read, then hang up on
        self.spare: dict[str, int] = {}  # kind -> how many to answer before cutting
        self.pages: list[list[str]] = []  # DNs a search answers with, page by page
        self.codes: dict[str, int] = {}  # kind -> the result code to answer
        self.found: list[str] = []  # the DNs a search answers with
        self.hold_adds = 0  # answer adds only when this many wait, the last one first
        self.connections = 0
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self.start()

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    def kinds(self) -> list[str]:
        """The kinds of the requests so far, binds and unbinds left out."""
        return [k for _, k, _ in self.requests if k not in ("bind", "unbind")]

    def serve(self, sock: socket.socket) -> None:
        with self._lock:
            self.connections += 1
            number = self.connections
            self._open.append(sock)
        framer = Framer()
        searches = [0]  # searches answered on this connection: the page to give next
        held: list[int] = []  # message ids of the adds held back (hold_adds)
        with contextlib.suppress(OSError):
            while data := sock.recv(65536):
                for message in framer.feed(data):
                    if self.hold_adds and kind(message) == "add":
                        with self._lock:
                            self.requests.append((number, "add", message))
                        held.append(message_id(message))
                        if len(held) == self.hold_adds:
                            sock.sendall(b"".join(answer(mid, "add", self.codes.get("add", 0))
                                                  for mid in reversed(held)))
                            held.clear()
                        continue
                    if not self._handle(sock, number, message, searches):
                        return
        self._hang_up(sock)

    def _handle(self, sock: socket.socket, number: int, message: bytes,
                searches: list[int]) -> bool:
        what = kind(message)
        with self._lock:
            self.requests.append((number, what, message))
            cut = self.cut.get(what, 0) > 0 and self.spare.get(what, 0) <= 0
            if cut:
                self.cut[what] -= 1
            elif what in self.spare:
                self.spare[what] -= 1
        if what == "unbind" or cut:
            self._hang_up(sock)
            return False
        mid = message_id(message)
        cookie = None
        if what == "search":
            found = self.found
            if self.pages:
                page = searches[0]
                found = self.pages[page]
                cookie = b"\xfe-page-%d" % (page + 1) if page + 1 < len(self.pages) else b""
                searches[0] += 1
            sock.sendall(b"".join(entry(mid, dn) for dn in found))
        sock.sendall(answer(mid, what, self.codes.get(what, 0), cookie=cookie))
        return True

    def _hang_up(self, sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        with self._lock:
            if sock in self._open:
                self._open.remove(sock)

    def close_open(self) -> None:
        """Close every open connection now, as a server going down does."""
        with self._lock:
            socks = list(self._open)
        for sock in socks:
            self._hang_up(sock)
