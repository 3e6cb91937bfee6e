"""Finding a profile's ticket backend (entry points `adminkit.tickets`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from adminkit.core.config import Profile, load_profile
from adminkit.core.entrypoints import entry_points, load
from adminkit.core.errors import AdminkitError, UsageError
from adminkit.tickets.base import TicketSystem
from adminkit.tickets.outbox import Limits, LimitsOf
from adminkit.tickets.settings import TicketsConfig, allowed_queues, ticket_settings


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


def note_limits(cfg: TicketsConfig | None) -> Limits:
    """The profile's retry limits for notes (the defaults without a tickets section)."""
    if cfg is None:
        return Limits()
    return Limits(attempts=cfg.note_attempts, age=timedelta(hours=cfg.note_max_hours),
                  queues=allowed_queues(cfg, cfg.kind), queue_kind=cfg.kind)


def limits(config_dir: Path | None = None) -> LimitsOf:
    """For the outbox: profile name -> its limits; a profile that no longer loads keeps
    the defaults (its notes then fail when they run out, not at once)."""
    cache: dict[str | None, Limits] = {}

    def of(profile_name: str | None) -> Limits:
        if profile_name not in cache:
            try:
                profile = load_profile(profile_name, config_dir) if profile_name else None
                cache[profile_name] = note_limits(ticket_settings(profile))
            except AdminkitError:
                cache[profile_name] = Limits()
        return cache[profile_name]

    return of
