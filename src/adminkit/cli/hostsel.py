"""What `host` and `app` commands share: --hosts and --forks, and one run over hosts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from adminkit.cli.state import GlobalState

if TYPE_CHECKING:
    from adminkit.core.action import Action
    from adminkit.core.config import Profile
    from adminkit.deploy.patterns import Selection
    from adminkit.deploy.settings import InventoryConfig

HostsOpt = Annotated[str, typer.Option(
    "--hosts", "-H", help="Host pattern: names, globs, group:NAME, all; !… excludes "
                          "(e.g. 'web*,group:brno,!web3').")]
ForceOpt = Annotated[bool, typer.Option(
    "--force", help="More hosts than the profile's policy.bulk_limit.")]
ForksOpt = Annotated[int | None, typer.Option(
    "--forks", "-f", min=1, max=500, help="Hosts worked on at once (default: the "
                                          "inventory's forks, 20).")]


def selected(state: GlobalState, pattern: str) -> tuple[Profile, InventoryConfig, Selection]:
    """The profile, its inventory and the hosts `pattern` picks (exit 2 if none)."""
    from adminkit.cli.session import profile_of
    from adminkit.deploy.hosts import inventory_of
    from adminkit.deploy.patterns import select

    profile = profile_of(state)
    assert profile is not None
    inventory = inventory_of(profile)
    return profile, inventory, select(pattern, inventory.hosts)


def host_limit(command: str, hosts: int, profile: Profile, force: bool, *, what: str) -> None:
    """The profile's blast-radius limit on a run that removes, patches or restarts:
    more hosts than `policy.bulk_limit` only with --force (exit 4), checked before any
    host is contacted."""
    from adminkit.core.errors import PolicyRefused

    limit = profile.policy.bulk_limit
    if hosts > limit and not force:
        raise PolicyRefused(f"{command}: {hosts} hosts would be {what}, over the profile's "
                            f"limit of {limit} for one run",
                            hint="narrow --hosts; add --force if it is really meant")


def run_on_hosts(state: GlobalState, command: str, actions: list[Action[Any]],
                 inventory: InventoryConfig, forks: int | None) -> None:
    """One journaled run, an action per host, `forks` at once; exits with its code."""
    from adminkit.cli.session import execute, finish

    finish(execute(state, command, actions, workers=forks or inventory.forks))
