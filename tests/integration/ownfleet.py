"""An SSH fleet of a test module's own (another /24 of 127/8), for tests that restart,
stop or re-key hosts, so that the session's shared fleet is never touched."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

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
