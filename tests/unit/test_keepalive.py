"""TCP keepalive on the connections a serve worker keeps: a directory connection and a
ticket system's pooled HTTP connection each carry SO_KEEPALIVE, with the probe timings
below a kept connection's age, read back from the real socket with getsockopt.

A firewall that forgets an idle connection drops it without a word; the kernel's probes
find that out while the connection idles, instead of the next request waiting out its
timeout. The real ldap3 transport against a scripted peer, and the real httpx client of
the ServiceNow backend against its protocol-level fake.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from adminkit.accounts import ldapinternals
from adminkit.accounts.connection import Link
from adminkit.accounts.settings import DirectoryConfig
from adminkit.automation.warm import MAX_AGE
from adminkit.core import keepalive
from adminkit.core.secrets import Secret
from adminkit.tickets.servicenow import ServiceNow
from tests.fakes.ldappeer import Peer
from tests.fakes.servicenow import FakeServiceNow
from tests.fakes.ticketfake import profile_for


def assert_keepalive(sock: socket.socket) -> None:
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
    if hasattr(socket, "TCP_KEEPIDLE"):  # Linux: the per-connection timings
        idle = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)
        interval = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL)
        count = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT)
        assert (idle, interval, count) == (keepalive.IDLE, keepalive.INTERVAL,
                                           keepalive.COUNT)
        assert idle + interval * count < MAX_AGE  # noticed before the kept one is reused


@pytest.fixture
def peer() -> Iterator[Peer]:
    with Peer() as p:
        yield p


def test_a_directory_connection_has_keepalive(peer: Peer) -> None:
    link = Link(DirectoryConfig(kind="openldap", url=peer.url, base_dn="dc=example,dc=org",
                                bind_user="cn=svc,dc=example,dc=org", password="env:UNUSED",
                                insecure=True, timeout=5), Secret("Svc-Secret-1"))
    try:
        assert link.conn is not None
        sock = ldapinternals.socket_of(link.conn)
        assert sock is not None
        assert_keepalive(sock)
    finally:
        link.close()


def test_a_ticket_systems_http_connection_has_keepalive(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeServiceNow() as fake:
        fake.record("INC0012345")
        system = ServiceNow(profile_for(fake, monkeypatch))
        try:
            response = system.http.get("/api/now/table/incident", params={
                "sysparm_limit": 1, "sysparm_fields": "sys_id"})
            assert response.status_code == 200
            stream = response.extensions["network_stream"]
            sock = stream.get_extra_info("socket")
            assert isinstance(sock, socket.socket)
            assert_keepalive(sock)
        finally:
            system.close()
