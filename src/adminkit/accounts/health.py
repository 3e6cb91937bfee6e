"""Can we bind to the profile's directory and read its base?"""

from __future__ import annotations

from adminkit.accounts.directory import open_directory
from adminkit.accounts.settings import directory_settings
from adminkit.core.config import Profile
from adminkit.core.health import Probe


def check(profile: Profile) -> str:
    directory = open_directory(profile)
    try:
        return directory.ping()
    finally:
        directory.close()


def probes(profile: Profile) -> list[Probe]:
    cfg = directory_settings(profile)
    return [Probe("directory", cfg.url, lambda: check(profile))] if cfg else []
