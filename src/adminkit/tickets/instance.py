"""Which ticket-system instance a profile's tickets live in: what a trigger's key names.

Ticket 42 of one customer's Request Tracker is not ticket 42 of another's, while two
profiles that share one instance on purpose mean the same ticket. So the instance is
named by the system itself, never by the profile: an external system by its canonical
base URL (scheme, lowercased host, a port other than the scheme's own, the path without
its trailing slash; never user, password, query or fragment, which may carry a
secret); the embedded store by its file (`tickets/local.default_path`: one per
installation, or wherever ADMINKIT_TICKETS puts it, whichever profile opens it). A
profile whose system has no URL is its own instance. The name is bounded in size.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from adminkit.core.config import Profile
from adminkit.tickets.settings import ticket_settings

MAX_NAME = 120  # longer names keep their start and a digest of the whole


def instance(profile: Profile | None, kind: str) -> str:
    """The instance `kind` tickets of this profile are in: `https://rt.example.com/rt`,
    `file:/var/lib/adminkit/tickets.db`, or `profile:NAME` where nothing better is known."""
    if kind == "local":
        from adminkit.tickets.local import default_path

        return _bounded(f"file:{default_path().expanduser().resolve()}")
    cfg = ticket_settings(profile)
    if cfg is not None and cfg.kind == kind and cfg.url:
        canonical = canonical_url(cfg.url)
        if canonical is not None:
            return _bounded(canonical)
    return _bounded(f"profile:{profile.name if profile is not None else ''}")


def canonical_url(url: str) -> str | None:
    """scheme://host[:port]/path of an http(s) URL (None if it is not one)."""
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host:
        return None
    host = f"[{host}]" if ":" in host else host  # hostname is lowercased already
    default = {"http": 80, "https": 443}[scheme]
    netloc = host if port in (None, default) else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def _bounded(name: str) -> str:
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return f"{name[:MAX_NAME - 17]}#{digest}"
