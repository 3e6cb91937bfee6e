"""Which Debian packages an install added, upgraded or removed, and a short account of it.

The answer comes from dpkg's own database, read before and after the install with
`dpkg-query`, not from apt's progress messages: those are translated and reworded
between releases, the database is not.
"""

from __future__ import annotations

import subprocess
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

# One line per package dpkg knows: name (with :arch for multi-arch "same" packages),
# version, and the three-letter status (desired, current, error), e.g. "ii ".
QUERY_FORMAT = "${binary:Package}\t${Version}\t${db:Status-Abbrev}\n"
# Current-state letters of a package that is not on the system (only known to dpkg):
# n = not installed, c = only its configuration files are left.
ABSENT = frozenset("nc")
SHOWN = 6  # names listed in a summary line before "and N more"


@dataclass(frozen=True)
class PackageChanges:
    installed: tuple[str, ...] = ()  # new on the system, sorted
    upgraded: tuple[str, ...] = ()  # present before, another version now
    removed: tuple[str, ...] = ()  # present before, gone now (apt removed a conflict)

    def __bool__(self) -> bool:
        return bool(self.installed or self.upgraded or self.removed)


def parse_versions(output: str) -> dict[str, str]:
    """Package -> version for every package present, from `dpkg-query -W -f QUERY_FORMAT`."""
    versions = {}
    for line in output.splitlines():
        fields = line.split("\t")
        if len(fields) != 3:
            continue
        name, version, status = fields
        if len(status) >= 2 and status[1] not in ABSENT:
            versions[name] = version
    return versions


def installed_versions() -> dict[str, str]:
    out = subprocess.run(["dpkg-query", "-W", "-f", QUERY_FORMAT], capture_output=True,
                         text=True, check=False).stdout
    return parse_versions(out)


def changes(before: Mapping[str, str], after: Mapping[str, str]) -> PackageChanges:
    return PackageChanges(
        installed=tuple(sorted(after.keys() - before.keys())),
        upgraded=tuple(sorted(p for p in after.keys() & before.keys() if after[p] != before[p])),
        removed=tuple(sorted(before.keys() - after.keys())),
    )


def summary(found: PackageChanges, requested: Collection[str] = ()) -> list[str]:
    """A line each for installed, upgraded and removed packages; short, not exhaustive.

    New packages are named when they were asked for; the dependencies apt pulled in
    are only counted (the install log lists them all).
    """
    lines = []
    if found.installed:
        names = [_bare(p) for p in found.installed]
        asked = [n for n in names if n in requested] or names
        deps = len(names) - len(asked)
        tail = f" (+{deps} {'dependency' if deps == 1 else 'dependencies'})" if deps else ""
        lines.append(f"installed {_count(names)}: {listing(asked)}{tail}")
    if found.upgraded:
        lines.append(f"upgraded {_count(found.upgraded)}: "
                     f"{listing([_bare(p) for p in found.upgraded])}")
    if found.removed:
        lines.append(f"removed {_count(found.removed)}: "
                     f"{listing([_bare(p) for p in found.removed])}")
    return lines


def _bare(package: str) -> str:
    """`libc6:amd64` -> `libc6`: the architecture only matters to dpkg."""
    return package.partition(":")[0]


def _count(items: Sequence[str]) -> str:
    return f"{len(items)} package{'' if len(items) == 1 else 's'}"


def listing(names: Sequence[str]) -> str:
    """Names, comma-separated, the first few only."""
    if len(names) <= SHOWN:
        return ", ".join(names)
    return ", ".join(names[:SHOWN - 1]) + f" and {len(names) - SHOWN + 1} more"
