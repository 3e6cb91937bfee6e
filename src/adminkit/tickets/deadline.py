"""One deadline for a whole ticket request: connect, TLS, headers and body together.

httpx's timeouts are per socket operation: a server (or a proxy in front of it) that
sends its status line and headers a byte at a time never lets one fire, and would hold
a run's note delivery without end. Here every socket operation of a request is given
what is left of the request's deadline as its timeout, and none starts once it has
passed: the request fails as a timeout, which the backends already turn into a retry
later. It is done in httpcore's public network-backend interface, so httpx itself and
its connection pool (keep-alive, TLS) are used unmodified.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Any

import httpcore
import httpx

from adminkit.core import keepalive
from adminkit.tickets import bounded

# The deadline (time.monotonic) of the request this thread is making; None outside one.
_deadline: ContextVar[float | None] = ContextVar("adminkit_ticket_deadline", default=None)


def _late(what: str) -> str:
    return f"the {what} took longer than {bounded.MAX_SECONDS:.0f} s"


def _within(timeout: float | None, error: type[Exception], what: str) -> float | None:
    """The timeout for one socket operation: what is left of the request's deadline,
    never more than httpx's own per-operation timeout."""
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error(_late(what))
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    """A connection's socket, each read and write within the current request's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self.inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            return self.inner.read(max_bytes, _within(timeout, httpcore.ReadTimeout, "answer"))
        except httpcore.ReadTimeout:
            _within(None, httpcore.ReadTimeout, "answer")  # the deadline's, named as such
            raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        try:
            self.inner.write(buffer, _within(timeout, httpcore.WriteTimeout, "request"))
        except httpcore.WriteTimeout:
            _within(None, httpcore.WriteTimeout, "request")
            raise

    def close(self) -> None:
        self.inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _Stream(self.inner.start_tls(
            ssl_context, server_hostname, _within(timeout, httpcore.ConnectTimeout,
                                                  "TLS handshake")))

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    """httpcore's own sockets, wrapped in `_Stream`."""

    def __init__(self) -> None:
        self.inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return _Stream(self.inner.connect_tcp(
            host, port, _within(timeout, httpcore.ConnectTimeout, "connection"),
            local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None
                            ) -> httpcore.NetworkStream:
        return _Stream(self.inner.connect_unix_socket(
            path, _within(timeout, httpcore.ConnectTimeout, "connection"), socket_options))

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


class _Body(httpx.SyncByteStream):
    """The response body, read under the deadline of the request that asked for it."""

    def __init__(self, inner: httpx.SyncByteStream, deadline: float) -> None:
        self.inner, self.deadline = inner, deadline

    def __iter__(self) -> Iterator[bytes]:
        chunks = iter(self.inner)
        while True:
            token = _deadline.set(self.deadline)
            try:
                chunk = next(chunks, None)
            finally:
                _deadline.reset(token)
            if chunk is None:
                return
            yield chunk

    def close(self) -> None:
        self.inner.close()


class DeadlineTransport(httpx.HTTPTransport):
    """httpx's transport, its pool on `_Backend`: each request must be over, body and
    all, within `bounded.MAX_SECONDS` of being sent. `proxy`: the HTTP(S) proxy to go
    through (httpx leaves a client's own transport alone: it is not told of
    HTTPS_PROXY and the like, so `environment_proxy` finds it for it)."""

    def __init__(self, verify: ssl.SSLContext, proxy: str | None = None) -> None:
        super().__init__(verify=verify)
        limits = httpx.Limits()  # httpx's defaults, as HTTPTransport itself takes them
        if proxy is None:
            self._pool = httpcore.ConnectionPool(
                ssl_context=verify, max_connections=limits.max_connections,
                max_keepalive_connections=limits.max_keepalive_connections,
                keepalive_expiry=limits.keepalive_expiry, network_backend=_Backend(),
                socket_options=keepalive.options())
            return
        via = httpx.Proxy(proxy)
        if via.url.password:  # http://user:password@proxy: scrubbed from any error text
            from adminkit.core.secrets import Secret

            Secret(via.url.password)
        if via.url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"proxy {via.url.scheme}:// is not supported "
                                            "for tickets: use an http(s):// proxy")
        self._pool = httpcore.HTTPProxy(
            proxy_url=httpcore.URL(scheme=via.url.raw_scheme, host=via.url.raw_host,
                                   port=via.url.port, target=via.url.raw_path),
            proxy_auth=via.raw_auth, proxy_headers=via.headers.raw,
            ssl_context=verify, max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry, network_backend=_Backend(),
            socket_options=keepalive.options())

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        deadline = time.monotonic() + bounded.MAX_SECONDS
        token = _deadline.set(deadline)
        try:
            response = super().handle_request(request)
        finally:
            _deadline.reset(token)
        assert isinstance(response.stream, httpx.SyncByteStream)
        response.stream = _Body(response.stream, deadline)
        return response


def environment_proxy(url: str) -> str | None:
    """The proxy HTTPS_PROXY / HTTP_PROXY / ALL_PROXY name for `url`, unless NO_PROXY
    exempts its host: what httpx would use for a client without its own transport."""
    import urllib.request
    from urllib.parse import urlsplit

    found = urllib.request.getproxies_environment()
    parts = urlsplit(url)
    proxy = found.get(parts.scheme) or found.get("all")
    if not proxy or urllib.request.proxy_bypass(parts.netloc):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"
