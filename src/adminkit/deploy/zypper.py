"""zypper as a `PackageManager`: argument lists to send and parsers for its XML answers.

Everything is read through zypper itself (`--xmlout search -s`, `list-updates`), never
`rpm -q`: libzypp's view is the one its writes change (and on Debian, where the lab
runs it, rpm keeps another database per user). Versions are editions,
`[EPOCH:]VERSION-RELEASE`; a pinned install asks for `NAME=EDITION` with
`--oldpackage`, so a downgrade is possible and what is read back compares equal. zypper
exits 102 (reboot needed) or 103 (restart zypper) after a successful write: the write
script counts them as success, and the reboot flags (Debian's, and libzypp's
/run/reboot-needed) say the rest. Names only ever travel as arguments (`"$@"` after `--`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from adminkit.core.errors import ActionFailed
from adminkit.deploy.apt import REBOOT_FLAG, REBOOT_MARK
from adminkit.deploy.backend import PackageSpec, PackageState, Update
from adminkit.deploy.dnf import check_rpm

if TYPE_CHECKING:  # the XML parser is imported when zypper answers, not on every SSH start
    import xml.etree.ElementTree as ET

ZYPPER = ["zypper", "--non-interactive", "--no-color"]
REBOOT = f"{{ [ -e {REBOOT_FLAG} ] || [ -e /run/reboot-needed ]; }} && echo {REBOOT_MARK}; true"
# One round trip: every edition the repositories offer and the installed one; the flag.
# zypper's own exit status is kept: 104 is "no match" (an answer), any other failure (7:
# another process holds the lock) must never read as "not installed"; its 3 (bad
# arguments) is passed on as 2, since 3 here says "no zypper".
_STATUS = "case $rc in 0|104) exit 0;; 3) exit 2;; esac; exit $rc"
QUERY = ("command -v zypper >/dev/null 2>&1 || exit 3; "
         "zypper --non-interactive --no-refresh --xmlout search -s --match-exact -t package "
         f"-- \"$@\"; rc=$?; {REBOOT}; {_STATUS}")
INSTALLED = ("command -v zypper >/dev/null 2>&1 || exit 3; "
             "zypper --non-interactive --no-refresh --xmlout search -s -i --match-exact "
             f"-t package -- \"$@\"; rc=$?; {REBOOT}; {_STATUS}")
# 102: done, a reboot is needed; 103: done, zypper itself was updated
WRITE = 'zypper "$@"; rc=$?; case $rc in 102|103) exit 0;; esac; exit $rc'


class Zypper:
    name = "zypper"
    query_as_root = True  # libzypp's caches and lock are root's

    def check(self, spec: PackageSpec) -> None:
        check_rpm(spec, "edition for zypper")

    def query(self, names: Sequence[str], *, candidates: bool = True) -> list[str]:
        return ["sh", "-c", QUERY if candidates else INSTALLED, "sh", *names]

    def parse_query(self, text: str, names: Sequence[str]) -> dict[str, PackageState]:
        installed: dict[str, str] = {}
        offered: dict[str, list[str]] = {}
        for item in _solvables(text):
            name, edition = item.get("name", ""), item.get("edition", "")
            if item.get("status") == "installed":
                installed[name] = edition
            if item.get("repository") not in (None, "", "(System Packages)"):
                editions = offered.setdefault(name, [])
                if edition not in editions:
                    editions.append(edition)  # zypper lists the newest first
        return {n: PackageState(n, installed.get(n), next(iter(offered.get(n, ())), None),
                                tuple(offered.get(n, ()))) for n in names}

    def reboot_required(self, text: str) -> bool:
        return REBOOT_MARK in text.splitlines()

    def refresh(self) -> list[str]:
        return [*ZYPPER, "refresh"]

    def list_installed(self) -> list[str]:
        return [*ZYPPER, "--no-refresh", "--xmlout", "search", "-s", "-i", "-t", "package"]

    def parse_installed(self, text: str) -> dict[str, str]:
        return {s.get("name", ""): s.get("edition", "") for s in _solvables(text)
                if s.get("status") == "installed"}

    def outdated(self) -> list[str]:
        return [*ZYPPER, "--no-refresh", "--xmlout", "list-updates", "-t", "package"]

    def parse_outdated(self, text: str) -> dict[str, Update]:
        found = {}
        for el in _xml(text).iter("update"):
            name = el.get("name", "")
            source = el.find("source")
            origin = source.get("alias", "") if source is not None else ""
            if name and el.get("edition"):
                found[name] = Update(name, el.get("edition-old", ""), el.get("edition", ""),
                                     origin, security="security" in origin.lower())
        return found

    def install(self, specs: Sequence[PackageSpec]) -> list[str]:
        return _write("install", "--oldpackage", "--no-recommends",
                      *(_capability(s) for s in specs))

    def upgrade(self, specs: Sequence[PackageSpec]) -> list[str]:
        return self.install(specs)  # to an edition: install; to the newest: its edition

    def remove(self, names: Sequence[str], *, purge: bool) -> list[str]:
        return _write("remove", *names)  # rpm keeps changed configuration as .rpmsave


def _write(verb: str, *args: str) -> list[str]:
    options = ["--non-interactive", "--no-color", verb]
    return ["sh", "-c", WRITE, "sh", *options, *[a for a in args if a.startswith("-")],
            "--", *[a for a in args if not a.startswith("-")]]


def _capability(spec: PackageSpec) -> str:
    return spec.name if spec.version is None else f"{spec.name}={spec.version}"


def _xml(text: str) -> ET.Element:
    import xml.etree.ElementTree as ET

    start = text.find("<?xml")
    end = text.rfind("</stream>")
    if start < 0:
        return ET.Element("stream")
    if end < start:  # cut short (the output kept is bounded): never "nothing installed"
        raise ActionFailed("zypper's XML answer is incomplete (cut short)",
                           hint="too many packages for one answer? narrow the names")
    return ET.fromstring(text[start:end + len("</stream>")])  # noqa: S314 - expat refuses entity bombs


def _solvables(text: str) -> list[ET.Element]:
    return list(_xml(text).iter("solvable"))
