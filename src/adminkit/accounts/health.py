"""Can we bind to the profile's directory and read its base?"""

from __future__ import annotations

from adminkit.accounts.directory import open_directory
from adminkit.core.config import Profile


def check(profile: Profile) -> str:
    directory = open_directory(profile)
    try:
        return directory.ping()
    finally:
        directory.close()
