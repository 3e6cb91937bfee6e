"""Shell completion of profile and playbook names, read from the config folder.

Called by Typer's completion (`adminkit --install-completion`) on every Tab: they read
folder listings only (no YAML, no pydantic), and honour a `--config DIR` typed earlier on
the line (or ADMINKIT_CONFIG) as the command itself would.
"""

from __future__ import annotations

import re
from pathlib import Path

import typer


def _config_dir(ctx: typer.Context) -> Path:
    from adminkit.core import paths

    given = ctx.find_root().params.get("config")  # parsed from the line, even while completing
    return Path(given) if given else paths.config_home()


# core.config.PROFILE_NAME (a test holds them equal): importing core.config would load
# pydantic on every Tab.
PROFILE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}\Z")
# A playbook name offered is one word a shell keeps whole and never mistakes for an
# option or expands: a file named `$(...)` or `a b` is still run by its path, not offered.
PLAYBOOK_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*\Z")


def _names(folder: Path, incomplete: str, suffixes: tuple[str, ...],
           name: re.Pattern[str]) -> list[str]:
    """The names of `folder`'s regular files (or links to one) with one of `suffixes`."""
    try:
        files = sorted(folder.iterdir()) if folder.is_dir() else []
        names = {p.stem for p in files
                 if p.suffix in suffixes and name.match(p.stem) and p.is_file()}
    except OSError:
        return []
    return sorted(n for n in names if n.startswith(incomplete))


def profiles(ctx: typer.Context, incomplete: str) -> list[str]:
    """Profile names: the config folder's profiles/*.yaml, those `-p` accepts."""
    return _names(_config_dir(ctx) / "profiles", incomplete, (".yaml",), PROFILE_NAME)


def playbooks(ctx: typer.Context, incomplete: str) -> list[str]:
    """Playbook names: the config folder's own, then the shipped ones (as `run` finds them)."""
    from adminkit.cli.playbook_cmd import search_path
    from adminkit.cli.state import GlobalState

    found: dict[str, None] = {}
    for folder in search_path(GlobalState(config_dir=_config_dir(ctx))):
        found.update(dict.fromkeys(_names(folder, incomplete, (".yaml", ".yml"),
                                          PLAYBOOK_NAME)))
    return list(found)
