"""An SSH fleet of a test module's own (another /24 of 127/8), for tests that restart,
stop or re-key hosts, so that the session's shared fleet is never touched."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from adminkit.deploy.settings import HostConfig, SSHSettings
from adminkit.deploy.ssh import SSHBackend
from adminkit.lab.ssh import SshFleet


def fleet_fixture(name: str, *, hosts: int, subnet: str
                  ) -> Callable[[pytest.TempPathFactory], Iterator[SshFleet]]:
    """A module-scoped fixture: `hosts` hosts on `subnet`.N in a temporary folder, set up,
    started and waited for; stopped by PID after the module (SshFleet.running)."""

    @pytest.fixture(scope="module")
    def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshFleet]:
        with SshFleet(tmp_path_factory.mktemp(name), hosts=hosts, subnet=subnet).running() as f:
            yield f

    return fleet


def logged_in(fleet: SshFleet, index: int = 0, *, deadline: float = 60.0) -> SSHBackend:
    """A backend logged in to the fleet's host `index` as the fleet's profile says."""
    host = fleet.fleet[index]
    return SSHBackend(HostConfig(name=host.name, address=host.address),
                      SSHSettings(**fleet.profile()["inventory"]["ssh"]), deadline=deadline)
