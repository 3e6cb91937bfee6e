"""httpx hooks that bound what a ticket system's answer may cost: size and time.

httpx reads a whole body into memory, and its timeouts are per read: a server (or a
proxy in front of it) that answers 100 MB, a small gzip that inflates to gigabytes, or a
body dribbled one byte every few seconds would hold a run's memory or its note delivery
without end. Here the body is counted as it arrives, after decompression, and given a
total time; past either limit the read fails as a network error (`httpx.ReadError`),
which the backends already turn into a retry later.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator

import httpx

MAX_BYTES = 64 * 1024 * 1024  # far above any page of notes; far below a machine's memory
MAX_SECONDS = 120.0  # for one request, connect to body (deadline.py); the body alone here
DECODABLE = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def ask_bounded(request: httpx.Request) -> None:
    """Request hook: only encodings `bound` can decode within the limit."""
    request.headers["Accept-Encoding"] = "gzip, deflate"


def bound(response: httpx.Response) -> None:
    """Response hook, before the body is read: the body is read through `Capped`, which
    decodes it (so httpx does not again, unbounded)."""
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("identity", "", *DECODABLE):
        response.close()
        raise httpx.DecodingError(f"the answer is encoded as {encoding[:20]!r}, which "
                                  "adminkit does not read", request=response.request)
    for name in ("Content-Encoding", "Content-Length"):
        response.headers.pop(name, None)
    assert isinstance(response.stream, httpx.SyncByteStream)
    response.stream = Capped(response.stream, DECODABLE.get(encoding), response.request)


class Capped(httpx.SyncByteStream):
    """The body as it arrives, decompressed if need be, up to MAX_BYTES and MAX_SECONDS."""

    def __init__(self, raw: httpx.SyncByteStream, wbits: int | None,
                 request: httpx.Request) -> None:
        self.raw, self.request = raw, request
        self.inflate = zlib.decompressobj(wbits) if wbits is not None else None

    def __iter__(self) -> Iterator[bytes]:
        started, total = time.monotonic(), 0
        for chunk in self.raw:
            for part in self._decoded(chunk):
                total += len(part)
                if total > MAX_BYTES:
                    raise httpx.ReadError(f"the answer is larger than "
                                          f"{MAX_BYTES // 2**20} MiB", request=self.request)
                yield part
            if time.monotonic() - started > MAX_SECONDS:
                raise httpx.ReadTimeout(f"the answer took longer than {MAX_SECONDS:.0f} s "
                                        "to arrive", request=self.request)

    def _decoded(self, chunk: bytes) -> Iterator[bytes]:
        if self.inflate is None:
            yield chunk
            return
        try:
            data = self.inflate.decompress(chunk, 1 << 20)
            while data:
                yield data
                data = self.inflate.decompress(self.inflate.unconsumed_tail, 1 << 20)
        except zlib.error:
            raise httpx.DecodingError("the answer's compressed body is damaged",
                                      request=self.request) from None

    def close(self) -> None:
        self.raw.close()
