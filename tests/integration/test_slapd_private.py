"""A slapd of a bench's or a test's own, beside the lab's: its own folder and ports."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest
from ldap3 import BASE, Connection, Server, Tls

from adminkit.lab import base
from adminkit.lab.slapd import HOST, LDAPS_PORT, SERVICE_DN, SUFFIX, SlapdServer

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def test_a_private_slapd_answers_on_its_own_ports_and_stops_by_pid(tmp_path: Path) -> None:
    ldap_port, ldaps_port = _free_port(), _free_port()
    server = SlapdServer(tmp_path / "lab", ldap_port=ldap_port, ldaps_port=ldaps_port)
    assert server.profile()["directory"]["url"] == f"ldaps://localhost:{ldaps_port}"
    with server.running():
        assert not base.port_free(HOST, ldaps_port) and not base.port_free(HOST, ldap_port)
        tls = Tls(ca_certs_file=str(server.ca_file), validate=ssl.CERT_REQUIRED)
        conn = Connection(Server(f"ldaps://localhost:{ldaps_port}", tls=tls,
                                 connect_timeout=5),
                          SERVICE_DN, server.secret_file("adminkit").read_text(),
                          auto_bind=True, receive_timeout=10)
        assert conn.search(SUFFIX, "(objectClass=*)", BASE, attributes=["dc"])
        assert conn.response[0]["attributes"]["dc"] == "example"
        conn.unbind()
        pid = server.running_procs()[0].pid
    assert not Path(f"/proc/{pid}").exists() or not server.is_running()
    assert base.port_free(HOST, ldaps_port) and base.port_free(HOST, ldap_port)
    assert server.dir == tmp_path / "lab" / "slapd" and ldaps_port != LDAPS_PORT
