"""What the deploy actions need from a host, whatever reaches it (SSH, WinRM).

A `HostBackend` is one logged-in connection to one host: its facts, the state of named
packages, install / upgrade / remove, the installed list, pending updates, and running
an argument list. The actions know nothing else of a host: the SSH backend (deploy/ssh.py)
drives apt (and later dnf, zypper) over paramiko, a Windows backend drives winget,
Chocolatey and msiexec over WinRM. Backends are found by transport: the built-in table
below, and the `adminkit.hosts` entry point group for plug-ins.

Every package name and version reaching a backend has passed `check_name` /
`check_version` (a grammar every manager's names fit in), and the backend checks its
manager's own stricter grammar before it sends anything; none is ever part of a shell
line: backends pass argument lists.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from adminkit.core.errors import UsageError, ValidationError

if TYPE_CHECKING:
    from adminkit.core.config import Profile
    from adminkit.deploy.reboot import Rebooted
    from adminkit.deploy.settings import HostConfig, InventoryConfig

GROUP = "adminkit.hosts"
BUILT_IN = {"ssh": "adminkit.deploy.ssh:open_ssh",
            "winrm": "adminkit.deploy.windows:open_winrm"}

# Wide enough for Debian, RPM, winget and Chocolatey ids; no shell or option syntax.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+:-]{0,127}\Z")
VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+~:-]{0,127}\Z")


@dataclass(frozen=True)
class PackageSpec:
    """`NAME` or `NAME=VERSION` as the operator wrote it, checked."""

    name: str
    version: str | None = None

    def __str__(self) -> str:
        return self.name if self.version is None else f"{self.name}={self.version}"


def _checked(text: str, grammar: re.Pattern[str], what: str, extra: str) -> str:
    if not grammar.fullmatch(text):
        raise ValidationError(f"{text!r} is not a package {what}",
                              hint=f"letters, digits and . _ + {extra}: - , starting with a "
                                   "letter or digit")
    return text


def check_name(text: str) -> str:
    return _checked(text, NAME, "name", "")


def check_version(text: str) -> str:
    return _checked(text, VERSION, "version", "~ ")


def parse_spec(text: str) -> PackageSpec:
    name, sep, version = text.partition("=")
    return PackageSpec(check_name(name), check_version(version) if sep else None)


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    exit: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.exit == 0

    def tail(self, lines: int = 6) -> str:
        """The last lines of stderr (or stdout), for an error message."""
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return "\n".join(text[-lines:])


@dataclass(frozen=True)
class PackageState:
    name: str
    installed: str | None = None  # the version installed and configured; None: not
    candidate: str | None = None  # the newest version the host's sources offer
    available: tuple[str, ...] = ()  # every version the sources offer
    leftovers: bool = False  # removed, its configuration files kept (apt's `rc`)


@dataclass(frozen=True)
class Update:
    """A pending update: what is installed, what the sources offer, from where."""

    name: str
    installed: str
    newest: str
    origin: str = ""  # the source's label (apt: "Debian-Security:12/stable-security")
    security: bool = False


@dataclass(frozen=True)
class PackageOutcome:
    """What an install / upgrade / remove left: each package's state read back from the
    host afterwards, and whether the host now wants a reboot."""

    states: dict[str, PackageState] = field(default_factory=dict)
    reboot_required: bool = False
    detail: str = ""


@dataclass(frozen=True)
class Facts:
    host: str
    os: str = ""
    os_version: str = ""
    kernel: str = ""
    package_manager: str = ""
    uptime_seconds: float | None = None
    reboot_pending: bool = False
    free_disk_bytes: int | None = None  # on / (Linux) or the system drive (Windows)
    extra: dict[str, str] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        return {"host": self.host, "os": self.os, "os_version": self.os_version,
                "kernel": self.kernel, "package_manager": self.package_manager,
                "uptime_seconds": self.uptime_seconds, "reboot_pending": self.reboot_pending,
                "free_disk_bytes": self.free_disk_bytes, **self.extra}


class HostBackend(Protocol):
    """One connection to one host. Methods raise ConnectionFailed (exit 3) when the host
    cannot be reached, ActionFailed (exit 1) when the host says no, ValidationError
    (exit 2) for a name its manager cannot take."""

    host: HostConfig
    # Set by the run: true once it is cancelled (Ctrl-C). A command that reads or runs
    # (not a package write) then ends itself on the host and raises Interrupted.
    cancelled: Callable[[], bool]

    def facts(self) -> Facts: ...

    def reboot_pending(self) -> bool:
        """Whether the host wants a restart (as `facts().reboot_pending`), read alone:
        --reboot-if-needed asks it of every host it plans for."""

    def check(self, spec: PackageSpec) -> None:
        """Refuse (ValidationError) a name or version the host's manager cannot take;
        the actions call it after `package_states`, which may have found the manager."""
        ...

    def package_states(self, names: Sequence[str], *, refresh: str = "when-needed"
                       ) -> dict[str, PackageState]:
        """Every name's state (a name the host does not know: all None). `refresh`:
        when-needed / always / never update the package index first."""
        ...

    def installed(self) -> dict[str, str]:
        """Every installed package and its version."""
        ...

    def outdated(self, *, security_only: bool = False) -> dict[str, Update]:
        """Installed packages with a newer version offered (the index refreshed first
        unless the inventory says never), by name."""
        ...

    def install(self, specs: Sequence[PackageSpec]) -> PackageOutcome:
        """Install exactly these (versions pinned where given); the outcome's states are
        read back from the host afterwards."""
        ...

    def upgrade(self, specs: Sequence[PackageSpec]) -> PackageOutcome:
        """Upgrade these where installed, likewise."""
        ...

    def remove(self, names: Sequence[str], *, purge: bool = False) -> PackageOutcome:
        """Remove (or purge) these, likewise."""
        ...

    def run(self, argv: Sequence[str], *, sudo: bool = False, timeout: float | None = None,
            interruptible: bool = True) -> CommandResult:
        """Run an argument list (never a shell line) and wait at most `timeout`; ended
        on the host if the run is cancelled meanwhile, unless not `interruptible`."""
        ...

    def boot_id(self) -> str:
        """What changes at every boot of the host (Linux: its boot id; Windows: its last
        boot time): a restart is proven by it."""
        ...

    def reboot(self, *, timeout: float | None) -> Rebooted:
        """Restart the host; unless `timeout` is None, wait until it answers with a new
        boot id (ActionFailed after `timeout` seconds: not back, or never went down)."""
        ...

    def close(self) -> None: ...


class PackageManager(Protocol):
    """A host's package manager as argument lists to send and parsers for the answers
    (deploy/apt.py, deploy/dnf.py): no I/O of its own, so a transport can drive it."""

    name: str
    query_as_root: bool  # its queries need root even when they only read

    def check(self, spec: PackageSpec) -> None:
        """Refuse (ValidationError) a name or version outside the manager's grammar."""
        ...

    def query(self, names: Sequence[str], *, candidates: bool = True) -> list[str]: ...

    def parse_query(self, text: str, names: Sequence[str]) -> dict[str, PackageState]: ...

    def reboot_required(self, text: str) -> bool: ...

    def refresh(self) -> list[str]: ...

    def list_installed(self) -> list[str]: ...

    def parse_installed(self, text: str) -> dict[str, str]: ...

    def outdated(self) -> list[str]: ...

    def parse_outdated(self, text: str) -> dict[str, Update]: ...

    def install(self, specs: Sequence[PackageSpec]) -> list[str]: ...

    def upgrade(self, specs: Sequence[PackageSpec]) -> list[str]: ...

    def remove(self, names: Sequence[str], *, purge: bool) -> list[str]: ...


Opener = Callable[["HostConfig", "InventoryConfig", "Profile"], HostBackend]


def opener(transport: str) -> Opener:
    """The function that opens a backend for hosts of `transport`."""
    from adminkit.core.entrypoints import entry_points, load

    found = {**BUILT_IN, **entry_points(GROUP)}
    target = found.get(transport)
    if target is None:
        raise UsageError(f"no backend for transport {transport!r} is installed",
                         hint=f"installed: {', '.join(sorted(found))}")
    value = load(target)
    assert callable(value)
    return value
