"""Domains are plug-ins: each brings its profile sections, actions and checks.

A domain package (accounts, tickets, printing, deploy, or a third party's) registers
one `Domain` under the `adminkit.domains` entry point group. The `Domain` object
names everything by import path, so finding the domains imports none of their code:
`adminkit --help` stays light, and a profile load imports only the settings models.
Nothing in core keeps a list of domains or of backend kinds.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from adminkit.core.entrypoints import entry_points, load
from adminkit.core.errors import ConfigError

if TYPE_CHECKING:
    from adminkit.core.action import Action
    from adminkit.core.config import Profile
    from adminkit.core.health import Probe

GROUP = "adminkit.domains"


@dataclass(frozen=True)
class Domain:
    """What a domain contributes, each as "module:attribute" (imported when needed).

    - sections: a mapping of profile section name -> pydantic model or type
      (`directory: DirectoryConfig`); the section is optional in a profile.
    - actions: a mapping of action name -> Action class (`account.disable`).
    - probes: a function (profile) -> list of `Probe`, for `profile check`.
    """

    name: str
    sections: str | None = None
    actions: str | None = None
    probes: str | None = None


def load_path(path: str) -> Any:
    return load(path)


@functools.cache
def domains() -> dict[str, Domain]:
    """Every installed domain, by name."""
    found: dict[str, Domain] = {}
    for name, value in sorted(entry_points(GROUP).items()):
        try:
            domain = load(value)
        except Exception as exc:  # noqa: BLE001 - a broken plug-in is named, not "a bug"
            raise ConfigError(f"the plug-in {name} ({GROUP}: {value}) cannot be loaded: "
                              f"{type(exc).__name__}: {exc}",
                              hint="reinstall or uninstall the package that provides it"
                              ) from None
        if not isinstance(domain, Domain):
            raise ConfigError(f"entry point {name} in {GROUP} is not a Domain ({value})")
        if domain.name in found:
            raise ConfigError(f"two plug-ins both call themselves the domain {domain.name!r} "
                              f"({GROUP}: {name} = {value})",
                              hint="uninstall one of them; a domain name is taken once")
        found[domain.name] = domain
    return found


@functools.cache
def sections() -> dict[str, Any]:
    """Profile section name -> its type, over every domain; a name owned twice is an error."""
    merged: dict[str, Any] = {}
    owner: dict[str, str] = {}
    for domain in domains().values():
        if domain.sections is None:
            continue
        for key, model in dict(load_path(domain.sections)).items():
            if key in merged:
                raise ConfigError(f"profile section {key!r} is claimed by the domains "
                                  f"{owner[key]} and {domain.name}")
            merged[key], owner[key] = model, domain.name
    return merged


@functools.cache
def actions() -> dict[str, type[Action[Any]]]:
    """Action name -> class, over every domain."""
    merged: dict[str, type[Action[Any]]] = {}
    for domain in domains().values():
        if domain.actions is None:
            continue
        found: Mapping[str, type[Action[Any]]] = load_path(domain.actions)
        for name, cls in found.items():
            if name in merged and merged[name] is not cls:
                raise ConfigError(f"action {name!r} is defined by two domains")
            merged[name] = cls
    return merged


def probes(profile: Profile) -> list[Probe]:
    """What `profile check` should try for this profile, over every domain."""
    found: list[Probe] = []
    for domain in domains().values():
        if domain.probes is not None:
            make: Callable[[Profile], list[Probe]] = load_path(domain.probes)
            found.extend(make(profile))
    return found


def reset() -> None:
    """Forget what was found (tests that install a domain at run time)."""
    from adminkit.core import entrypoints

    entrypoints.forget()
    for cached in (domains, sections, actions):
        cached.cache_clear()
