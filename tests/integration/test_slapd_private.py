"""A slapd of a bench's or a test's own, beside the lab's: its own folder and ports."""

from __future__ import annotations

import socket
import ssl
import subprocess
from pathlib import Path

import pytest
from ldap3 import BASE, Connection, Server, Tls

from adminkit.lab import base
from adminkit.lab.slapd import HOST, LDAPS_PORT, POLICY_DN, SERVICE_DN, SUFFIX, SlapdServer

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


def test_a_kept_directory_connection_reads_policy_and_protections_afresh(
        tmp_path: Path) -> None:
    """What a serve worker does before each run on a connection it kept: the password
    policy changed meanwhile is read anew (`forget_cached`), on the same connection."""
    from adminkit.accounts.directory import open_directory
    from adminkit.core.config import Profile

    server = SlapdServer(tmp_path / "lab", ldap_port=_free_port(), ldaps_port=_free_port())
    with server.running():
        directory = open_directory(Profile.of(name="own", **server.profile()))
        try:
            assert directory.password_policy().min_length == 8
            done = subprocess.run(
                ["ldapmodify", "-Q", "-Y", "EXTERNAL", "-H", server.ldapi_url],
                input=f"dn: {POLICY_DN}\nchangetype: modify\nreplace: pwdMinLength\n"
                      "pwdMinLength: 12\n", capture_output=True, text=True, check=False)
            assert done.returncode == 0, done.stderr
            assert directory.password_policy().min_length == 8  # cached within a run
            directory.forget_cached()  # type: ignore[attr-defined]
            assert directory.password_policy().min_length == 12
        finally:
            directory.close()
