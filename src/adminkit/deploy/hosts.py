"""A host's backend for the current unit of work, from the run's connection registry.

One connection per host per run (`per_target=1`), at most `inventory.ssh.per_backend`
SSH connections at once; opened at the first use in a unit, handed back when the unit
ends, closed when the run ends or on Ctrl-C (core/targets.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from adminkit.core.errors import UsageError, ValidationError
from adminkit.core.targets import Limits
from adminkit.deploy.backend import HostBackend, opener
from adminkit.deploy.settings import HostConfig, InventoryConfig, inventory_settings

if TYPE_CHECKING:
    from adminkit.core.config import Profile
    from adminkit.core.context import Context


def inventory_of(profile: Profile) -> InventoryConfig:
    found = inventory_settings(profile)
    if found is None or not found.hosts:
        raise UsageError(f"profile {profile.name} has no inventory of hosts",
                         hint="add an `inventory:` section with `hosts:` to the profile")
    return found


def host_named(inventory: InventoryConfig, name: str) -> HostConfig:
    for host in inventory.hosts:
        if host.name == name:
            return host
    raise ValidationError(f"host {name!r} is not in the inventory",
                          hint="`adminkit host list` shows the hosts")


def limits(inventory: InventoryConfig, transport: str) -> Limits:
    per_backend = inventory.ssh.per_backend if transport == "ssh" and inventory.ssh else None
    timeout = inventory.ssh.timeout if transport == "ssh" and inventory.ssh else 30.0
    # connect + key exchange + login, each bounded by `timeout`; a jump host doubles it
    return Limits(per_target=1, per_backend=per_backend, open_timeout=4 * timeout)


def open_backend(profile: Profile, inventory: InventoryConfig, host: HostConfig) -> HostBackend:
    return opener(host.transport)(host, inventory, profile)


def backend(ctx: Context, name: str) -> HostBackend:
    """The backend of host `name`, held by the current unit of work."""
    profile = ctx.require_profile()
    inventory = inventory_of(profile)
    host = host_named(inventory, name)
    value: HostBackend = ctx.connection(
        host.transport, host.name, lambda: open_backend(profile, inventory, host),
        close_backend, limits=limits(inventory, host.transport))
    targets = ctx.targets
    value.cancelled = lambda: targets.cancelled
    return value


def close_backend(value: HostBackend) -> None:
    value.close()
