"""The Entra profile's settings and the app's access token (client credentials).

The profile's `directory` section for `kind: entra`:

    url: https://graph.microsoft.com/v1.0   # or a national cloud's Graph endpoint
    base_dn: <tenant id>                     # the tenant (GUID or its initial domain)
    bind_user: <application (client) id>
    password: file:/etc/adminkit/acme-app.pem   # the app's certificate + key (PEM), or
                                                # its client secret with credential: secret
    upn_suffix: acme.example                 # the domain of new users' UPNs
    options: {credential: certificate, authority: https://login.microsoftonline.com}

Inside a run the token comes from azure-identity (`CertificateCredential` or
`ClientSecretCredential`, async), once for every worker, renewed before it expires.
Read-only commands fetch it with one httpx POST (`light_token`, the same OAuth request)
so that `account show` never imports azure-identity. Neither the secret nor the token
is ever logged or put in an error.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field
from pydantic import ValidationError as PydanticError

from adminkit.accounts.settings import DirectoryConfig
from adminkit.core.config import Settings
from adminkit.core.errors import AuthenticationFailed, ConfigError, ConnectionFailed
from adminkit.core.secrets import Secret

if TYPE_CHECKING:
    import asyncio

# Graph host -> its sign-in authority (the national clouds as Microsoft lists them)
AUTHORITIES = {
    "graph.microsoft.com": "https://login.microsoftonline.com",
    "graph.microsoft.us": "https://login.microsoftonline.us",
    "dod-graph.microsoft.us": "https://login.microsoftonline.us",
    "microsoftgraph.chinacloudapi.cn": "https://login.chinacloudapi.cn",
}
KNOWN_AUTHORITIES = frozenset(urlsplit(a).hostname for a in AUTHORITIES.values())
RENEW_BEFORE = 300.0  # seconds before expiry a token is renewed
HINTS = {
    7000215: "the client secret is wrong or expired: make a new one in the app "
             "registration (Certificates & secrets) and update the profile's secret",
    700016: "no such application in this tenant: check bind_user (the application's "
            "client id) and base_dn (the tenant id)",
    90002: "no such tenant: check base_dn (the tenant id) and the cloud (url, authority)",
    700027: "the certificate is not registered on the app, or the key does not match it: "
            "upload the certificate to the app registration",
    700024: "the client assertion's time is off: check this machine's clock",
    1002012: "the scope is wrong: check the profile's Graph url",
}


class EntraOptions(Settings):
    credential: Literal["certificate", "secret"] = Field(
        "certificate", description="what `password` holds: the app's certificate and private "
                                   "key (PEM), or its client secret")
    authority: str | None = Field(None, description="sign-in endpoint; default: the one of "
                                                    "the Graph url's cloud")
    resource: str | None = Field(None, description="Graph's application ID URI, the token's "
                                                   "scope; default: the url's scheme and host")
    concurrency: int = Field(4, ge=1, le=16, description="$batch posts in flight at once")
    linger: float = Field(0.005, ge=0, le=1, description="seconds a write waits for others "
                                                         "to join its $batch")
    restore_privileged: bool = Field(
        False, description="let `account restore` run though this app holds a privileged "
                           "directory role (Graph shows no deleted user's roles, so such an "
                           "app could bring back an administrator)")


@dataclass(frozen=True)
class EntraSettings:
    graph: str  # https://graph.microsoft.com/v1.0
    resource: str  # https://graph.microsoft.com
    authority: str
    tenant_id: str
    client_id: str
    domain: str
    certificate: bool
    ca_file: Path | None
    timeout: float
    concurrency: int
    linger: float
    restore_privileged: bool = False

    @property
    def token_url(self) -> str:
        return f"{self.authority}/{self.tenant_id}/oauth2/v2.0/token"

    @property
    def scope(self) -> str:
        return f"{self.resource}/.default"


def settings_of(cfg: DirectoryConfig) -> EntraSettings:
    where = "the profile's directory section"
    try:
        options = EntraOptions.model_validate(cfg.options)
    except PydanticError as exc:
        raise ConfigError(f"{where}: options: {exc.errors()[0]['msg']} "
                          f"({'.'.join(map(str, exc.errors()[0]['loc']))})") from None
    graph = cfg.url.rstrip("/")
    parts = urlsplit(graph)
    if parts.scheme != "https" or not parts.hostname or not parts.path.endswith("/v1.0"):
        raise ConfigError(f"{where}: url {cfg.url!r} is not a Microsoft Graph v1.0 endpoint",
                          hint="https://graph.microsoft.com/v1.0, or your national cloud's")
    authority = (options.authority or AUTHORITIES.get(parts.hostname, "")).rstrip("/")
    if not authority.startswith("https://"):
        raise ConfigError(f"{where}: no sign-in authority known for {parts.hostname}",
                          hint="set options.authority (https://login.microsoftonline.com …)")
    if not cfg.upn_suffix:
        raise ConfigError(f"{where}: upn_suffix is required for Entra (the domain of new "
                          "users' UPNs)")
    # Graph's next links name its host in lower case, without the default port: the
    # endpoint is written the same way, or every next page would look like another host's
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"{where}: url {cfg.url!r} has no valid port") from None
    netloc = host if port in (None, 443) else f"{host}:{port}"
    graph = f"https://{netloc}{parts.path.rstrip('/')}"
    resource = (options.resource or f"https://{netloc}").rstrip("/")
    return EntraSettings(graph=graph, resource=resource,
                         authority=authority, tenant_id=cfg.base_dn, client_id=cfg.bind_user,
                         domain=cfg.upn_suffix.lstrip("@"),
                         certificate=options.credential == "certificate",
                         ca_file=cfg.ca_file, timeout=cfg.timeout,
                         concurrency=options.concurrency, linger=options.linger,
                         restore_privileged=options.restore_privileged)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def certificate_der(pem: bytes) -> bytes:
    """The DER of the first certificate in a PEM (its SHA-1 is the `x5t` thumbprint),
    without parsing X.509: `account show` need not import it."""
    begin, end = b"-----BEGIN CERTIFICATE-----", b"-----END CERTIFICATE-----"
    start = pem.find(begin)
    stop = pem.find(end, start)
    if start < 0 or stop < 0:
        raise ValueError("no certificate in the PEM")
    return base64.b64decode(b"".join(pem[start + len(begin):stop].split()), validate=True)


def _load_key(pem: bytes) -> Any:
    """The app's key, through cryptography's own `load_pem_private_key` as its Rust
    binding names it: importing `serialization` for it would import its SSH and PKCS#12
    parsers too (a fifth of a certificate `account show`; tests/unit/test_startup_hotpath.py
    checks that it is the same function). A cryptography release without that name, or
    whose function takes other arguments, falls back to the public one. The profile's own
    key file: the costly RSA consistency check (a tenth of a second) guards against
    hostile keys, which this is not."""
    try:
        from cryptography.hazmat.bindings._rust import openssl

        return openssl.keys.load_pem_private_key(pem, password=None,
                                                 unsafe_skip_rsa_key_validation=True)
    except (ImportError, AttributeError, TypeError):  # another layout or signature
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        return load_pem_private_key(pem, password=None, unsafe_skip_rsa_key_validation=True)


def client_assertion(pem: bytes, settings: EntraSettings) -> str:
    """The RS256 JWT that proves the app holds its certificate's key (RFC 7523)."""
    import binascii

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    try:
        der = certificate_der(pem)
        key = _load_key(pem)
    except (ValueError, TypeError, binascii.Error):  # TypeError: the key is encrypted
        raise ConfigError("the app's credential is not a PEM holding a certificate and its "
                          "unencrypted private key",
                          hint="or set options.credential: secret for a client secret") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError("Entra app certificates use RSA keys; this key is not RSA")
    now = int(time.time())
    header = {"alg": "RS256", "typ": "JWT", "x5t": _b64(hashlib.sha1(der).digest())}  # noqa: S324
    claims = {"aud": settings.token_url, "iss": settings.client_id, "sub": settings.client_id,
              "jti": str(uuid.uuid4()), "nbf": now, "iat": now, "exp": now + 600}
    signed = ".".join(_b64(json.dumps(part, separators=(",", ":")).encode())
                      for part in (header, claims))
    signature = key.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signed}.{_b64(signature)}"


def refused(code: int | None, description: str) -> AuthenticationFailed:
    first = description.splitlines()[0] if description else "no reason given"
    return AuthenticationFailed(f"Entra ID refused the app's sign-in: {first}",
                                hint=HINTS.get(code or 0, "check the app registration, its "
                                               "credential and the tenant id"))


def light_token(post: Callable[[str, dict[str, str]], tuple[int, Any]],
                settings: EntraSettings, secret: Secret) -> tuple[str, float]:
    """(access token, expiry): one client-credentials request, sent by `post` (a form
    POST answering (status, parsed JSON))."""
    form = {"client_id": settings.client_id, "scope": settings.scope,
            "grant_type": "client_credentials"}
    if settings.certificate:
        form["client_assertion_type"] = ("urn:ietf:params:oauth:client-assertion-type:"
                                         "jwt-bearer")
        form["client_assertion"] = client_assertion(secret.reveal().encode(), settings)
    else:
        form["client_secret"] = secret.reveal()
    status, body = post(settings.token_url, form)
    body = body if isinstance(body, dict) else {}
    if status != 200 or "access_token" not in body:
        codes = body.get("error_codes")
        code = codes[0] if isinstance(codes, list) and codes and isinstance(codes[0], int) \
            else None
        raise refused(code, str(body.get("error_description") or status))
    token, lifetime = body["access_token"], body.get("expires_in", 3599)
    # a token goes into a header: printable ASCII without spaces (RFC 6750's b64token)
    if not isinstance(token, str) or not token or not all("!" <= ch <= "~" for ch in token) \
            or isinstance(lifetime, bool) or not isinstance(lifetime, (int, float, str)):
        raise refused(None, "the sign-in endpoint's answer holds no usable access token")
    try:
        expires = time.time() + float(lifetime)
    except ValueError:
        raise refused(None, "the sign-in endpoint's answer holds no usable token "
                            "lifetime") from None
    return token, expires


class TokenSource:
    """The run's token from azure-identity, shared by every worker (on the loop)."""

    def __init__(self, settings: EntraSettings, secret: Secret) -> None:
        self.settings = settings
        self._secret = secret
        self._credential: Any = None
        self._token: tuple[str, float] | None = None
        self._lock: asyncio.Lock | None = None
        self.fetched = 0

    def _make(self) -> Any:
        from azure.identity.aio import CertificateCredential, ClientSecretCredential

        s = self.settings
        common: dict[str, Any] = {
            "authority": s.authority,
            "disable_instance_discovery": urlsplit(s.authority).hostname
            not in KNOWN_AUTHORITIES,
            # the profile's timeout, not azure-core's 300 s: a sign-in endpoint that does
            # not answer must not hold a run for minutes
            "connection_timeout": s.timeout, "read_timeout": s.timeout}
        if s.ca_file is not None:
            from adminkit.core.files import checked_path

            common["connection_verify"] = checked_path(s.ca_file, "directory.ca_file")
        if s.certificate:
            return CertificateCredential(s.tenant_id, s.client_id,
                                         certificate_data=self._secret.reveal().encode(),
                                         **common)
        return ClientSecretCredential(s.tenant_id, s.client_id, self._secret.reveal(),
                                      **common)

    async def get(self) -> str:
        import asyncio

        if self._token is not None and self._token[1] > time.time() + RENEW_BEFORE:
            return self._token[0]
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._token is None or self._token[1] <= time.time() + RENEW_BEFORE:
                self._token = await self._fetch()
        return self._token[0]

    async def _fetch(self) -> tuple[str, float]:
        from azure.core.exceptions import (
            ClientAuthenticationError,
            ServiceRequestError,
            ServiceResponseError,
        )

        if self._credential is None:
            try:
                self._credential = self._make()
            except ValueError:
                raise ConfigError("the app's credential is not a PEM holding a certificate "
                                  "and its unencrypted private key") from None
        try:
            token = await self._credential.get_token(self.settings.scope)
        except ClientAuthenticationError as exc:
            text = str(exc.message or exc)
            code = next((int(part[6:].rstrip(":")) for part in text.split()
                         if part.startswith("AADSTS") and part[6:].rstrip(":").isdigit()),
                        None)
            start = text.find("AADSTS")
            raise refused(code, text[start:] if start >= 0 else text) from None
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise ConnectionFailed(f"cannot reach the sign-in endpoint "
                                   f"{self.settings.authority}: {type(exc).__name__}") from None
        self.fetched += 1
        return token.token, float(token.expires_on)

    async def close(self) -> None:
        if self._credential is not None:
            await self._credential.close()
