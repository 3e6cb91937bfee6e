"""Where adminkit keeps its files, following the XDG base directory spec."""

from __future__ import annotations

import os
from pathlib import Path


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var, "")
    # The spec says relative values are invalid and must be ignored.
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / fallback


def config_home() -> Path:
    """`$XDG_CONFIG_HOME/adminkit`, overridable with `ADMINKIT_CONFIG`."""
    override = os.environ.get("ADMINKIT_CONFIG")
    return Path(override) if override else _xdg("XDG_CONFIG_HOME", ".config") / "adminkit"


def state_home() -> Path:
    """`$XDG_STATE_HOME/adminkit`: the journal and the lab live here."""
    return _xdg("XDG_STATE_HOME", ".local/state") / "adminkit"


def default_journal_path() -> Path:
    override = os.environ.get("ADMINKIT_JOURNAL")
    return Path(override) if override else state_home() / "journal.db"


def default_lab_dir() -> Path:
    override = os.environ.get("ADMINKIT_LAB_DIR")
    return Path(override) if override else state_home() / "lab"
