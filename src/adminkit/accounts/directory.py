"""The `Directory` protocol and how a profile's directory backend is found.

Backends register under the `adminkit.directories` entry point group, so a new
one is a module plus one line in pyproject.toml.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Protocol

from adminkit.core.config import DirectoryConfig, Profile
from adminkit.core.context import Context
from adminkit.core.errors import UsageError
from adminkit.core.secrets import Secret


@dataclass(frozen=True)
class NewUser:
    login: str
    given_name: str
    surname: str
    display_name: str
    password: Secret
    ou: str
    mail: str | None = None
    enabled: bool = True
    must_change: bool = True
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class UserEntry:
    dn: str
    login: str
    given_name: str | None
    surname: str | None
    display_name: str | None
    mail: str | None
    enabled: bool
    attributes: dict[str, Any] = field(default_factory=dict)


class Directory(Protocol):
    config: DirectoryConfig

    def find_user(self, login: str) -> UserEntry | None: ...

    def login_taken(self, login: str) -> bool: ...

    def create_user(self, user: NewUser) -> str: ...

    def ping(self) -> str: ...

    def close(self) -> None: ...


def backend_class(kind: str) -> type[Directory]:
    found = {ep.name: ep for ep in entry_points(group="adminkit.directories")}
    if kind not in found:
        raise UsageError(f"no directory backend for kind {kind!r}",
                         hint=f"installed backends: {', '.join(sorted(found)) or 'none'}")
    cls: type[Directory] = found[kind].load()
    return cls


def open_directory(profile: Profile) -> Directory:
    if profile.directory is None:
        raise UsageError(f"profile {profile.name} names no directory",
                         hint=f"add a `directory:` section to {profile.file}")
    cfg = profile.directory
    password = profile.secret(cfg.password, "directory password")
    directory: Directory = backend_class(cfg.kind)(cfg, password)  # type: ignore[call-arg]
    return directory


def directory_of(ctx: Context) -> Directory:
    """The run's shared, bound directory connection."""
    profile = ctx.require_profile()
    return ctx.resource("directory", lambda: open_directory(profile), lambda d: d.close())
