"""OAuth 2.0 client credentials for an HTTP ticket backend: a fresh bearer token, always.

A fixed access token expires (ServiceNow's after 30 minutes by default) and every note
retried after that fails. The profile holds the client id and secret instead; this
`httpx.Auth` fetches a token from the token endpoint, renews it shortly before it
expires, and once more when a request is answered 401 (revoked, or the clock is off).
The secret travels only in the token request's form body, never in a URL or a message.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator

import httpx

from adminkit.core.errors import AuthenticationFailed, ConnectionFailed
from adminkit.core.secrets import Secret

EARLY = 60.0  # renew this many seconds before the token says it expires


class ClientCredentials(httpx.Auth):
    requires_response_body = True

    def __init__(self, token_url: str, client_id: Secret, client_secret: Secret,
                 what: str) -> None:
        self.token_url, self.what = token_url, what
        self.client_id, self.client_secret = client_id, client_secret
        self.token: str | None = None
        self.expires = 0.0  # time.monotonic() when it is to be renewed
        self.lock = threading.Lock()
        self.fetched = 0  # tokens fetched (tests read it)

    def _token_request(self) -> httpx.Request:
        return httpx.Request("POST", self.token_url, data={
            "grant_type": "client_credentials", "client_id": self.client_id.reveal(),
            "client_secret": self.client_secret.reveal()},
            headers={"Accept": "application/json"})

    def _keep(self, response: httpx.Response) -> None:
        what = f"{self.what}: OAuth token"
        if response.status_code in (400, 401, 403):
            raise AuthenticationFailed(
                f"{what}: the token endpoint refused the client credentials "
                f"({response.status_code})",
                hint="check tickets.client_id and tickets.client_secret, and that the OAuth "
                     "application allows the client_credentials grant")
        if response.status_code != 200:
            raise ConnectionFailed(f"{what}: the token endpoint answered "
                                   f"{response.status_code}")
        try:
            data = response.json()
            token, lifetime = str(data["access_token"]), float(data.get("expires_in", 1800))
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            raise ConnectionFailed(f"{what}: no access_token in the token endpoint's answer") \
                from None
        Secret(token)  # known to `redact`, like the client secret
        self.token = token
        self.expires = time.monotonic() + max(0.0, lifetime - EARLY)
        self.fetched += 1

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        with self.lock:
            if self.token is None or time.monotonic() >= self.expires:
                self._keep((yield self._token_request()))
            used = self.token
        request.headers["Authorization"] = f"Bearer {used}"
        response = yield request
        if response.status_code != 401:
            return
        with self.lock:
            if self.token == used:  # nobody renewed it meanwhile
                self._keep((yield self._token_request()))
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request
