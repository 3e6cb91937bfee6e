"""An authenticated call to the profile's ticket system: its backend's `ping`."""

from __future__ import annotations

from adminkit.core.config import Profile
from adminkit.tickets.systems import open_system


def check(profile: Profile) -> str:
    """Open the profile's backend as every other caller does, and ask who is signed in."""
    cfg = profile.tickets
    assert cfg is not None
    system = open_system(profile, cfg.kind)
    try:
        return system.ping()
    finally:
        system.close()
