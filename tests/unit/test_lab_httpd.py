"""The fakes' HTTP server drops a client's hang-up quietly and still reports real faults.

A hang-up once printed a traceback into the next test's captured stderr (CI, stop 26).
"""

from __future__ import annotations

import http.client
import ssl
import threading
from http.server import BaseHTTPRequestHandler

import pytest

from adminkit.lab.httpd import QuietThreadingHTTPServer


@pytest.mark.parametrize(("fault", "reported"), [
    (ConnectionResetError("peer reset"), False),
    (BrokenPipeError("pipe"), False),
    (ssl.SSLEOFError("EOF occurred in violation of protocol"), False),
    (ValueError("a fault in the fake itself"), True),
])
def test_a_hang_up_is_quiet_and_a_fault_is_reported(
        fault: BaseException, reported: bool, capsys: pytest.CaptureFixture[str]) -> None:
    handled = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            handled.set()
            raise fault

    server = QuietThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
        connection.request("GET", "/")
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
            connection.getresponse()
        connection.close()
        assert handled.wait(5)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    err = capsys.readouterr().err
    assert ("Traceback" in err and type(fault).__name__ in err) is reported, err
