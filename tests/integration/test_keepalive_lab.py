"""TCP keepalive on the lab directories' real LDAPS connections (slapd, Samba AD), opened
as a run opens them (`open_directory`: the bind password read from the profile's secret
store, again at each connection). The options are read back from the socket ldap3 holds,
TLS and all; the unit tests do the same against a scripted peer and the ServiceNow fake."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from adminkit.accounts import ldapinternals
from adminkit.accounts.directory import open_directory
from adminkit.automation.warm import MAX_AGE
from adminkit.core import keepalive
from adminkit.core.config import load_profile
from adminkit.lab.base import LabServer

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("server", "profile_name"), [("slapd", "lab-openldap"),
                                                       ("samba", "lab")])
def test_a_lab_directory_connection_has_keepalive(request: pytest.FixtureRequest,
                                                  lab_config_dir: Path, server: str,
                                                  profile_name: str) -> None:
    up: LabServer = request.getfixturevalue(server)
    assert up is not None
    directory = open_directory(load_profile(profile_name, lab_config_dir))
    try:
        link = directory.link  # type: ignore[attr-defined]
        assert link.conn is not None
        assert directory.find_user("no-such-login-keepalive") is None  # bound and answering
        sock = ldapinternals.socket_of(link.conn)
        assert sock is not None
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        idle = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)
        interval = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL)
        count = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT)
        assert (idle, interval, count) == (keepalive.IDLE, keepalive.INTERVAL, keepalive.COUNT)
        assert idle + interval * count < MAX_AGE
    finally:
        directory.close()
