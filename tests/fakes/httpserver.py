"""A small real HTTP server for vendor fakes: 127.0.0.1, port 0, one thread per connection.

The one base of every vendor fake (the ticket systems' and any other): a fake subclasses
`ServerFake` and supplies `_route(request) -> Reply` and `_error(request, status, message)
-> Reply` in its vendor's error format. This module does the socket work, reads each
request body fully (Content-Length or chunked, so keep-alive stays in step), records every
request, and can be told to answer the next K matching requests with a failure (429 or 503
with Retry-After, 500, 401) before routing, the way a rate limiter or proxy in front of the
real server would, or to carry out the next matching request and lose its answer (the
connection drops, as when a proxy times out after the server did the work). The real
client library talks to it unmodified. Set `server.tls` (see `self_signed_tls`) before
starting it to serve https with a certificate for 127.0.0.1.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import socket
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from adminkit.lab.httpd import QuietThreadingHTTPServer


class BadRequest(Exception):
    """Raised by a route for a malformed request; the server answers 400 in vendor format."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names in lower case
    body: bytes

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def authorization(self) -> tuple[str, str]:
        """(scheme, credentials) of the Authorization header; empty strings without one."""
        scheme, _, credentials = (self.header("authorization") or "").partition(" ")
        return scheme, credentials

    def basic_login(self) -> tuple[str, str] | None:
        """(user, password) of HTTP Basic credentials; None for another scheme, or garbage."""
        scheme, credentials = self.authorization()
        if scheme != "Basic":
            return None
        try:
            user, _, password = base64.b64decode(credentials, validate=True).decode().partition(":")
        except ValueError:
            return None
        return user, password

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";", 1)[0].strip().lower()

    def json(self) -> Any:
        """The JSON body; a wrong content type or bad JSON is the client's fault (400)."""
        if self.content_type != "application/json":
            raise BadRequest(f"expected Content-Type application/json, got {self.content_type!r}",
                             status=415)
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadRequest(f"malformed JSON body: {exc}") from None


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(status: int, obj: Any, headers: dict[str, str] | None = None, *,
               content_type: str = "application/json;charset=UTF-8") -> Reply:
    return Reply(status, json.dumps(obj).encode(), {"Content-Type": content_type,
                                                    **(headers or {})})


def text_reply(status: int, text: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, text.encode(), {"Content-Type": "text/plain; charset=utf-8",
                                         **(headers or {})})


PROXY_REASONS = {429: "Too Many Requests", 502: "Bad Gateway",
                 503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}


def proxy_reply(status: int) -> Reply:
    """The HTML page a reverse proxy (nginx) answers with when it rate-limits or cannot
    reach the application behind it: no JSON, whatever the API's own format."""
    reason = PROXY_REASONS.get(status, "Error")
    page = f"<html><head><title>{status} {reason}</title></head><body><center><h1>{status} " \
           f"{reason}</h1></center><hr><center>nginx</center></body></html>\r\n"
    return Reply(status, page.encode(), {"Content-Type": "text/html"})


@dataclass
class Failure:
    status: int
    times: int
    retry_after: str | None = None
    method: str | None = None
    path: str | None = None  # a prefix of the request path
    reply: Reply | None = None  # answer this instead of the vendor's error
    lose: bool = False  # carry the request out, then drop the connection unanswered
    echo: bool = False  # answer the request's headers as text, as a proxy's error page may

    def matches(self, req: Request) -> bool:
        return ((self.method is None or req.method == self.method.upper())
                and (self.path is None or req.path.startswith(self.path)))


Route = Callable[[Request], Reply]
ErrorBody = Callable[[Request, int, str], Reply]
# (method, path pattern, handler): the handler gets the request and the pattern's groups
Routes = Sequence[tuple[str, str, Callable[..., Reply]]]


class FakeHTTPServer:
    """Start with `with FakeHTTPServer(route, error) as server:`; `server.url` is its base URL."""

    def __init__(self, route: Route, error: ErrorBody) -> None:
        self.route = route
        self.error = error
        self.requests: list[Request] = []
        self.lock = threading.RLock()
        self._failures: list[Failure] = []
        self._httpd: QuietThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.tls: ssl.SSLContext | None = None  # set before start() to serve https
        self._port = 0  # once started: the port a restart (stop, start) listens on again

    # -- control ----------------------------------------------------------------
    def fail(self, status: int, *, times: int = 1, retry_after: float | str | None = None,
             method: str | None = None, path: str | None = None,
             reply: Reply | None = None, echo: bool = False) -> None:
        """Answer the next `times` matching requests with `status` (and Retry-After), or with
        `reply` as given (a proxy's HTML page, say), or (`echo`) with the request's headers,
        credentials and all, as text."""
        with self.lock:
            self._failures.append(Failure(status, times,
                                          None if retry_after is None else str(retry_after),
                                          method, path, reply, echo=echo))

    def lose_answer(self, *, times: int = 1, method: str | None = None,
                    path: str | None = None) -> None:
        """Carry out the next `times` matching requests, then close the connection without
        an answer: the server did the work, the client never hears of it."""
        with self.lock:
            self._failures.append(Failure(0, times, None, method, path, lose=True))

    @property
    def url(self) -> str:
        assert self._httpd is not None, "the server is not started"
        host, port = self._httpd.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host!s}:{port}"

    def start(self) -> FakeHTTPServer:
        httpd = QuietThreadingHTTPServer(("127.0.0.1", self._port), _handler_class(self))
        self._port = httpd.server_address[1]  # the system restarted is at the same address
        if self.tls is not None:
            httpd.socket = self.tls.wrap_socket(httpd.socket, server_side=True)
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name="fake-http",
                                        kwargs={"poll_interval": 0.01}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeHTTPServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- serving ----------------------------------------------------------------
    def handle(self, req: Request) -> Reply | None:
        """The reply to send, or None: drop the connection unanswered."""
        with self.lock:
            self.requests.append(req)
            failure = next((f for f in self._failures if f.matches(req)), None)
            if failure is not None:
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
            if failure is not None and failure.echo:
                first = sorted(req.headers.items(), key=lambda kv: kv[0] != "authorization")
                sent = "".join(f"{k}: {v}\n" for k, v in first)  # within 200 characters
                return Reply(failure.status, f"Bad request. You sent:\n{sent}".encode(),
                             {"Content-Type": "text/plain"})
            if failure is not None and not failure.lose:
                reply = failure.reply or self.error(req, failure.status,
                                                    _REASONS.get(failure.status, "failure"))
                if failure.retry_after is not None:
                    reply.headers["Retry-After"] = failure.retry_after
                return reply
            try:
                reply = self.route(req)
            except BadRequest as exc:
                reply = self.error(req, exc.status, exc.message)
            return None if failure is not None else reply


def self_signed_tls(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context for 127.0.0.1 with a fresh self-signed certificate, and its PEM file
    (the file a profile's `ca_file` would name)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "adminkit fake")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "fake-cert.pem", directory / "fake-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file


_REASONS = {401: "authentication required", 429: "too many requests",
            500: "internal server error", 502: "bad gateway", 503: "service unavailable"}


def _handler_class(server: FakeHTTPServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in two writes; without this, Nagle's algorithm and the
            # client's delayed ACK hold the body back ~40 ms on every response.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep pytest output clean

        def _read_body(self) -> bytes:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                chunks: list[bytes] = []
                while True:
                    size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _serve(self) -> None:
            body = self._read_body()
            parts = urlsplit(self.path)
            req = Request(self.command, parts.path,
                          parse_qs(parts.query, keep_blank_values=True),
                          {k.lower(): v for k, v in self.headers.items()}, body)
            reply = server.handle(req)
            if reply is None:  # the answer is lost: the client sees the connection close
                self.close_connection = True
                return
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    return Handler


class ServerFake:
    """A vendor fake served by a FakeHTTPServer on its own `_route` and `_error`: started
    and stopped directly or as a context manager; failures and lost answers ordered up;
    every request it received kept in `requests`."""

    def __init__(self) -> None:
        self.server = FakeHTTPServer(self._route, self._error)
        self.credentials_revoked = False  # a fake's login check refuses everything once set
        self.unknown: list[str] = []  # requests no route answered: the client sent a wrong call

    def _route(self, req: Request) -> Reply:
        raise NotImplementedError

    def _dispatch(self, req: Request, routes: Routes) -> Reply | None:
        """The first route whose method and path pattern match answers, given the pattern's
        groups; None when none does (the request is noted in `unknown`)."""
        for method, pattern, handler in routes:
            m = re.fullmatch(pattern, req.path)
            if m and req.method == method:
                return handler(req, *m.groups())
        self.unknown.append(f"{req.method} {req.path}")
        return None

    def _error(self, req: Request, status: int, message: str) -> Reply:
        raise NotImplementedError

    @property
    def lock(self) -> threading.RLock:
        """Held while a request is served: take it to arrange or read the fake's state."""
        return self.server.lock

    @property
    def requests(self) -> list[Request]:
        return self.server.requests

    def seen(self, method: str, path: str) -> list[Request]:
        """The requests received with this method and exactly this path."""
        with self.lock:
            return [r for r in self.requests if r.method == method and r.path == path]

    def fail(self, status: int, *, times: int = 1, retry_after: float | str | None = None,
             method: str | None = None, path: str | None = None,
             reply: Reply | None = None, echo: bool = False) -> None:
        self.server.fail(status, times=times, retry_after=retry_after, method=method, path=path,
                         reply=reply, echo=echo)

    def lose_answer(self, *, times: int = 1, method: str | None = None,
                    path: str | None = None) -> None:
        self.server.lose_answer(times=times, method=method, path=path)

    def reject_credentials(self) -> None:
        """The credential the fake accepted stops working (revoked, rotated, expired)."""
        with self.lock:
            self.credentials_revoked = True

    def mistakes(self) -> list[str]:
        """What the client sent that the real API does not have, or would silently ignore."""
        return list(self.unknown)

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> Self:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
