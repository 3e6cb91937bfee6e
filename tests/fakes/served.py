"""What the GLPI and Redmine fakes share: a real HTTP server on 127.0.0.1 (port 0) that
answers JSON, records every request as it came, and can be told to fail the next ones.

A fake subclasses `ServedFake` and supplies `handle(seen) -> Answer`; it takes the next
ordered-up fault with `_take_fault()` while holding `self.lock`.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

Answer = tuple[int, dict[str, str], Any]  # status, headers, JSON-able body (or bytes)


@dataclass
class Seen:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Fault:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = b""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects
    fake: ServedFake

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        seen = Seen(self.command, parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)),
                    {k.lower(): v for k, v in self.headers.items()}, body)
        status, headers, payload = self.fake.handle(seen)
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        if not isinstance(payload, bytes):
            self.send_header("Content-Type", self.fake.content_type)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


class ServedFake:
    content_type = "application/json; charset=utf-8"

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[Seen] = []
        self._faults: list[Fault | None] = []  # None lets one request through
        self._server: ThreadingHTTPServer | None = None

    def handle(self, req: Seen) -> Answer:
        raise NotImplementedError

    # -- running ----------------------------------------------------------------------
    def start(self) -> Self:
        handler = type(f"{type(self).__name__}Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- faults and what was seen -------------------------------------------------------
    def fail_next(self, status: int, count: int = 1, *, retry_after: int | str | None = None,
                  body: Any = b"", skip: int = 0) -> None:
        """Answer the next `count` requests, whatever they are, with `status`
        (after letting `skip` requests through)."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        with self.lock:
            self._faults.extend([None] * skip)
            self._faults.extend(Fault(status, headers, body) for _ in range(count))

    def _take_fault(self) -> Answer | None:
        """The answer ordered up for this request, if any (call with `self.lock` held)."""
        fault = self._faults.pop(0) if self._faults else None
        return None if fault is None else (fault.status, fault.headers, fault.body)

    def seen(self, method: str, path: str) -> list[Seen]:
        return [r for r in self.requests if r.method == method and r.path == path]
