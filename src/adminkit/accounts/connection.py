"""One bound ldap3 connection per profile, with TLS required for password binds.

Rules (DESIGN, security): LDAPS or StartTLS with certificate validation for any
bind with a password; plain LDAP only with the profile's explicit `insecure: true`,
which is logged on every connect. Errors come back as adminkit errors that name
the server and say what to check.
"""

from __future__ import annotations

import contextlib
import logging
import math
import ssl
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from adminkit.accounts.ldaperrors import bind_error
from adminkit.accounts.settings import DirectoryConfig
from adminkit.core.errors import ConfigError, ConnectionFailed
from adminkit.core.secrets import Secret

if TYPE_CHECKING:
    import ldap3

log = logging.getLogger("adminkit.accounts")
RECONNECT_TRIES = 3
RECONNECT_PAUSE = 1


def endpoint(cfg: DirectoryConfig) -> tuple[str, int, bool]:
    url = urlparse(cfg.url)
    if url.scheme not in ("ldap", "ldaps") or not url.hostname:
        raise ConfigError(f"directory url {cfg.url!r}: expected ldaps://host[:port] or "
                          "ldap://host[:port]")
    use_ssl = url.scheme == "ldaps"
    return url.hostname, url.port or (636 if use_ssl else 389), use_ssl


def connect(cfg: DirectoryConfig, password: Secret) -> ldap3.Connection:
    import ldap3
    from ldap3.core import exceptions as lexc

    # Bounded: ldap3's default retries a dead server forever, 2 s apart.
    ldap3.set_config_parameter("RESTARTABLE_TRIES", RECONNECT_TRIES)
    ldap3.set_config_parameter("RESTARTABLE_SLEEPTIME", RECONNECT_PAUSE)
    host, port, use_ssl = endpoint(cfg)
    if not use_ssl and not cfg.starttls:
        if not cfg.insecure:
            raise ConfigError(
                f"directory {cfg.url}: a password bind without TLS would send the password "
                "in clear",
                hint="use ldaps://, or set starttls: true; `insecure: true` only for a lab")
        log.warning("directory %s: binding WITHOUT TLS (insecure: true in the profile)", cfg.url)
    tls = ldap3.Tls(ca_certs_file=str(cfg.ca_file) if cfg.ca_file else None,
                    validate=ssl.CERT_REQUIRED, version=ssl.PROTOCOL_TLS_CLIENT)
    server = ldap3.Server(host, port=port, use_ssl=use_ssl, tls=tls,
                          connect_timeout=cfg.timeout, get_info=ldap3.NONE)
    # RESTARTABLE: a connection the server or the network dropped is opened and bound
    # again, and the operation retried, a few times, before an error reaches the action.
    conn = ldap3.Connection(server, user=cfg.bind_user, password=password.reveal(),
                            receive_timeout=math.ceil(cfg.timeout), auto_referrals=False,
                            raise_exceptions=False, read_only=False,
                            client_strategy=ldap3.RESTARTABLE)
    where = f"{host}:{port}"
    try:
        conn.open()
        _no_delay(conn)
        if cfg.starttls and not use_ssl and not conn.start_tls():
            raise ConnectionFailed(f"StartTLS with {where} failed: {conn.result}")
        bound = conn.bind()
    except lexc.LDAPSocketOpenError as exc:
        raise ConnectionFailed(f"cannot reach the directory at {where}: {_reason(exc)}",
                               hint=_tls_hint(exc, cfg)) from None
    except lexc.LDAPStartTLSError as exc:
        raise ConnectionFailed(f"StartTLS with {where} failed: {_reason(exc)}",
                               hint=_tls_hint(exc, cfg)) from None
    except lexc.LDAPException as exc:
        raise ConnectionFailed(f"directory {where}: {_reason(exc)}") from None
    if not bound:
        result = dict(conn.result)
        conn.unbind()
        raise bind_error(result, cfg.bind_user)
    return conn


def _no_delay(conn: ldap3.Connection) -> None:
    """Send each request at once. With Nagle's algorithm a request written in two pieces
    (TLS does that to a bind) waits for the server's delayed ACK: 40 ms a connection."""
    import socket

    with contextlib.suppress(OSError, AttributeError):
        conn.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _reason(exc: Exception) -> str:
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return "the server's TLS certificate could not be verified"
    if "doesn't match" in text or "hostname" in text.lower():
        return "the server's certificate does not match its name"
    if "Connection refused" in text or "refused" in text:
        return "connection refused"
    if "timed out" in text:
        return "timed out"
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _tls_hint(exc: Exception, cfg: DirectoryConfig) -> str:
    if "certif" in str(exc).lower():
        return ("set ca_file in the profile to the CA that signed the directory's certificate"
                if cfg.ca_file is None else f"is {cfg.ca_file} the CA that signed it?")
    return "check the url and that the directory is up (`adminkit profile check`)"


def search_one(conn: ldap3.Connection, base: str, flt: str,
               attributes: list[str]) -> dict[str, Any] | None:
    """The single entry matching `flt` (already escaped) under `base`, or None."""
    import ldap3

    conn.search(base, flt, ldap3.SUBTREE, attributes=attributes, size_limit=2)
    entries = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
    if not entries:
        return None
    if len(entries) > 1:
        raise ConnectionFailed(f"more than one entry matches {flt} under {base}")
    entry = entries[0]
    return {"dn": entry["dn"], **{k: v for k, v in entry["attributes"].items()}}
