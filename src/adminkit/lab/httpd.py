"""The threading HTTP server every in-process fake serves on.

A client that hangs up mid-answer is normal for a fake (a test that checks a timeout, a
retry that gives up); the standard server prints a traceback for it to whatever
`sys.stderr` is at that moment, which in a test run may be another test's captured
output. Hang-ups are dropped quietly; anything else is still reported.
"""

from __future__ import annotations

import socket
import ssl
import sys
from http.server import ThreadingHTTPServer
from typing import Any

#: What a client hanging up looks like to the serving thread, over plain TCP and TLS.
HANG_UPS: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError, ssl.SSLEOFError,
                                            ssl.SSLZeroReturnError)


class QuietThreadingHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: socket.socket | tuple[bytes, socket.socket],
                     client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], HANG_UPS):
            return
        super().handle_error(request, client_address)
