"""A small LDAPS proxy that loses answers: between adminkit and a lab directory.

It listens on 127.0.0.1 and ends the client's TLS with the directory's own lab
certificate (signed by the lab's CA for localhost and 127.0.0.1, so the client's
checks pass unchanged), opens its own verified TLS connection to the directory, and
passes LDAP messages both ways, whole. `drop_answer(kinds)` makes it hold back the
next answer of one of those kinds: the request reached the directory and was answered
(so it was done), and the proxy closes both connections instead of passing the answer
on. `cut()` closes every connection between requests. `requests` records every request
passed on, by connection. The directory itself is never stopped or touched.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
from pathlib import Path

from tests.fakes.ldapframes import Framer, add_dn, kind
from tests.fakes.loopback import LoopbackListener


class DropProxy(LoopbackListener):
    def __init__(self, upstream: tuple[str, int], *, ca_file: Path, cert_file: Path,
                 key_file: Path) -> None:
        super().__init__()
        self.upstream = upstream
        self.client_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.client_side.load_cert_chain(cert_file, key_file)
        self.server_side = ssl.create_default_context(cafile=str(ca_file))
        self.requests: list[tuple[int, str]] = []  # (connection number, kind) passed on
        self.dropped: list[str] = []  # the answers held back
        self.connections = 0
        self._drop: set[str] = set()
        self._times = 0  # how many more answers of those kinds to hold back
        self._pairs: list[tuple[ssl.SSLSocket, ssl.SSLSocket]] = []
        self.adds: list[str] = []  # the DN of every add passed on, in order
        self._cut: tuple[int, int] | None = None  # (adds to pass on, answers to pass back)
        self._passed = self._answered = 0
        self._lock = threading.Lock()
        self.start()

    def url(self, host: str) -> str:
        return f"ldaps://{host}:{self.port}"

    def drop_answer(self, *kinds: str, times: int = 1) -> None:
        """Hold back the next answer (or `times` answers) whose kind is one of `kinds`
        ("addResponse", ...)."""
        with self._lock:
            self._drop, self._times = set(kinds), times

    def cut_after_adds(self, passed: int, answered: int) -> None:
        """Pass the next `passed` adds on to the directory and `answered` of their answers
        back; once the directory has answered them all, close both connections. Adds the
        client sends after those are never passed on (a connection dropping under a
        pipeline: some adds done and answered, some done with the answer lost, some never
        arrived)."""
        with self._lock:
            self._cut, self._passed, self._answered = (passed, answered), 0, 0

    def close_open(self) -> None:
        self.cut()

    def cut(self) -> None:
        """Close every connection now, both ways, as a network failing while idle does."""
        with self._lock:
            pairs = list(self._pairs)
        for pair in pairs:
            self._close(pair)

    # -- plumbing -------------------------------------------------------------------------
    def serve(self, raw: socket.socket) -> None:
        try:
            client = self.client_side.wrap_socket(raw, server_side=True)
            server = self.server_side.wrap_socket(
                socket.create_connection(self.upstream, timeout=30),
                server_hostname=self.upstream[0])
        except OSError:
            raw.close()
            return
        client.settimeout(None)
        server.settimeout(None)
        pair = (client, server)
        with self._lock:
            self.connections += 1
            number = self.connections
            self._pairs.append(pair)
        try:
            self._relay(pair, number)
        except (OSError, ValueError):  # closed under it (cut, stop): nothing more to pass
            pass
        finally:
            self._close(pair)

    def _relay(self, pair: tuple[ssl.SSLSocket, ssl.SSLSocket], number: int) -> None:
        """One thread for both directions: an SSL object is never used by two at once."""
        client, server = pair
        requests, answers = Framer(), Framer()
        while True:
            ready = [s for s in pair if s.pending()]
            if not ready:
                ready, _, _ = select.select(list(pair), [], [])
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    return
                if sock is client:
                    for message in requests.feed(data):
                        with self._lock:
                            if kind(message) == "add" and self._cut is not None:
                                if self._passed >= self._cut[0]:
                                    continue  # never arrives
                                self._passed += 1
                            self.requests.append((number, kind(message)))
                            if kind(message) == "add":
                                self.adds.append(add_dn(message))
                        server.sendall(message)
                    continue
                for message in answers.feed(data):
                    if kind(message) == "addResponse" and self._cut is not None:
                        with self._lock:
                            self._answered += 1
                            passed, answered = self._cut
                            if self._answered == passed:
                                self._cut = None
                                return  # all done; the rest of the answers are lost
                            if self._answered > answered:
                                continue  # held back
                    with self._lock:
                        drop = kind(message) in self._drop
                        if drop:
                            self._times -= 1
                            if not self._times:
                                self._drop = set()
                            self.dropped.append(kind(message))
                    if drop:
                        return  # the directory answered; the client never hears it
                    client.sendall(message)

    def _close(self, pair: tuple[ssl.SSLSocket, ssl.SSLSocket]) -> None:
        for sock in pair:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
        with self._lock:
            if pair in self._pairs:
                self._pairs.remove(pair)
