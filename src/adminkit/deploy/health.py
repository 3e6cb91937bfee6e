"""`profile check` for hosts: log in to each (strict host keys) and run `true`."""

from __future__ import annotations

from adminkit.core.config import Profile
from adminkit.core.errors import ActionFailed
from adminkit.core.health import Probe
from adminkit.deploy.hosts import open_backend
from adminkit.deploy.settings import HostConfig, InventoryConfig, inventory_settings


def check(profile: Profile, inventory: InventoryConfig, host: HostConfig) -> str:
    if host.transport == "winrm":
        return check_windows(profile, inventory, host)
    backend = open_backend(profile, inventory, host)
    try:
        result = backend.run(["true"], timeout=30)
    finally:
        backend.close()
    if not result.ok:
        raise ActionFailed(f"host {host.name}: `true` exited {result.exit}")
    user = host.user or (inventory.ssh.user if inventory.ssh else "?")
    return f"{host.transport} as {user} with a known host key, command exit {result.exit}"


def check_windows(profile: Profile, inventory: InventoryConfig, host: HostConfig) -> str:
    """Log in over WinRM (TLS verified against the profile's CA) and read the facts."""
    backend = open_backend(profile, inventory, host)
    try:
        facts = backend.facts()
    finally:
        backend.close()
    user = host.user or (inventory.winrm.user if inventory.winrm else "?")
    managers = facts.package_manager or "no package manager"
    return f"winrm as {user}: {facts.os} {facts.os_version}, {managers}"


def probes(profile: Profile) -> list[Probe]:
    inventory = inventory_settings(profile)
    if inventory is None:
        return []
    return [Probe("host", f"{h.name} ({h.address})",
                  lambda h=h: check(profile, inventory, h))  # type: ignore[misc]
            for h in inventory.hosts]
