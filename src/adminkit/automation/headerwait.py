"""uvicorn's HTTP/1.1 protocol with a deadline on a request's headers.

uvicorn waits for ever for the headers of a request: a client that opens a connection
and sends nothing, or trickles its headers a byte every few seconds, holds that
connection for as long as it likes, and `max_connections` such clients shut `serve`
off for every sender. This happens before any sender is authenticated, so anyone who
can reach the port could do it. Here a connection waiting for a request's headers
(h11's IDLE state for the client) is closed once `deadline` seconds have passed since
it began to wait; bytes arriving meanwhile do not extend it.

It rests on three attributes of uvicorn's `H11Protocol` (`conn`, `transport`, `loop`);
tests/unit/test_serve_headers.py fails if they change.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("adminkit.serve")


def protocol(deadline: float) -> type[H11Protocol]:
    """The protocol class for `uvicorn.Config(http=...)`."""

    class HeaderDeadline(H11Protocol):
        _headers_due: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._watch()

        def handle_events(self) -> None:
            super().handle_events()
            self._watch()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._watch()  # kept alive: the next request's headers have the deadline too

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_watching()
            super().connection_lost(exc)

        def _watch(self) -> None:
            if self.conn.their_state is not h11.IDLE:
                self._stop_watching()  # its headers are in; the body has body_timeout
            elif self._headers_due is None and not self.transport.is_closing():
                self._headers_due = self.loop.call_later(deadline, self._too_slow)

        def _stop_watching(self) -> None:
            if self._headers_due is not None:
                self._headers_due.cancel()
                self._headers_due = None

        def _too_slow(self) -> None:
            self._headers_due = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                peer: Any = self.transport.get_extra_info("peername")
                log.warning("closed a connection from %s: no request headers within %g s",
                            peer[0] if peer else "?", deadline)
                self.transport.close()

    return HeaderDeadline
