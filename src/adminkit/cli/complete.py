"""Shell completion of profile and playbook names, read from the config folder.

Called by Typer's completion (`adminkit --install-completion`) on every Tab: they read
folder listings only (no YAML, no pydantic), and honour a `--config DIR` typed earlier on
the line (or ADMINKIT_CONFIG) as the command itself would.
"""

from __future__ import annotations

from pathlib import Path

import typer


def _config_dir(ctx: typer.Context) -> Path:
    from adminkit.core import paths

    given = ctx.find_root().params.get("config")  # parsed from the line, even while completing
    return Path(given) if given else paths.config_home()


def _names(folder: Path, incomplete: str) -> list[str]:
    try:
        files = sorted(folder.iterdir()) if folder.is_dir() else []
    except OSError:
        return []
    names = {p.stem for p in files
             if p.suffix in (".yaml", ".yml") and not p.name.startswith(".")}
    return sorted(n for n in names if n.startswith(incomplete))


def profiles(ctx: typer.Context, incomplete: str) -> list[str]:
    """Profile names: the config folder's profiles/*.yaml."""
    return _names(_config_dir(ctx) / "profiles", incomplete)


def playbooks(ctx: typer.Context, incomplete: str) -> list[str]:
    """Playbook names: the config folder's own, then the shipped ones (as `run` finds them)."""
    from adminkit.cli.playbook_cmd import search_path
    from adminkit.cli.state import GlobalState

    found: dict[str, None] = {}
    for folder in search_path(GlobalState(config_dir=_config_dir(ctx))):
        found.update(dict.fromkeys(_names(folder, incomplete)))
    return list(found)
