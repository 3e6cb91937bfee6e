"""The systemd unit files `schedule install` wrote, and taking them out again.

Each unit file install writes starts with a mark naming its profile; `uninstall`
removes only files that carry that exact mark (a unit someone else wrote under a
similar name, or another profile's, stays), whether or not its schedule is still in
the profile. Where systemd runs, the timers are disabled and stopped first and the
manager reloaded after, so nothing fires from a file that is gone.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from adminkit.core.errors import ActionFailed

SUFFIXES = (".service", ".timer")


def mark(profile: str) -> str:
    """The first line of every unit file install writes for the profile."""
    return f"# adminkit schedule install, profile {profile} (schedule uninstall removes it)\n"


def installed(folder: Path, profile: str) -> list[Path]:
    """The unit files in `folder` that install wrote for the profile (by their mark)."""
    if not folder.is_dir():
        return []
    wanted, prefix = mark(profile), f"adminkit-{profile}-"
    found = []
    for path in sorted(folder.iterdir()):
        if not (path.name.startswith(prefix) and path.suffix in SUFFIXES):
            continue
        if path.is_symlink() or not path.is_file():
            continue  # an enablement link, or anything but a file install wrote
        try:
            with path.open(encoding="utf-8", errors="replace") as unit:
                first = unit.readline(len(wanted) + 1)
        except OSError:
            continue
        if first == wanted:
            found.append(path)
    return found


def _systemctl(systemctl: str, *args: str) -> None:
    done = subprocess.run([systemctl, *args], capture_output=True, text=True, timeout=120,
                          check=False)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["failed"])[0][:300]
        raise ActionFailed(f"systemctl {args[0]}: {reason}",
                           hint="nothing was removed; run it again as root")


def remove(folder: Path, profile: str, systemctl: str | None) -> list[str]:
    """Take the profile's units out of `folder`: with `systemctl` (systemd runs and
    reads that folder) the timers are disabled and stopped first and the manager
    reloaded after. The names removed."""
    paths = installed(folder, profile)
    timers = [p.name for p in paths if p.suffix == ".timer"]
    if systemctl and timers:
        _systemctl(systemctl, "disable", "--now", "--", *timers)
    for path in paths:
        path.unlink(missing_ok=True)
    if systemctl and paths:
        _systemctl(systemctl, "daemon-reload")
    return [p.name for p in paths]
