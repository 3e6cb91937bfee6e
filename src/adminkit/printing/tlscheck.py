"""What a trusted CUPS server over TLS is: the profile's CA and the server's name.

The certificate is checked against the profile's `ca_file` (or the system's CAs) and
the server's name or address, as Python does for HTTPS; these are the words a refusal
is said in (exit 3, what to fix). `printing/tlsrelay.py` applies them to every
connection libcups makes, since libcups itself takes any certificate.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from adminkit.core.errors import ConfigError, ConnectionFailed

TIMEOUT = 10.0  # connecting and the handshake, together


def where(name: str, host: str, port: int) -> str:
    return f"print server {name} ({host}:{port})"


def client_context(name: str, host: str, port: int, ca_file: Path | None) -> ssl.SSLContext:
    """Verifying context: `ca_file` (None: the system's CAs), the server's name checked."""
    from adminkit.core.files import tls_context

    try:
        return tls_context(ca_file, f"print_servers[{name}].ca_file")
    except ConfigError as exc:
        raise ConfigError(f"{where(name, host, port)}: {exc.message}", hint=exc.hint) from None


def refusal(name: str, host: str, port: int, ca_file: Path | None,
            exc: BaseException) -> ConnectionFailed:
    """The error for a TLS connection to the server that failed or was not trusted."""
    at = where(name, host, port)
    if isinstance(exc, ssl.SSLCertVerificationError):
        which = f"ca_file {ca_file}" if ca_file else "the system's CAs (no ca_file set)"
        return ConnectionFailed(
            f"{at}: its TLS certificate is not trusted: {exc.verify_message} "
            f"(checked against {which})",
            hint="set `ca_file` of this print server in the profile to the CA that signed "
                 f"cupsd's certificate, whose names must include {host}")
    if isinstance(exc, ssl.SSLError):
        return ConnectionFailed(f"{at}: no TLS handshake: {exc.reason or exc}",
                                hint="does the server take IPP over TLS? (cupsd needs a "
                                     "certificate in its ServerKeychain)")
    if isinstance(exc, TimeoutError):
        return ConnectionFailed(f"{at} does not answer: no TLS handshake within "
                                f"{TIMEOUT:g} s", hint="is it up? check `print_servers` "
                                                       "in the profile")
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return ConnectionFailed(f"{at} does not answer: {reason}",
                            hint="is it up? check `print_servers` in the profile")
