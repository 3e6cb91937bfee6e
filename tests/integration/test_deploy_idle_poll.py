"""A host's connection, logged in over the tuned socket made before paramiko's import,
polls whether it was closed once a second, not ten times (deploy/ssh.py `_transport`):
it still runs commands, and its thread ends after `close`. On a fleet of this module's
own (127.0.101.x)."""

from __future__ import annotations

import socket

import pytest

from adminkit.deploy.ssh import IDLE_POLL
from adminkit.lab.ssh import SshFleet
from tests.integration.ownfleet import fleet_fixture, logged_in

pytestmark = pytest.mark.integration
SUBNET = "127.0.101"  # no lab server, test or bench uses it

fleet = fleet_fixture("idle-poll", hosts=1, subnet=SUBNET)


def test_a_connection_polls_once_a_second_runs_commands_and_ends(fleet: SshFleet) -> None:
    backend = logged_in(fleet)
    transport = backend.client.get_transport()
    try:
        assert transport is not None
        assert transport.sock.gettimeout() == IDLE_POLL
        assert transport.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        assert backend.run(["uname", "-n"]).stdout.strip() == "h1"
        assert backend.run(["echo", "$(id)", ";", "`x`"]).stdout == "$(id) ; `x`\n"
    finally:
        backend.close()
    assert transport is not None
    transport.join(timeout=30)  # it wakes at its next look and sees the close
    assert not transport.is_alive()
