"""A TCP relay in front of a real LDAP server that can lose one answer, as a network does.

It passes plain LDAP both ways and reads the server's messages as they go by. Armed
with an operation's response tag, it drops the next response of that kind and cuts
the connection: the server has done the request, the client never hears so. (TLS
would hide the messages, so the relay serves a profile with `insecure: true`, in the
lab only.)
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

ADD_RESPONSE = 0x69  # RFC 4511 [APPLICATION 9]
MODIFY_RESPONSE = 0x67  # [APPLICATION 7]


def _length(data: bytes, at: int) -> tuple[int, int] | None:
    """(length, where the value starts) of the BER length at `at`, if all there."""
    if at >= len(data):
        return None
    first = data[at]
    if first < 0x80:
        return first, at + 1
    count = first & 0x7F
    if at + 1 + count > len(data):
        return None
    return int.from_bytes(data[at + 1:at + 1 + count], "big"), at + 1 + count


def _messages(buffer: bytearray) -> Iterator[tuple[int, bytes]]:
    """Whole LDAPMessages at the front of `buffer` (taken out of it), with their
    operation tag: SEQUENCE { messageID INTEGER, protocolOp, ... }."""
    while True:
        outer = _length(buffer, 1)
        if outer is None or outer[1] + outer[0] > len(buffer):
            return
        size, start = outer
        message = bytes(buffer[:start + size])
        del buffer[:start + size]
        id_length = _length(message, start + 1)
        assert id_length is not None
        yield message[id_length[1] + id_length[0]], message


class LossyRelay:
    """127.0.0.1:`port` relays to `upstream`; `lose(tag)` drops the next such answer."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.armed: int | None = None
        self.times = 0  # how many more of the armed kind to drop
        self.passing = 0  # how many of the armed kind to let through first
        self.lost = 0  # answers it dropped
        self.lock = threading.Lock()
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def lose(self, tag: int, times: int = 1, after: int = 0) -> None:
        """Drop the next `times` answers of kind `tag`, after letting `after` through."""
        with self.lock:
            self.armed, self.times, self.passing = tag, times, after

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.close()
        for s in self.sockets:
            with contextlib.suppress(OSError):
                s.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self.sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, answers: bool) -> None:
        buffer = bytearray()
        try:
            while data := src.recv(65536):
                if not answers:
                    dst.sendall(data)
                    continue
                buffer += data
                for tag, message in _messages(buffer):
                    if self._drop(tag):
                        raise ConnectionAbortedError
                    dst.sendall(message)
        except OSError:
            pass
        for s in (src, dst):  # either side gone, or an answer lost: the connection ends
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()

    def _drop(self, tag: int) -> bool:
        with self.lock:
            if self.armed != tag:
                return False
            if self.passing:
                self.passing -= 1
                return False
            self.times -= 1
            if not self.times:
                self.armed = None
            self.lost += 1
            return True


@contextmanager
def lossy_relay(upstream: tuple[str, int]) -> Iterator[LossyRelay]:
    relay = LossyRelay(upstream)
    try:
        yield relay
    finally:
        relay.close()
