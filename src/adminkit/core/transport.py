"""One rule for every connection that carries a credential or a password.

Without TLS it is refused, unless the system is on this machine (loopback: the lab)
or the profile says `insecure: true` for that system, which then warns on every run.
A message that carries a new password needs TLS always: neither loopback nor
`insecure` makes plain text acceptable for it.
"""

from __future__ import annotations

import ipaddress
import logging

from adminkit.core.errors import ConfigError

log = logging.getLogger("adminkit.transport")


def is_loopback(host: str | None) -> bool:
    """`localhost`, 127.0.0.0/8 or ::1; a name other than localhost is never trusted to be."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_tls(system: str, where: str, host: str | None, *, tls: bool, insecure: bool,
                carries: str, fix: str) -> None:
    """Refuse to send `carries` (what would travel in clear) to `where` without TLS.

    `system` names the profile section (for `insecure: true`), `fix` says how to get TLS.
    """
    if tls or is_loopback(host):
        return
    if not insecure:
        raise ConfigError(f"{system} {where}: {carries} would travel in clear (no TLS)",
                          hint=f"{fix}; only if the network is trusted, set "
                               f"`insecure: true` under {system} in the profile")
    log.warning("%s %s: sending %s WITHOUT TLS (insecure: true in the profile)",
                system, where, carries)
