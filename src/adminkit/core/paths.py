"""Where adminkit keeps its files, following the XDG base directory spec."""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("adminkit.files")


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


def private_dir(folder: Path) -> Path:
    """`folder`, made with every missing parent as 0700 (the XDG spec's mode for them).
    adminkit's own state folder is tightened to 0700 if it is looser; a folder someone
    named (ADMINKIT_JOURNAL's) that exists is left as its owner made it."""
    missing = []
    here = folder
    while not os.path.lexists(here) and here != here.parent:
        missing.append(here)
        here = here.parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o700)
    if folder.absolute() == state_home().absolute():
        tighten(folder, 0o700, "the state folder")
    return folder


def tighten(path: Path, mode: int, what: str) -> None:
    """Take from `path` any permission beyond `mode`, saying so: a journal or a state
    folder that others may read shows who did what to which accounts. A symbolic link
    is not followed; a file of another owner is only warned about."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        return
    now = stat.S_IMODE(info.st_mode)
    if not now & ~mode:
        return
    if info.st_uid != os.geteuid():
        log.warning("%s %s has mode %o and belongs to uid %d: make it %o", what, path, now,
                    info.st_uid, now & mode)
        return
    os.chmod(path, now & mode, follow_symlinks=False)
    log.warning("%s %s had mode %o, open to others; it is now %o", what, path, now, now & mode)
