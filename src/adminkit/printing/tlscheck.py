"""The TLS certificate of a CUPS server, checked by adminkit, since libcups does not.

libcups 2.4 built with GnuTLS (Debian's, Ubuntu's) encrypts IPP but takes whatever
certificate the server shows: it leaves trust to the application, and pycups offers no
way to ask. So for a print server with `tls: true` adminkit makes a TLS handshake of its
own to the same address before libcups connects, and checks the certificate against the
profile's `ca_file` (or the system's CAs) and the server's name or address, as Python
does for HTTPS. A server whose certificate does not pass is never sent a request.
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

from adminkit.core.errors import ConfigError, ConnectionFailed

TIMEOUT = 10.0


def check_certificate(name: str, host: str, port: int, ca_file: Path | None) -> None:
    """Raise ConnectionFailed (exit 3, saying what to fix) unless the server at host:port
    shows a certificate that `ca_file` (None: the system's CAs) vouches for, for `host`."""
    where = f"print server {name} ({host}:{port})"
    try:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"{where}: ca_file {ca_file}: {getattr(exc, 'strerror', None) or exc}",
                          hint="`ca_file` must be a PEM file of the CA that signed the "
                               "server's certificate") from None
    address = host.strip("[]")  # an IPv6 address is written [::1] for libcups
    try:
        with socket.create_connection((address, port), timeout=TIMEOUT) as sock, \
                context.wrap_socket(sock, server_hostname=address):
            pass
    except ssl.SSLCertVerificationError as exc:
        which = f"ca_file {ca_file}" if ca_file else "the system's CAs (no ca_file set)"
        raise ConnectionFailed(
            f"{where}: its TLS certificate is not trusted: {exc.verify_message} "
            f"(checked against {which})",
            hint="set `ca_file` of this print server in the profile to the CA that signed "
                 f"cupsd's certificate, whose names must include {host}") from None
    except ssl.SSLError as exc:
        raise ConnectionFailed(f"{where}: no TLS handshake: {exc.reason or exc}",
                               hint="does the server take IPP over TLS? (cupsd needs a "
                                    "certificate in its ServerKeychain)") from None
    except OSError as exc:
        raise ConnectionFailed(f"{where} does not answer: {exc.strerror or exc}",
                               hint="is it up? check `print_servers` in the profile"
                               ) from None
