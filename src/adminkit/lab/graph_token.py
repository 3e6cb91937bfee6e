"""The lab Graph fake's Microsoft identity platform: the v2.0 client-credentials token
endpoint and the OpenID metadata that MSAL reads first.

A token is issued as Entra issues one to a daemon app: `grant_type=client_credentials`,
a scope of `{resource}/.default`, and either the app's client secret or a client
assertion, a JWT signed with the private key of a certificate registered on the app
(RS256 or PS256; the certificate named by `x5t` or `x5t#S256`; `aud` the token endpoint;
`iss` = `sub` = the client id; inside `nbf`..`exp`; a `jti` used once). Errors carry the
AADSTS codes Entra sends, in its OAuth error body.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SKEW = 300  # seconds of clock skew Entra tolerates on nbf/exp


@dataclass
class App:
    client_id: str
    roles: set[str]  # application permissions granted (admin consent given)
    secret: str | None = None
    certificates: list[bytes] = field(default_factory=list)  # PEM, public part


@dataclass
class Token:
    client_id: str
    tenant: str
    roles: frozenset[str]
    expires: float


class OAuthError(Exception):
    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.code, self.description = status, error, code, description

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "error_description": f"AADSTS{self.code}: {self.description}",
                "error_codes": [self.code], "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ"),
                "trace_id": secrets.token_hex(16), "correlation_id": secrets.token_hex(16)}


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Issuer:
    """Apps of one tenant, the tokens given to them, the assertion ids seen."""

    def __init__(self, tenant_id: str, resource: str, lifetime: float = 3599) -> None:
        self.tenant_id = tenant_id
        self.resource = resource.rstrip("/")  # https://graph.microsoft.com
        self.lifetime = lifetime
        self.apps: dict[str, App] = {}
        self.tokens: dict[str, Token] = {}
        self.issued = 0
        self._seen_jti: set[str] = set()
        self._lock = threading.Lock()

    def openid_configuration(self, base: str, tenant: str) -> dict[str, Any]:
        root = f"{base}/{tenant}"
        return {"token_endpoint": f"{root}/oauth2/v2.0/token",
                "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
                "issuer": f"{base}/{self.tenant_id}/v2.0",
                "jwks_uri": f"{base}/{tenant}/discovery/v2.0/keys",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post", "private_key_jwt", "client_secret_basic"],
                "tenant_region_scope": "EU", "cloud_instance_name": "microsoftonline.com"}

    def token(self, tenant: str, form: dict[str, str], endpoint: str) -> dict[str, Any]:
        """Answer a token request (`form`: the POSTed fields); raises OAuthError."""
        if tenant.lower() not in (self.tenant_id.lower(), "organizations"):
            raise OAuthError(400, "invalid_request", 90002,
                             f"Tenant '{tenant}' not found. Check to make sure you have the "
                             "correct tenant ID and are signing into the correct cloud.")
        if form.get("grant_type") != "client_credentials":
            raise OAuthError(400, "unsupported_grant_type", 70003,
                             "The app requested an unsupported grant type.")
        client_id = form.get("client_id", "")
        app = self.apps.get(client_id)
        if app is None:
            raise OAuthError(400, "unauthorized_client", 700016,
                             f"Application with identifier '{client_id}' was not found in the "
                             f"directory '{self.tenant_id}'.")
        scope = form.get("scope", "")
        if scope.split() != [f"{self.resource}/.default"]:
            raise OAuthError(400, "invalid_scope", 1002012,
                             f"The provided value for scope {scope} is not valid. Client "
                             "credential flows must have a scope value with /.default "
                             "suffixed to the resource identifier (application ID URI).")
        if "client_assertion" in form:
            self._check_assertion(app, form, endpoint)
        elif "client_secret" in form:
            if app.secret is None or not secrets.compare_digest(
                    form["client_secret"].encode(), app.secret.encode()):
                raise OAuthError(401, "invalid_client", 7000215,
                                 "Invalid client secret provided. Ensure the secret being "
                                 "sent in the request is the client secret value, not the "
                                 f"client secret ID, for a secret added to app '{client_id}'.")
        else:
            raise OAuthError(401, "invalid_client", 7000218,
                             "The request body must contain the following parameter: "
                             "'client_assertion' or 'client_secret'.")
        access = _b64e(secrets.token_bytes(32))
        with self._lock:
            self.tokens[access] = Token(client_id, self.tenant_id, frozenset(app.roles),
                                        time.time() + self.lifetime)
            self.issued += 1
        return {"token_type": "Bearer", "expires_in": int(self.lifetime),
                "ext_expires_in": int(self.lifetime), "access_token": access}

    def _check_assertion(self, app: App, form: dict[str, str], endpoint: str) -> None:
        from cryptography import x509
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        def bad(code: int, text: str) -> OAuthError:
            return OAuthError(401, "invalid_client", code, text)

        if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
            raise OAuthError(400, "invalid_request", 50027,
                             "client_assertion_type is missing or not jwt-bearer.")
        try:
            head_b64, body_b64, sig_b64 = form["client_assertion"].split(".")
            header = json.loads(_b64d(head_b64))
            claims = json.loads(_b64d(body_b64))
            signature = _b64d(sig_b64)
        except (ValueError, KeyError) as exc:
            raise bad(50027, "JWT token is invalid or malformed.") from exc
        cert = None
        for pem in app.certificates:
            candidate = x509.load_pem_x509_certificate(pem)
            der = candidate.public_bytes(_der())
            if _thumb(header.get("x5t")) == hashlib.sha1(der).digest() or \
                    _thumb(header.get("x5t#S256")) == hashlib.sha256(der).digest():  # noqa: S324
                cert = candidate
        if cert is None:
            raise bad(700027, f"The certificate with identifier used to sign the client "
                              f"assertion is not registered on application. "
                              f"[Reason - The key was not found., Thumbprint of key used by "
                              f"client: '{header.get('x5t')}']")
        alg = header.get("alg")
        key = cert.public_key()
        signed = f"{head_b64}.{body_b64}".encode()
        try:
            if not isinstance(key, rsa.RSAPublicKey):
                raise InvalidSignature
            if alg == "RS256":
                key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
            elif alg == "PS256":
                key.verify(signature, signed, padding.PSS(padding.MGF1(hashes.SHA256()),
                                                          padding.PSS.DIGEST_LENGTH),
                           hashes.SHA256())
            else:
                raise InvalidSignature
        except InvalidSignature:
            raise bad(700027, "Client assertion failed signature validation.") from None
        now = time.time()
        if not (claims.get("nbf", now) - SKEW <= now < claims.get("exp", 0) + SKEW):
            raise bad(700024, "Client assertion is not within its valid time range.")
        if claims.get("aud") != endpoint:
            raise bad(700021, f"Client assertion audience claim does not match Realm issuer "
                              f"(aud '{claims.get('aud')}').")
        if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
            raise bad(700023, "Client assertion application identifier doesn't match "
                              "'client_id' parameter.")
        jti = claims.get("jti")
        with self._lock:
            if not jti or jti in self._seen_jti:
                raise bad(7000222 if jti else 50027, "The provided client assertion has "
                                                     "already been used (jti replayed).")
            self._seen_jti.add(jti)

    def check(self, authorization: str | None) -> Token | None:
        """The token behind an `Authorization: Bearer …` header, if valid now."""
        if not authorization or not authorization.startswith("Bearer "):
            return None
        token = self.tokens.get(authorization[7:])
        if token is None or token.expires < time.time():
            return None
        return token


def _thumb(value: Any) -> bytes | None:
    """A thumbprint header, base64url (RFC 7515) or, as MSAL writes `x5t`, padded base64."""
    if not isinstance(value, str):
        return None
    try:
        return _b64d(value.replace("+", "-").replace("/", "_").rstrip("="))
    except ValueError:
        return None


def _der() -> Any:
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.DER


def app_pem() -> bytes:
    """An RSA key and a self-signed certificate for it: the lab app's credential."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "adminkit lab app")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=3650)).sign(key, hashes.SHA256()))
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()) + cert.public_bytes(
        serialization.Encoding.PEM)


def certificate_of(pem: bytes) -> bytes:
    """The certificate part of a key + certificate PEM (what the app registration holds)."""
    return pem[pem.index(b"-----BEGIN CERTIFICATE-----"):]
