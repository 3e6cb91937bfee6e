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


def run_on_hosts(state: GlobalState, command: str, actions: list[Action[Any]],
                 inventory: InventoryConfig, forks: int | None) -> None:
    """One journaled run, an action per host, `forks` at once; exits with its code."""
    from adminkit.cli.session import execute, finish

    finish(execute(state, command, actions, workers=forks or inventory.forks))
