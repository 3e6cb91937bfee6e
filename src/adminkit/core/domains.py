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
    - section_names: the keys of `sections`, optional (a domain without them has its
      settings module imported by every profile load).
    """

    name: str
    sections: str | None = None
    actions: str | None = None
    probes: str | None = None
    # the names of its sections, so a profile read lazily (`account show`) knows them
    # without importing their models; checked against `sections` when it is loaded
    section_names: tuple[str, ...] = ()


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
        found = dict(load_path(domain.sections))
        if domain.section_names and set(domain.section_names) != set(found):
            raise ConfigError(f"the domain {domain.name} names the profile sections "
                              f"{', '.join(domain.section_names)} but {domain.sections} "
                              f"has {', '.join(found) or 'none'}")
        for key, model in found.items():
            if key in merged:
                raise ConfigError(f"profile section {key!r} is claimed by the domains "
                                  f"{owner[key]} and {domain.name}")
            merged[key], owner[key] = model, domain.name
    return merged


@functools.cache
def section_owners() -> dict[str, Domain]:
    """Profile section name -> the domain that owns it; read from `section_names` where a
    domain gives them (nothing imported), from its settings module otherwise."""
    owners: dict[str, Domain] = {}
    for domain in domains().values():
        if domain.sections is None:
            continue
        if isinstance(domain.section_names, str):  # ("widgets",) written as "widgets"
            raise ConfigError(f"the domain {domain.name} gives section_names as one string "
                              f"({domain.section_names!r}), not a tuple of names",
                              hint="reinstall or update the package that provides it")
        for key in domain.section_names or tuple(dict(load_path(domain.sections))):
            if key in owners:
                raise ConfigError(f"profile section {key!r} is claimed by the domains "
                                  f"{owners[key].name} and {domain.name}")
            owners[key] = domain
    return owners


def section_type(key: str) -> Any:
    """One section's type, importing only the settings module of the domain that owns it."""
    domain = section_owners()[key]
    assert domain.sections is not None
    found = dict(load_path(domain.sections))
    if key not in found:
        raise ConfigError(f"the domain {domain.name} names the profile section {key!r}, "
                          f"which {domain.sections} does not have")
    return found[key]


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
    for cached in (domains, sections, section_owners, actions):
        cached.cache_clear()
