"""An in-memory host backend for the deploy actions' logic (the SSH backend is tested on
the lab's fleet: tests/integration/test_deploy_ssh.py). Hosts named `down*` cannot be
reached; every host offers the same repository."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from adminkit.core.errors import ConnectionFailed
from adminkit.deploy.backend import (
    CommandResult,
    Facts,
    PackageOutcome,
    PackageSpec,
    PackageState,
    Update,
)
from adminkit.deploy.settings import HostConfig

REPO = {"demo": ("1.0", "1.1"), "tool": ("2.0",)}


@dataclass
class FakeHost:
    installed: dict[str, str] = field(default_factory=dict)
    leftovers: set[str] = field(default_factory=set)
    opened: int = 0


HOSTS: dict[str, FakeHost] = {}
LOCK = threading.Lock()


class FakeBackend:
    def __init__(self, host: HostConfig) -> None:
        self.host = host
        self.cancelled = lambda: False
        with LOCK:
            self.state = HOSTS.setdefault(host.name, FakeHost())
            self.state.opened += 1

    def check(self, spec: PackageSpec) -> None:
        pass

    def facts(self) -> Facts:
        return Facts(host=self.host.name, os="Fake", package_manager="fake")

    def reboot_pending(self) -> bool:
        return self.facts().reboot_pending

    def package_states(self, names: Sequence[str], *, refresh: str = "when-needed"
                       ) -> dict[str, PackageState]:
        return {n: PackageState(n, self.state.installed.get(n),
                                REPO[n][-1] if n in REPO else None, REPO.get(n, ()),
                                leftovers=n in self.state.leftovers) for n in names}

    def installed(self) -> dict[str, str]:
        return dict(self.state.installed)

    def outdated(self, *, security_only: bool = False) -> dict[str, Update]:
        return {n: Update(n, v, REPO[n][-1], "fake") for n, v in self.state.installed.items()
                if v != REPO[n][-1] and not security_only}

    def _outcome(self, names: Sequence[str]) -> PackageOutcome:
        return PackageOutcome(states=self.package_states(names))

    def install(self, specs: Sequence[PackageSpec]) -> PackageOutcome:
        for spec in specs:
            self.state.installed[spec.name] = spec.version or REPO[spec.name][-1]
            self.state.leftovers.discard(spec.name)
        return self._outcome([s.name for s in specs])

    upgrade = install

    def remove(self, names: Sequence[str], *, purge: bool = False) -> PackageOutcome:
        for name in names:
            self.state.installed.pop(name, None)
            if purge:
                self.state.leftovers.discard(name)
            else:
                self.state.leftovers.add(name)
        return self._outcome(names)

    def run(self, argv: Sequence[str], *, sudo: bool = False, timeout: float | None = None,
            interruptible: bool = True) -> CommandResult:
        return CommandResult(tuple(argv), 0, " ".join(argv) + "\n", "", 0.0)

    def close(self) -> None:
        pass


def open_fake(host: HostConfig, inventory: Any, profile: Any) -> FakeBackend:
    if host.name.startswith("down"):
        raise ConnectionFailed(f"host {host.name} ({host.address}): Connection refused")
    return FakeBackend(host)
