"""The profile section the deploy domain owns: `inventory`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from adminkit.core.config import Profile, Settings


class SSHSettings(Settings):
    user: str
    key_file: Path
    known_hosts: Path
    port: int = 22
    sudo: bool = True
    timeout: float = 10.0


class HostConfig(Settings):
    name: str
    address: str
    port: int | None = None
    transport: Literal["ssh", "winrm"] = "ssh"
    groups: list[str] = Field(default_factory=list)


class InventoryConfig(Settings):
    ssh: SSHSettings | None = None
    hosts: list[HostConfig] = Field(default_factory=list)


SECTIONS: dict[str, Any] = {"inventory": InventoryConfig}


def inventory_settings(profile: Profile) -> InventoryConfig | None:
    return profile.section("inventory", InventoryConfig)
