"""The `Directory` protocol: what actions may ask of any directory backend.

Backends register under the `adminkit.directories` entry point group, so a new one
is a module plus one line in pyproject.toml. Every method takes and returns plain
values: logins, DNs and the entry types below. Values from people are data, never
filter or DN syntax: backends escape them (RFC 4515 filters, RFC 4514 DNs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from adminkit.accounts.settings import DirectoryConfig, account_settings, directory_settings
from adminkit.core.config import PolicyConfig, Profile
from adminkit.core.entrypoints import entry_points, load
from adminkit.core.errors import AdminkitError, UsageError
from adminkit.core.secrets import Secret, current
from adminkit.core.targets import Limits

if TYPE_CHECKING:
    from adminkit.core.bridge import AsyncBridge
    from adminkit.core.context import Context  # a run's; `account show` has none

T = TypeVar("T")
ReportKind = Literal["inactive", "locked", "disabled", "password-expiring", "never-logged-in",
                     "licensed"]
SearchField = Literal["login", "mail", "name", "any"]


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
    expires: datetime | None = None
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
    locked: bool = False
    expires: datetime | None = None  # account expiry; None: never
    last_logon: datetime | None = None
    password_changed: datetime | None = None
    must_change: bool = False
    groups: tuple[str, ...] = ()  # DNs of the groups it is a direct member of
    description: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """A flat dict for tables, CSV and JSON."""
        return {"login": self.login, "display_name": self.display_name, "mail": self.mail,
                "enabled": self.enabled, "locked": self.locked,
                "expires": self.expires.isoformat() if self.expires else None,
                "last_logon": self.last_logon.isoformat() if self.last_logon else None,
                "password_changed": (self.password_changed.isoformat()
                                     if self.password_changed else None),
                "must_change": self.must_change, "dn": self.dn}


@dataclass(frozen=True)
class GroupEntry:
    dn: str
    name: str
    members: tuple[str, ...] = ()  # DNs of direct members
    description: str | None = None


@dataclass
class LoginLookup:
    """What a bulk run learnt about its logins, by casefolded login.

    `users`: the user holding the login, or None for no user; a login the lookup cannot
    answer for (two users hold it, the server matched it differently) is not a key, and
    is asked about on its own. `taken`: the logins a new account could not get (held
    by a user, a group, a computer, or another account's UPN).
    """

    users: dict[str, UserEntry | None] = field(default_factory=dict)
    taken: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = 8
    complexity: bool = True
    history: int = 0
    max_age_days: int | None = None
    lockout_threshold: int | None = None


class Directory(Protocol):
    config: DirectoryConfig
    kind: str

    # -- reading ----------------------------------------------------------------------
    def ping(self) -> str: ...

    def find_user(self, login: str) -> UserEntry | None:
        """The user with exactly this login (sAMAccountName / uid), or None."""

    def lookup_logins(self, logins: Sequence[str]) -> LoginLookup:
        """Many logins in a few searches, for bulk runs (see LoginLookup)."""

    def get_user(self, dn: str) -> UserEntry | None: ...

    def search_users(self, text: str, *, field: SearchField = "any", wildcards: bool = False,
                     limit: int = 200) -> list[UserEntry]:
        """Users whose login, mail or name matches `text`; `*` is literal unless `wildcards`."""

    def list_users(self, base: str) -> list[UserEntry]:
        """Every user below `base` (paged)."""

    def login_taken(self, login: str) -> bool: ...

    def read_attributes(self, user: UserEntry, names: list[str]) -> dict[str, list[str]]:
        """Current values of `names` (each a list of strings; empty if absent)."""

    def find_group(self, name: str) -> GroupEntry | None:
        """By name (cn / sAMAccountName) or by DN."""

    def user_groups(self, user: UserEntry, *, nested: bool = False) -> list[GroupEntry]: ...

    def group_members(self, group: GroupEntry, *, nested: bool = False) -> list[UserEntry]: ...

    def password_policy(self) -> PasswordPolicy: ...

    def protected_reason(self, user: UserEntry, policy: PolicyConfig) -> str | None:
        """Why policy forbids touching this user (a protected group, even nested), or None."""

    def group_protected_reason(self, group: GroupEntry, policy: PolicyConfig) -> str | None:
        """Why joining `group` is refused: it is, or is nested inside, a protected group."""

    def report(self, kind: ReportKind, *, days: int | None = None) -> list[UserEntry]: ...

    # -- writing ----------------------------------------------------------------------
    def create_user(self, user: NewUser) -> str: ...

    def set_enabled(self, user: UserEntry, enabled: bool) -> None: ...

    def unlock(self, user: UserEntry) -> None: ...

    def set_expiry(self, user: UserEntry, expires: datetime | None) -> None: ...

    def set_password(self, user: UserEntry, password: Secret, *, must_change: bool) -> None:
        """An administrative reset; `must_change` is applied after the password is written."""

    def add_member(self, group: GroupEntry, user: UserEntry) -> None: ...

    def add_members(self, group: GroupEntry, users: Sequence[UserEntry]
                    ) -> dict[str, AdminkitError]:
        """Several users in as few requests as the server allows; those that failed, by DN."""

    def remove_member(self, group: GroupEntry, user: UserEntry) -> None: ...

    def move(self, user: UserEntry, new_parent: str) -> str:
        """Move under `new_parent`; return the new DN."""

    def set_attributes(self, user: UserEntry, values: dict[str, list[str]]) -> None:
        """Replace each attribute's values; an empty list removes the attribute."""

    def delete(self, user: UserEntry) -> None: ...

    def close(self) -> None: ...


def backend_class(kind: str) -> type[Directory]:
    found = entry_points("adminkit.directories")
    if kind not in found:
        raise UsageError(f"no directory backend for kind {kind!r}",
                         hint=f"installed backends: {', '.join(sorted(found)) or 'none'}")
    cls: type[Directory] = load(found[kind])  # type: ignore[assignment]
    return cls


def open_directory(profile: Profile, bridge: AsyncBridge | None = None) -> Directory:
    """`bridge`: the run's event loop, for a backend whose client is async (`needs_bridge`);
    without one (a read-only command) such a backend takes its light, synchronous path."""
    cfg = directory_settings(profile)
    if cfg is None:
        raise UsageError(f"profile {profile.name} names no directory",
                         hint=f"add a `directory:` section to {profile.file}")
    # read again whenever a connection is (re)opened: a rotated password is used at once
    password = current(cfg.password, label=f"profile {profile.name}: directory password")
    cls = backend_class(cfg.kind)
    if bridge is not None and getattr(cls, "needs_bridge", False):
        made: Directory = cls(cfg, password, bridge=bridge)  # type: ignore[call-arg]
        return made
    directory: Directory = cls(cfg, password)  # type: ignore[call-arg]
    return directory


def directory_of(ctx: Context) -> Directory:
    """The bound directory connection this unit of work holds.

    Leased from the run's registry under (directory kind, URL): a pool of workers gets
    one connection each, at most `accounts.workers` of them, and the next unit (or the
    bulk writes after the validation pass, see `Context.handover`) reuses them.
    """
    profile = ctx.require_profile()
    cfg = directory_settings(profile)
    if cfg is None:
        return open_directory(profile)  # raises: the profile names no directory
    workers = account_settings(profile).workers
    cls: Any = backend_class(cfg.kind)
    if hasattr(cls, "target_of"):  # an HTTP backend: its own key (a tenant) and sharing
        return ctx.connection(cfg.kind, cls.target_of(cfg),
                              lambda: open_directory(profile, ctx.bridge), _close,
                              limits=cls.limits_for(cfg, workers))
    directory = ctx.connection(cfg.kind, cfg.url, lambda: open_directory(profile), _close,
                               limits=Limits(per_target=workers))
    share = getattr(directory, "share_outage", None)
    if share is not None:  # the run's Links learn together that the server is gone
        from adminkit.accounts.connection import Outage

        share(ctx.resource(f"directory-outage:{cfg.url}", Outage))
    return directory


def _close(directory: Directory) -> None:
    directory.close()


def each(directory: Directory, calls: Sequence[Callable[[], T]]) -> list[T | Exception]:
    """Each call's result, or the Exception it raised, in order. One after another,
    or all at once for a backend that says it gathers concurrent writes into fewer
    requests (`concurrent_writes`: Entra ID's `$batch`)."""
    def one(call: Callable[[], T]) -> T | Exception:
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - the caller's row outcome
            return exc

    width = int(getattr(directory, "concurrent_writes", 0))
    if width < 2 or len(calls) < 2:
        return [one(call) for call in calls]
    import contextvars
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(min(width, len(calls)), thread_name_prefix="adminkit-write") as pool:
        futures = [pool.submit(contextvars.copy_context().run, one, call) for call in calls]
        return [f.result() for f in futures]
