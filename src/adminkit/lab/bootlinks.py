"""Which system services are enabled at boot, and disabling the ones an install enabled.

A Debian package enables its service in its postinst, whatever the init system: systemd
units through symlinks in /etc/systemd/system/*.wants (deb-systemd-helper makes them
even where systemd is not PID 1), SysV scripts through S links in /etc/rc?.d. Reading
those links works on every Debian machine, running systemd or not, so a snapshot is
the set of links; a service counts as enabled while any of its links exists.

To undo: for a SysV script, Debian's `update-rc.d NAME disable`, which turns its S links
into K links, so that a later upgrade's `update-rc.d NAME defaults` keeps it disabled
(removing the links would let that re-enable it); it also disables a native unit of the
same name. For the other systemd units, exactly the links the install added are
removed. That is what `systemctl disable` does, minus its habit of disabling the units
named in `Also=` too, one of which may have been enabled before. deb-systemd-helper
then sees a unit the admin disabled, and a later upgrade leaves it so. Where systemd
is PID 1 it is told to reload.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Kind = Literal["systemd", "sysv"]
UNIT_SUFFIXES = (".service", ".socket", ".path", ".timer", ".target", ".mount")
# The runlevels a Debian machine boots through; rc0/rc1/rc6 (halt, single, reboot) only
# hold K links.
BOOT_RUNLEVELS = ("S", "2", "3", "4", "5")


@dataclass(frozen=True, order=True)
class Service:
    kind: Kind
    name: str  # unit name (`cups.service`) or init script name (`cups`)

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, order=True)
class BootLink:
    """One link that enables `service` at boot: the link `path` and what it points to."""

    service: Service
    path: Path
    target: str


def snapshot(etc: Path = Path("/etc")) -> frozenset[BootLink]:
    """Every link under `etc` that enables a service at boot."""
    return frozenset([*_systemd_links(etc / "systemd" / "system"), *_sysv_links(etc)])


def enabled(links: Iterable[BootLink]) -> set[Service]:
    return {link.service for link in links}


def newly_enabled(before: Iterable[BootLink], after: Iterable[BootLink]) -> list[Service]:
    """Services with a link now and none before: what the install enabled.

    A service that was enabled before keeps whatever links an upgrade gave it (a new
    `WantedBy=`, say): it was on before and stays on.
    """
    return sorted(enabled(after) - enabled(before))


def disable(services: Iterable[Service], before: frozenset[BootLink],
            log: Path | None = None) -> list[Service]:
    """Disable `services` again; return the ones still enabled afterwards.

    Only links that were not in `before` are ever removed by hand.
    """
    wanted = set(services)
    for service in sorted(wanted):
        if service.kind == "sysv" and shutil.which("update-rc.d"):
            _run(["update-rc.d", service.name, "disable"], log)
    removed = False
    for link in sorted(snapshot() - before):
        if link.service in wanted and link.service.kind == "systemd":
            _note(log, f"rm {link.path}")
            link.path.unlink(missing_ok=True)
            removed = True
    if removed and Path("/run/systemd/system").is_dir() and shutil.which("systemctl"):
        _run(["systemctl", "daemon-reload"], log)  # systemd is PID 1: make it see the change
    return sorted(wanted & enabled(snapshot()))


def lost(before: Iterable[BootLink], after: Iterable[BootLink]) -> list[Service]:
    """Services enabled before and not any more: never our doing, but worth saying."""
    return sorted(enabled(before) - enabled(after))


def _systemd_links(system: Path) -> list[BootLink]:
    """`*.wants/`, `*.requires/` links, and top-level aliases (`sshd.service` -> ssh)."""
    found = []
    for folder in _listing(system):
        if folder.is_dir() and not folder.is_symlink() and folder.suffix in (".wants",
                                                                             ".requires"):
            for link in _listing(folder):
                if _enabling(link):
                    found.append(BootLink(Service("systemd", link.name), link,
                                          os.readlink(link)))
        elif folder.name.endswith(UNIT_SUFFIXES) and _enabling(folder):
            # an alias names the unit it stands for by its target
            target = os.readlink(folder)
            found.append(BootLink(Service("systemd", os.path.basename(target)), folder, target))
    return found


def _sysv_links(etc: Path) -> list[BootLink]:
    found = []
    for level in BOOT_RUNLEVELS:
        for link in _listing(etc / f"rc{level}.d"):
            if link.name.startswith("S") and link.is_symlink():
                target = os.readlink(link)
                found.append(BootLink(Service("sysv", os.path.basename(target)), link, target))
    return found


def _enabling(path: Path) -> bool:
    """A symlink to a unit; one to /dev/null masks the unit instead."""
    return path.is_symlink() and os.readlink(path) != "/dev/null"


def _listing(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except OSError:  # absent: no systemd, or no such runlevel
        return []


def _note(log: Path | None, line: str) -> None:
    if log is not None:
        with open(log, "a") as out:
            out.write(line + "\n")


def _run(argv: list[str], log: Path | None) -> None:
    """Run a tool, its output to the install log; a failure shows in what stays enabled."""
    _note(log, "$ " + " ".join(argv))
    with open(log or os.devnull, "a") as out:
        subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                       check=False)
