"""Which of adminkit's optional extras are installed, read from its own package metadata.

`adminkit --version` lists them and `adminkit doctor` checks them: both read the
extras from the installed metadata (`Provides-Extra`, `Requires-Dist`), so an extra
another domain adds to pyproject.toml shows up here without a change.
"""

from __future__ import annotations

import re

DIST = "adminkit"
# Extras that are bundles of the others (`all`) or tooling (`dev`), not features.
BUNDLES = frozenset({"all", "dev"})
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EXTRA = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


class Extra:
    """One extra: the distributions it needs and those of them that are missing.
    (A plain class: `dataclasses` would add a sixth to `--version`'s start-up.)"""

    __slots__ = ("missing", "name", "needs")

    def __init__(self, name: str, needs: tuple[str, ...], missing: tuple[str, ...] = ()
                 ) -> None:
        self.name, self.needs, self.missing = name, needs, missing

    def __repr__(self) -> str:
        return f"Extra({self.name!r}, {self.needs!r}, {self.missing!r})"

    @property
    def installed(self) -> bool:
        return not self.missing


def canonical(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def extras() -> list[Extra]:
    """Every feature extra of the installed adminkit, in name order; [] if adminkit's
    metadata cannot be read (run from a source tree that was never installed)."""
    from importlib import metadata

    try:
        meta = metadata.metadata(DIST)
    except metadata.PackageNotFoundError:
        return []
    needs: dict[str, list[str]] = {name: [] for name in meta.get_all("Provides-Extra") or []}
    for requirement in meta.get_all("Requires-Dist") or []:
        name, extra = _NAME.match(requirement), _EXTRA.search(requirement)
        if name and extra and extra.group(1) in needs and canonical(name.group(1)) != DIST:
            needs[extra.group(1)].append(name.group(1))
    found = []
    for extra_name in sorted(needs):
        if extra_name in BUNDLES:
            continue
        missing = tuple(d for d in needs[extra_name] if not _installed(d))
        found.append(Extra(extra_name, tuple(needs[extra_name]), missing))
    return found


def _installed(dist: str) -> bool:
    from importlib import metadata

    try:
        metadata.version(dist)
    except metadata.PackageNotFoundError:
        return False
    return True


def version_text() -> str:
    """What `adminkit --version` prints: the version, then the extras and Python."""
    import sys

    from adminkit import __version__

    found = extras()
    have = ", ".join(e.name for e in found if e.installed) or "none"
    lacking = [e.name for e in found if not e.installed]
    line = f"extras: {have}" + (f" (not installed: {', '.join(lacking)})" if lacking else "")
    return (f"adminkit {__version__}\n{line}\n"
            f"Python {'.'.join(map(str, sys.version_info[:3]))}\n")
