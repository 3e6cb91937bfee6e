"""Installing the lab's Debian packages so that the machine is left as it was found.

The lab runs every server from its own configuration as a process it started; the
packages only bring the programs. Their maintainer scripts, though, enable their
system services at boot and try to start them. So, for the length of the install:

- /usr/sbin/policy-rc.d exits 101 (invoke-rc.d(8): "action forbidden by policy"),
  which keeps invoke-rc.d and deb-systemd-invoke from starting, restarting or
  stopping any service. Whatever file was there before is moved aside and put back
  unchanged afterwards.
- Afterwards, services that had no boot link before and have one now are disabled
  again (`bootlinks`), and processes the install started and left running are
  stopped by PID (`daemons`).

apt's output goes to a log file; the caller gets a short account (`InstallReport`).
One install at a time on a machine: the swap of policy-rc.d and the before/after
comparisons are held under a lock file.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from adminkit.core.errors import LabError
from adminkit.lab import bootlinks, daemons, packages
from adminkit.lab.packages import PackageChanges

POLICY_RC = Path("/usr/sbin/policy-rc.d")
SAVED_SUFFIX = ".adminkit-lab-saved"  # the original policy-rc.d while ours is in place
MARK = "# written by adminkit lab install"
POLICY_TEXT = f"""#!/bin/sh
{MARK}: no service starts, stops or restarts while it installs
# packages. The file that was here before is {POLICY_RC.name}{SAVED_SUFFIX} meanwhile;
# it comes back when the install ends (or at the next `adminkit lab install`).
exit 101
"""
LOCK = Path("/run/lock/adminkit-lab-install.lock")
APT_GET = ("apt-get", "-q", "-o", "DPkg::Lock::Timeout=900")


@dataclass(frozen=True)
class InstallReport:
    """What an install did to the machine, for the user and for tests."""

    packages: PackageChanges = field(default_factory=PackageChanges)
    requested: tuple[str, ...] = ()
    python: tuple[str, ...] = ()  # pip requirements installed
    disabled: tuple[str, ...] = ()  # services the install enabled, disabled again
    stopped: tuple[str, ...] = ()  # daemons the install started, stopped again
    still_enabled: tuple[str, ...] = ()  # could not be disabled
    lost: tuple[str, ...] = ()  # enabled before, not any more
    log: Path | None = None

    def lines(self) -> list[str]:
        lines = packages.summary(self.packages, self.requested)
        if self.python:
            lines.append(f"python packages: {packages.listing(self.python)}")
        if self.disabled:
            lines.append("disabled again at boot (the packages had enabled them): "
                         + packages.listing(_short(self.disabled)))
        if self.stopped:
            lines.append("stopped (the packages had started them): "
                         + packages.listing(self.stopped))
        if self.still_enabled:
            lines.append("warning: enabled at boot by the install and still enabled: "
                         + ", ".join(self.still_enabled))
        if self.lost:
            lines.append("warning: enabled at boot before the install and not now: "
                         + ", ".join(self.lost))
        if self.log is not None:  # something ran: apt or pip
            lines.append(f"details: {self.log}")
        return lines


def apt_install(wanted: Sequence[str], log: Path, *, debconf: Sequence[str] = (),
                update: bool = True, policy_rc: Path = POLICY_RC,
                lock: Path = LOCK) -> InstallReport:
    """`apt-get install` `wanted` (names, or paths of .deb files) with services held down.

    Must run as root. Appends apt's output to `log`; raises `LabError` with apt's last
    error line if the install fails, after the same clean-up as on success.
    """
    token = secrets.token_hex(16)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", daemons.TAG_VAR: token}
    with _machine_lock(lock), services_held(policy_rc):
        links_before = bootlinks.snapshot()
        procs_before = daemons.scan()
        versions_before = packages.installed_versions()
        try:
            if debconf:
                _run(["debconf-set-selections"], log, env, stdin="\n".join(debconf) + "\n")
            if update:  # a failure here shows as the install's failure, with the reason
                _run([*APT_GET, "update"], log, env)
            code = _run([*APT_GET, "install", "-y", "--no-install-recommends", *wanted],
                        log, env)
        finally:
            changed = packages.changes(versions_before, packages.installed_versions())
            stopped = daemons.stop(daemons.to_stop(procs_before, daemons.scan(token)))
            with open(log, "a") as out:
                out.writelines(f"stopped {daemons.describe(p)}: {p.cmdline}\n" for p in stopped)
            newly = bootlinks.newly_enabled(links_before, bootlinks.snapshot())
            still = bootlinks.disable(newly, links_before, log)
            lost = bootlinks.lost(links_before, bootlinks.snapshot())
    if code != 0:
        raise LabError(f"apt-get install failed (exit {code}): {failure_line(log)}",
                       hint=f"apt's output is in {log}")
    return InstallReport(
        packages=changed, requested=tuple(wanted), log=log,
        disabled=tuple(str(s) for s in newly if s not in still),
        stopped=tuple(daemons.describe(p) for p in stopped),
        still_enabled=tuple(str(s) for s in still), lost=tuple(str(s) for s in lost),
    )


def failure_line(log: Path) -> str:
    """apt's last error (`E: ...`), else the last line it wrote: the one-line reason."""
    try:
        lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines()]
    except OSError:
        return "no output"
    errors = [ln for ln in lines if ln.startswith("E: ")]
    last = [ln for ln in lines if ln and not ln.startswith("$ ")]
    return (errors or last or ["no output"])[-1]


@contextmanager
def services_held(path: Path = POLICY_RC) -> Iterator[None]:
    """Our policy-rc.d in place of whatever is at `path`, which comes back unchanged.

    The original is hard-linked aside before ours replaces it in one rename, so there
    is no moment without a policy-rc.d and nothing of the original (contents, mode,
    owner) is rewritten. An earlier run that was killed is repaired first.
    """
    saved = path.with_name(path.name + SAVED_SUFFIX)
    _recover(path, saved)
    had = path.exists() or path.is_symlink()
    if had:
        os.link(path, saved, follow_symlinks=False)
    tmp = path.with_name(path.name + ".adminkit-lab-new")
    tmp.write_text(POLICY_TEXT)
    tmp.chmod(0o755)
    os.replace(tmp, path)
    try:
        yield
    finally:
        if had:
            os.replace(saved, path)
        else:
            path.unlink(missing_ok=True)


def _recover(path: Path, saved: Path) -> None:
    """Undo what a killed run left: our file in place, or a stray link to the original."""
    if _is_ours(path):
        if saved.exists() or saved.is_symlink():
            os.replace(saved, path)
        else:
            path.unlink()
    elif saved.exists() or saved.is_symlink():
        saved.unlink()  # killed before ours went in: `path` is still the original


def _is_ours(path: Path) -> bool:
    try:
        return MARK in path.read_text(errors="replace")
    except OSError:
        return False


@contextmanager
def _machine_lock(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _run(argv: list[str], log: Path, env: dict[str, str], stdin: str | None = None) -> int:
    with open(log, "a") as out:
        out.write(f"$ {' '.join(argv)}\n")
        out.flush()
        result = subprocess.run(argv, input=stdin, text=True, env=env, stdout=out,
                                stderr=subprocess.STDOUT,
                                stdin=None if stdin is not None else subprocess.DEVNULL,
                                check=False)
    return result.returncode


def _short(services: Sequence[str]) -> list[str]:
    """`cups.service` and the SysV script `cups` are one service to a reader."""
    names = (s.removesuffix(".service") for s in services)
    return list(dict.fromkeys(names))
