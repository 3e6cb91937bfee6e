"""Entry points of the installed distributions, found in about a millisecond.

`importlib.metadata.entry_points()` costs 90-170 ms here (it imports the e-mail parser
and builds every distribution's metadata), which `adminkit --help` and every command
that loads a profile would pay. Entry points live in one small INI file per
distribution (`*.dist-info/entry_points.txt`, `*.egg-info/entry_points.txt`) on
sys.path: this module reads only those files. tests/unit/test_entrypoints.py holds it
to importlib.metadata's answers for every group of every installed distribution.
"""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType

_found: dict[str, dict[str, str]] | None = None  # group -> name -> "module:attr"
# (group, name) -> the distributions that both name it, and their values
_clashes: dict[tuple[str, str], list[tuple[str, str]]] = {}
OWN = "adminkit."  # groups where a plug-in may not stand in for another's entry point


def entry_points(group: str) -> dict[str, str]:
    """Name -> value ("module:attribute") of the entry points in `group`; where two
    distributions name the same entry point, the one first on sys.path wins, as
    importlib.metadata has it. In adminkit's own groups that is refused instead: a
    plug-in that took over `ad` or `accounts` would do so silently, by path order."""
    global _found
    if _found is None:
        _found = _scan()
    if group.startswith(OWN):
        _refuse_clashes(group)
    return dict(_found.get(group, {}))


def _refuse_clashes(group: str) -> None:
    from adminkit.core.errors import ConfigError

    for (where, name), claims in sorted(_clashes.items()):
        if where == group:
            who = " and ".join(f"{dist} ({value})" for dist, value in claims)
            raise ConfigError(f"two installed packages both provide {name!r} in {group}: "
                              f"{who}", hint="uninstall one of them; a plug-in may add "
                                             "names, not replace another's")


def load(value: str) -> object:
    """What an entry point's value names: `module:attr.sub` (or just a module)."""
    module, _, attribute = value.partition(":")
    found: object = importlib.import_module(module.strip())
    for part in attribute.strip().split(".") if attribute.strip() else ():
        found = getattr(found, part)
    return found


_LOADER = "pydantic.plugin._loader"


def no_pydantic_plugin_scan() -> None:
    """Spare pydantic its plug-in scan when no distribution has a `pydantic` entry point.

    pydantic looks for plug-ins as it builds its first validator: its loader imports
    importlib.metadata (and the e-mail parser) and reads every distribution's metadata,
    a tenth of `account show`'s start. This module has the answer already. Where there is
    no such entry point, pydantic's loader is a stand-in that answers "none", as the real
    one then would; otherwise (or once the real one is loaded) pydantic looks itself.
    Called before typer coerces options (cli/main.py) and by core.config.
    tests/unit/test_startup_hotpath.py holds the stand-in to the real loader's names."""
    if _LOADER in sys.modules or entry_points("pydantic") or not _sees_every_path():
        return
    stand_in = ModuleType(_LOADER, "pydantic's plug-in loader where none is installed")
    stand_in.PYDANTIC_ENTRY_POINT_GROUP = "pydantic"  # type: ignore[attr-defined]
    stand_in._plugins = {}  # type: ignore[attr-defined]
    stand_in._loading_plugins = False  # type: ignore[attr-defined]
    stand_in.get_plugins = tuple  # type: ignore[attr-defined]  # get_plugins() -> ()
    sys.modules[_LOADER] = stand_in


def _sees_every_path() -> bool:
    """Whether `_scan` reads every sys.path entry importlib.metadata does: not a zip
    archive or an `.egg` (whose metadata is in EGG-INFO), where a plug-in may be."""
    return not any(folder.lower().endswith(".egg") or os.path.isfile(folder)
                   for folder in sys.path if folder)


def forget() -> None:
    """Read the files again next time (a test that installs a distribution at run time)."""
    global _found
    _found = None
    _clashes.clear()


def _scan() -> dict[str, dict[str, str]]:
    groups: dict[str, dict[str, str]] = {}
    owner: dict[tuple[str, str], str] = {}
    seen: set[str] = set()
    for folder in sys.path:
        try:
            listing = sorted(os.scandir(folder or "."), key=lambda e: e.name)
        except OSError:
            continue
        for entry in listing:
            if not entry.name.endswith((".dist-info", ".egg-info")):
                continue
            name = _normalize(entry.name.rsplit(".", 1)[0].split("-", 1)[0])
            if name in seen:  # an earlier folder on sys.path holds this distribution
                continue
            seen.add(name)
            try:
                with open(os.path.join(entry.path, "entry_points.txt"), encoding="utf-8") as f:
                    text = f.read()
            except OSError:
                continue
            for group, items in _parse(text).items():
                for key, value in items.items():
                    first = groups.setdefault(group, {}).setdefault(key, value)
                    if owner.setdefault((group, key), name) != name and first != value:
                        claims = _clashes.setdefault(
                            (group, key), [(owner[(group, key)], first)])
                        claims.append((name, value))
    return groups


def _normalize(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def _parse(text: str) -> dict[str, dict[str, str]]:
    """The INI subset entry_points.txt uses: `[group]` lines and `name = value` lines."""
    parsed: dict[str, dict[str, str]] = {}
    group: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            group = parsed.setdefault(line[1:-1].strip(), {})
            continue
        key, sep, value = line.partition("=")
        if group is not None and sep:
            group.setdefault(key.strip(), value.strip())
    return parsed
