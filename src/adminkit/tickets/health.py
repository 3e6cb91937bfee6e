"""An authenticated call to the profile's ticket system: its backend's `ping`."""

from __future__ import annotations

from adminkit.core.config import Profile
from adminkit.core.health import Probe
from adminkit.tickets.settings import ticket_settings
from adminkit.tickets.systems import open_system


def check(profile: Profile) -> str:
    """Open the profile's backend as every other caller does, and ask who is signed in."""
    cfg = ticket_settings(profile)
    assert cfg is not None
    system = open_system(profile, cfg.kind)
    try:
        return system.ping()
    finally:
        system.close()


def probes(profile: Profile) -> list[Probe]:
    cfg = ticket_settings(profile)
    return [Probe("tickets", cfg.url or cfg.kind, lambda: check(profile))] if cfg else []
