"""A TCP listener on 127.0.0.1 (or another loopback address; port 0) that serves each
connection in its own thread.

The base of the scripted LDAP peer (ldappeer.py) and of the integration tests' dropping
LDAPS proxy: subclasses say how to serve one connection and how to close the ones open.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType
from typing import Self


class LoopbackListener:
    def __init__(self, host: str = "127.0.0.1") -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.listener = socket.create_server((host, 0), family=family)
        self.port: int = self.listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)

    def start(self) -> None:
        """Accept connections from now on (call once the subclass is set up)."""
        self._accepting.start()

    def serve(self, sock: socket.socket) -> None:
        """Serve one accepted connection until it ends (in its own thread)."""
        raise NotImplementedError

    def close_open(self) -> None:
        """Close every connection still open."""
        raise NotImplementedError

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self.serve, args=(sock,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() on Linux
        self.listener.close()
        if self._accepting.is_alive():
            self._accepting.join()
        self.close_open()
        for thread in self._threads:
            thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
