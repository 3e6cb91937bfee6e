"""The profile section the deploy domain owns: `inventory`.

Hosts with their address, transport, groups and variables; how SSH logs in (strict
known_hosts, a key or the agent, an optional jump host, sudo without a prompt in argv);
how many hosts a run works on at once; which programs `host run` may start.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from adminkit.core.config import Profile, Settings
from adminkit.core.winrm.target import WinRMSettings

# A host's name: what patterns, journal rows and notes call it (no glob characters, no
# commas or `!`, so a pattern can never be mistaken for one).
HOST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}\Z")
GROUP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}\Z")
# A DNS label as resolvers take it (ASCII; '_' too, as Windows names have it)
LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)\Z")
ADDRESS_HINT = "a DNS name (ASCII letters, digits, '-', '_'; labels of at most 63) or an IP address"


def check_address(value: str) -> str:
    """A host's address: an IP address or a DNS name, nothing else. The resolver read a
    name only up to a NUL (`10.0.0.5` and a NUL and more was 10.0.0.5), an over-long label
    failed with a UnicodeError naming no host, a look-alike letter (Cyrillic) was quietly
    encoded as another name, and WinRM splices the address into its URL (a '/', '@', '?'
    or '#' there would name another server)."""
    import ipaddress

    try:
        ipaddress.ip_address(value)
    except ValueError:
        name = value.removesuffix(".")
        if not name or len(name) > 253 or not all(LABEL.fullmatch(p) for p in name.split(".")):
            raise ValueError(f"address {value!r} is not {ADDRESS_HINT}") from None
    return value


def jump_endpoint(spec: str) -> tuple[str, str, int | None]:
    """`[user@]address[:port]` (an IPv6 address in brackets) as (user or "", address,
    port or None); ValueError saying what is wrong."""
    user, at, rest = spec.rpartition("@")
    if at and not user:
        raise ValueError(f"jump host {spec!r}: no user before '@'")
    if rest.startswith("["):
        address, close, tail = rest[1:].partition("]")
        if not close or (tail and not tail.startswith(":")):
            raise ValueError(f"jump host {spec!r}: an IPv6 address is written [ADDRESS]:PORT")
        port = tail[1:] if tail else None
    elif rest.count(":") > 1:
        raise ValueError(f"jump host {spec!r}: write an IPv6 address in brackets, "
                         "[ADDRESS]:PORT")
    else:
        address, colon, after = rest.partition(":")
        port = after if colon else None
    if port is not None and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        raise ValueError(f"jump host {spec!r}: port {port!r} is not 1-65535")
    return user, check_address(address), int(port) if port is not None else None


class SSHSettings(Settings):
    user: str
    key_file: Path | None = Field(None, description="private key; none: the SSH agent")
    known_hosts: Path = Field(description="strict: a host missing or re-keyed is refused")
    port: int = Field(22, ge=1, le=65535)
    sudo: bool = True
    sudo_password: str | None = Field(
        None, description="secret reference (env:, file:, keyring:, prompt) for `sudo -S`, "
                          "sent on stdin; none: sudo must not ask (NOPASSWD)")
    jump_host: str | None = Field(None, description="host name from the inventory, or "
                                                    "[user@]address[:port], to go through")
    agent: bool = Field(False, description="also offer the SSH agent's keys")
    timeout: float = Field(10.0, gt=0, le=600, description="seconds to connect and log in")
    per_backend: int = Field(64, ge=1, description="SSH connections open at once, all hosts")


class HostConfig(Settings):
    name: str
    address: str
    port: int | None = Field(None, ge=1, le=65535)
    transport: Literal["ssh", "winrm"] = "ssh"
    user: str | None = None  # overrides the transport's user
    groups: list[str] = Field(default_factory=list)
    vars: dict[str, str | int | bool] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not HOST_NAME.fullmatch(value):
            raise ValueError("a host name is letters, digits, '.', '_' and '-' (no glob "
                             "characters, commas or '!'), at most 63")
        return value

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        return check_address(value)

    @field_validator("groups")
    @classmethod
    def _groups(cls, value: list[str]) -> list[str]:
        for group in value:
            if not GROUP_NAME.fullmatch(group):
                raise ValueError(f"group {group!r}: letters, digits, '.', '_' and '-' only")
        return value


class RunPolicy(Settings):
    """`host run`: off unless the profile allows it; then only the programs listed
    (`*` for any), and with sudo only if `sudo` says so."""

    allow: bool = False
    programs: list[str] = Field(default_factory=list)
    sudo: bool = False


class MsiPackage(Settings):
    """An application installed from an MSI (`app install NAME=VERSION` on Windows hosts):
    how Programs and Features names it, and the MSI of each version (a path, a UNC path
    or an http(s) URL, as msiexec takes it)."""

    display_name: str = Field(min_length=1, max_length=256)
    versions: dict[str, str] = Field(min_length=1)

    @field_validator("versions")
    @classmethod
    def _versions(cls, value: dict[str, str]) -> dict[str, str]:
        """Checked when the profile is read, not once a host is planned and journaled:
        a version `app install NAME=VERSION` can name, and an MSI msiexec can take inside
        its quotes (no quote, line break or NUL; no trailing backslash, which would
        escape the closing quote; no blank)."""
        from adminkit.core.errors import ValidationError
        from adminkit.deploy.backend import check_version

        for version, source in value.items():
            try:
                check_version(version)
            except ValidationError as exc:
                raise ValueError(exc.message) from None
            if (not source.strip() or source != source.strip() or source.endswith("\\")
                    or any(c in source for c in '"\r\n\x00')):
                raise ValueError(f"the MSI of {version}, {source!r}, is no path or URL "
                                 "msiexec can take (a quote, line break, NUL, blank or a "
                                 "trailing backslash)")
        return value


class WindowsSettings(WinRMSettings):
    """`inventory.winrm`: how to log in to Windows hosts, and the MSI applications."""

    msi: dict[str, MsiPackage] = Field(default_factory=dict)


class InventoryConfig(Settings):
    ssh: SSHSettings | None = None
    winrm: WindowsSettings | None = None
    hosts: list[HostConfig] = Field(default_factory=list)
    forks: int = Field(20, ge=1, le=500, description="hosts worked on at once")
    deadline: float = Field(600.0, gt=0, le=86400, description="seconds one command may "
                                                                "take on a host; then it is "
                                                                "ended there")
    refresh: Literal["when-needed", "always", "never"] = Field(
        "when-needed", description="refresh the package index before planning an install "
                                   "or upgrade (apt-get update): when the index does not "
                                   "know a package, every time, or never")
    run: RunPolicy = Field(default_factory=RunPolicy)

    @model_validator(mode="after")
    def _unique(self) -> InventoryConfig:
        seen: set[str] = set()
        for host in self.hosts:
            if host.name in seen:
                raise ValueError(f"host {host.name} is listed twice")
            seen.add(host.name)
        jump = self.ssh.jump_host if self.ssh else None
        if jump is not None and jump not in seen:
            jump_endpoint(jump)  # not an inventory host: [user@]address[:port], checked
        return self


SECTIONS: dict[str, Any] = {"inventory": InventoryConfig}


def inventory_settings(profile: Profile) -> InventoryConfig | None:
    return profile.section("inventory", InventoryConfig)
