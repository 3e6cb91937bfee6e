"""IPP over TLS for libcups, with the certificate verified: a relay on a loopback port.

libcups 2.4 built with GnuTLS (Debian's, Ubuntu's) takes whatever certificate a server
shows. Its client handshake verifies nothing; `cupsSetServerCertCB` is called only by
the macOS build; client.conf's `ValidateCerts`, `TrustOnFirstUse` and `AllowAnyRoot`
steer only `httpCredentialsGetTrust`, which libcups never calls for its own
connections (ipptool does). pycups gives no handle on a connection's credentials, and
libcups reconnects by itself, so a check of its own connection could not cover them
all. A check on a connection of adminkit's own, before libcups connects, is no
protection either: a machine in the middle lets that one through.

So libcups never speaks to a `tls: true` server. It speaks plain IPP to a port of this
process on 127.0.0.1, and the relay carries each connection libcups opens over a TLS
connection of its own to the server, made by Python's ssl against the profile's
`ca_file` (or the system's CAs) and the server's name or address. A connection whose
certificate does not pass is closed before one byte of libcups' is read: no request,
no password. The first TLS connection is made (and checked) when the relay starts, on
the caller's thread, so a wrong certificate is exit 3 saying what to fix; it is then
the first one libcups gets.

One event-loop thread per relay carries all its connections; `close()` (the backend's,
on every path, Ctrl-C too) ends them and the thread. The relay's port takes connections
from any local process, which reaches the same server through it as it would directly:
nothing of this process's (no credential) is added to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
import time
from pathlib import Path

from adminkit.core.errors import ConnectionFailed
from adminkit.printing.tlscheck import TIMEOUT, client_context, refusal

LOOPBACK = "127.0.0.1"  # a numeric Host: header cupsd accepts from afar and on loopback
FRESH = 5.0  # seconds the first connection waits for libcups before it is made anew
CHUNK = 65536
STOP_SECONDS = 5.0

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class TlsRelay:
    """Plain IPP on LOOPBACK:`port` for libcups, verified TLS to `host`:`server_port`."""

    def __init__(self, name: str, host: str, server_port: int, ca_file: Path | None) -> None:
        self.name, self.host, self.server_port, self.ca_file = name, host, server_port, ca_file
        self._context = client_context(name, host, server_port, ca_file)
        self.address, self.port = LOOPBACK, 0  # where libcups connects
        self.failure: ConnectionFailed | None = None  # the last connection refused
        self._first: tuple[Streams, float] | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name=f"adminkit-tls-relay-{name}")
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._start(), self._loop).result()
        except BaseException:
            self.close()
            raise

    # -- the caller's side ------------------------------------------------------------
    def close(self) -> None:
        """End every connection and the loop's thread; again: nothing."""
        if self._loop.is_closed():
            return
        if self._loop.is_running():
            done = asyncio.run_coroutine_threadsafe(self._stop(), self._loop)
            with contextlib.suppress(Exception):
                done.result(STOP_SECONDS)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(STOP_SECONDS)
        if not self._thread.is_alive():
            self._loop.close()

    # -- the loop's side --------------------------------------------------------------
    async def _start(self) -> None:
        self._first = (await self._upstream(), time.monotonic())
        self._server = await asyncio.start_server(self._carry, LOOPBACK, 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()
        tasks = asyncio.all_tasks() - {asyncio.current_task()}
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _upstream(self) -> Streams:
        """A TLS connection to the server whose certificate passed, or ConnectionFailed."""
        address = self.host.strip("[]")  # an IPv6 address is written [::1] for libcups
        try:
            streams = await asyncio.wait_for(asyncio.open_connection(
                address, self.server_port, ssl=self._context, server_hostname=address,
                ssl_handshake_timeout=TIMEOUT), TIMEOUT)
        except (OSError, ssl.SSLError, TimeoutError) as exc:
            raise refusal(self.name, self.host, self.server_port, self.ca_file, exc
                          ) from None
        self._writers.add(streams[1])
        return streams

    async def _carry(self, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        """One connection of libcups': to the server over verified TLS, or closed."""
        self._writers.add(writer)
        try:
            up = await self._take_first() or await self._upstream()
        except ConnectionFailed as exc:
            self.failure = exc
            writer.transport.abort()  # nothing read from libcups, nothing sent
            self._writers.discard(writer)
            return
        except asyncio.CancelledError:  # closed meanwhile: _stop ends the transports;
            return  # and asyncio 3.11 logs a cancelled handler as an error
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(_pipe(reader, up[1]), _pipe(up[0], writer))
        self._writers.difference_update((writer, up[1]))

    async def _take_first(self) -> Streams | None:
        first, self._first = self._first, None
        if first is None:
            return None
        streams, made = first
        if time.monotonic() - made <= FRESH and not streams[0].at_eof():
            return streams
        streams[1].transport.abort()
        self._writers.discard(streams[1])
        return None


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until this side ends, then close the other one after what it still has to
    write (libcups never half-closes; the other pipe then ends too)."""
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except OSError:  # ssl.SSLError is one too
        writer.transport.abort()
    else:
        writer.close()
