"""HTTPS for Entra's light path with the standard library only (http.client, ssl, json).

`account show` is typed all day: importing httpx alone costs about as much as the
requests it makes. One keep-alive connection per host (Graph, the sign-in endpoint),
certificates verified against the profile's CA or the system's, every request bounded
by the profile's timeout.
"""

from __future__ import annotations

import http.client
import json
import ssl
from typing import Any
from urllib.parse import urlsplit


class LightHttps:
    def __init__(self, context: ssl.SSLContext, timeout: float) -> None:
        self.context, self.timeout = context, timeout
        self._conns: dict[str, http.client.HTTPSConnection] = {}

    def _conn(self, netloc: str) -> http.client.HTTPSConnection:
        conn = self._conns.get(netloc)
        if conn is None:
            parts = urlsplit(f"//{netloc}")
            conn = http.client.HTTPSConnection(parts.hostname or netloc, parts.port,
                                               timeout=self.timeout, context=self.context)
            self._conns[netloc] = conn
        return conn

    def request(self, method: str, url: str, *, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
        """(status, headers, parsed JSON or None). OSError when the host is unreachable
        or the connection broke; a GET on a connection the server had closed is sent
        again once on a new one (it did not reach the server)."""
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        for attempt in (0, 1):
            conn = self._conn(parts.netloc)
            try:
                conn.request(method, target, body=body, headers=headers or {})
                response = conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn.close()
                self._conns.pop(parts.netloc, None)
                if attempt == 0 and method == "GET":
                    continue
                raise
            except (http.client.HTTPException, OSError):
                conn.close()
                self._conns.pop(parts.netloc, None)
                raise
            found = {k.lower(): v for k, v in response.getheaders()}
            return response.status, found, _parse(data)
        raise AssertionError("unreachable")

    def close(self) -> None:
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()


def _parse(data: bytes) -> Any:
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return {"error": {"code": "NonJsonAnswer", "message": data[:200].decode(errors="replace")}}
