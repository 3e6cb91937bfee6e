"""Finding a profile's ticket backend (entry points `adminkit.tickets`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from adminkit.core.config import Profile, load_profile
from adminkit.core.entrypoints import entry_points, load
from adminkit.core.errors import UsageError
from adminkit.tickets.base import TicketSystem
from adminkit.tickets.settings import ticket_settings


def open_system(profile: Profile | None, kind: str) -> TicketSystem:
    if kind == "local":
        from adminkit.tickets.local import LocalTickets

        return LocalTickets()
    cfg = ticket_settings(profile)
    if profile is None or cfg is None or cfg.kind != kind:
        raise UsageError(f"no {kind} ticket system in profile "
                         f"{profile.name if profile else '(none)'}")
    found = entry_points("adminkit.tickets")
    if kind not in found:
        raise UsageError(f"no ticket backend for {kind!r}",
                         hint=f"installed: {', '.join(sorted(found)) or 'none'}")
    backend: type[TicketSystem] = load(found[kind])  # type: ignore[assignment]
    system = backend(profile)  # type: ignore[call-arg]
    return system


def opener(config_dir: Path | None = None) -> Callable[[str | None, str], TicketSystem]:
    """For the outbox: (profile name, kind) -> backend, loading the profile by name."""

    def open_by_name(profile_name: str | None, kind: str) -> TicketSystem:
        profile = load_profile(profile_name, config_dir) if profile_name else None
        return open_system(profile, kind)

    return open_by_name
