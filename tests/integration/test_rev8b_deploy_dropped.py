"""The connection lost while a package write runs on the host (deploy/ssh.py `_write`),
on a fleet of this module's own (127.0.88.x).

The write and its read-back are one exec: once it is sent, a lost connection leaves the
write done, half done or not done. paramiko gives a channel closed with no exit status
the exit -1, and it was reported as the write failing ("host h1: apt install exited
-1:" and an empty tail), a plain failure in the journal, not an unknown outcome
(`OutcomeUnknown`, which whoever resumes settles by reading the host).
"""

from __future__ import annotations

import threading

import pytest

from adminkit.core.errors import OutcomeUnknown
from adminkit.deploy.backend import PackageSpec
from adminkit.deploy.settings import HostConfig, SSHSettings
from adminkit.deploy.ssh import SSHBackend
from adminkit.lab.ssh import SshFleet
from tests.integration.ownfleet import fleet_fixture

pytestmark = pytest.mark.integration
SUBNET = "127.0.88"  # no lab server, test or bench uses it

fleet = fleet_fixture("rev8b-dropped", hosts=1, subnet=SUBNET)


def test_a_connection_lost_during_the_write_is_an_unknown_outcome(fleet: SshFleet) -> None:
    ssh = SSHSettings(**fleet.profile()["inventory"]["ssh"])
    host = HostConfig(name="h1", address=fleet.fleet[0].address)
    backend = SSHBackend(host, ssh, deadline=60)
    try:
        transport = backend.client.get_transport()
        assert transport is not None
        threading.Timer(1.0, transport.close).start()  # the link drops mid-write
        with pytest.raises(OutcomeUnknown, match="may or may not"):
            backend._write(["sh", "-c", "sleep 5"], [PackageSpec("coreutils")])
    finally:
        backend.close()
