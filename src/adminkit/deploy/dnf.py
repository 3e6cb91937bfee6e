"""dnf (and rpm) as a `PackageManager`: argument lists to send and parsers for the answers.

Versions are `[EPOCH:]VERSION-RELEASE` as dnf prints them (`%{evr}`): a pinned install
names the release too, so what is read back compares equal to what was asked. The
queries run as root where sudo is allowed: Debian's rpm keeps a database per user, and
the cache (`-C`) is root's. Names only ever travel as arguments (`"$@"` after `--`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from adminkit.core.errors import ValidationError
from adminkit.deploy.apt import REBOOT_FLAG, REBOOT_MARK
from adminkit.deploy.backend import PackageSpec, PackageState, Update

NAME = re.compile(r"^[A-Za-z0-9_+][A-Za-z0-9._+-]{0,127}\Z")
VERSION = re.compile(r"^([0-9]+:)?[A-Za-z0-9._+~^]+-[A-Za-z0-9._+~^]+\Z")
FORMAT = r"%{name}\t%{evr}"
LATEST_MARK = "--adminkit-latest--"
ALL_MARK = "--adminkit-all--"
NO_DNF = 3
# One round trip: installed, newest offered, every version offered, the reboot flag.
QUERY = ("command -v dnf >/dev/null 2>&1 || exit 3; "
         'dnf -q -C repoquery --installed --qf "$0" -- "$@" 2>/dev/null; '
         f"echo {LATEST_MARK}; "
         'dnf -q -C repoquery --latest-limit 1 --qf "$0" -- "$@" 2>/dev/null; '
         f"echo {ALL_MARK}; "
         'dnf -q -C repoquery --qf "$0" -- "$@" 2>/dev/null; '
         f"[ -e {REBOOT_FLAG} ] && echo {REBOOT_MARK}; true")
INSTALLED = ("command -v dnf >/dev/null 2>&1 || exit 3; "
             'dnf -q -C repoquery --installed --qf "$0" -- "$@" 2>/dev/null; '
             f"[ -e {REBOOT_FLAG} ] && echo {REBOOT_MARK}; true")
DNF = ["dnf", "-y", "-q"]


class Dnf:
    name = "dnf"
    query_as_root = True  # Debian's rpm: a database per user; the cache is root's

    def check(self, spec: PackageSpec) -> None:
        check_rpm(spec, "version for dnf")

    def query(self, names: Sequence[str], *, candidates: bool = True) -> list[str]:
        return ["sh", "-c", QUERY if candidates else INSTALLED, FORMAT, *names]

    def parse_query(self, text: str, names: Sequence[str]) -> dict[str, PackageState]:
        installed_part, _, rest = text.partition(LATEST_MARK)
        latest_part, _, all_part = rest.partition(ALL_MARK)
        installed, latest = _pairs(installed_part), _pairs(latest_part)
        offered: dict[str, list[str]] = {}
        for line in all_part.splitlines():
            name, sep, evr = line.partition("\t")
            if sep:
                offered.setdefault(name, []).append(evr.strip())
        return {n: PackageState(n, installed.get(n), latest.get(n), tuple(offered.get(n, ())))
                for n in names}

    def reboot_required(self, text: str) -> bool:
        return REBOOT_MARK in text.splitlines()

    def refresh(self) -> list[str]:
        return ["dnf", "-q", "makecache"]

    def list_installed(self) -> list[str]:
        return ["dnf", "-q", "-C", "repoquery", "--installed", "--qf", FORMAT]

    def parse_installed(self, text: str) -> dict[str, str]:
        return _pairs(text)

    def outdated(self) -> list[str]:
        return ["sh", "-c", 'dnf -q -C repoquery --installed --qf "$0"; echo '
                + LATEST_MARK + '; dnf -q -C repoquery --upgrades --qf "$0\\t%{reponame}"',
                FORMAT]

    def parse_outdated(self, text: str) -> dict[str, Update]:
        installed_part, _, upgrades = text.partition(LATEST_MARK)
        installed = _pairs(installed_part)
        found = {}
        for line in upgrades.splitlines():
            parts = line.split("\t")
            if len(parts) == 3 and parts[0] in installed:
                found[parts[0]] = Update(parts[0], installed[parts[0]], parts[1], parts[2],
                                         security="security" in parts[2].lower())
        return found

    def install(self, specs: Sequence[PackageSpec]) -> list[str]:
        return [*DNF, "install", *(_nevra(s) for s in specs)]

    def upgrade(self, specs: Sequence[PackageSpec]) -> list[str]:
        return [*DNF, "upgrade", *(_nevra(s) for s in specs)]

    def remove(self, names: Sequence[str], *, purge: bool) -> list[str]:
        return [*DNF, "remove", *names]  # rpm keeps changed configuration as .rpmsave


def check_rpm(spec: PackageSpec, what: str) -> None:
    """RPM's grammar of names and [EPOCH:]VERSION-RELEASE (dnf's and zypper's)."""
    if not NAME.fullmatch(spec.name):
        raise ValidationError(f"{spec.name!r} is not an RPM package name",
                              hint="letters, digits and . _ + - , not starting with - or .")
    if spec.version is not None and not VERSION.fullmatch(spec.version):
        raise ValidationError(f"{spec.version!r} is not an RPM {what}",
                              hint="[EPOCH:]VERSION-RELEASE, e.g. 1.0-1")


def _nevra(spec: PackageSpec) -> str:
    if spec.version is None:
        return spec.name
    _, _, bare = spec.version.rpartition(":")  # dnf takes NAME-VERSION-RELEASE
    return f"{spec.name}-{bare}"


def _pairs(text: str) -> dict[str, str]:
    found = {}
    for line in text.splitlines():
        name, sep, evr = line.partition("\t")
        if sep and name:
            found[name] = evr.strip()
    return found
