"""The Samba AD lab server: real LDAPS with a verified certificate, golden reset, clean argv."""

from __future__ import annotations

import os
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ldap3 import BASE, MODIFY_REPLACE, NONE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPSocketOpenError

from adminkit.accounts.settings import DirectoryConfig
from adminkit.core.config import PolicyConfig
from adminkit.core.secrets import resolve
from adminkit.lab.base import LabServer
from adminkit.lab.samba import BASE_DN, SambaServer

pytestmark = pytest.mark.integration

USER_DN = f"CN=Lab Reset Probe,OU=Staff,{BASE_DN}"


@pytest.fixture
def server(samba: LabServer) -> SambaServer:
    assert isinstance(samba, SambaServer)
    return samba


@pytest.fixture
def directory(server: SambaServer) -> DirectoryConfig:
    return DirectoryConfig.model_validate(server.profile()["directory"])


def connect(directory: DirectoryConfig, *, ca_file: Path | None = None,
            user: str | None = None, password: str | None = None) -> Connection:
    tls = Tls(ca_certs_file=str(ca_file or directory.ca_file), validate=ssl.CERT_REQUIRED)
    srv = Server("localhost", port=636, use_ssl=True, tls=tls, connect_timeout=5, get_info=NONE)
    if password is None:
        password = resolve(directory.password).reveal()
    conn = Connection(srv, user or directory.bind_user, password, receive_timeout=10)
    assert conn.bind(), conn.result
    return conn


def pw(value: str) -> bytes:
    return f'"{value}"'.encode("utf-16-le")


@pytest.fixture
def restore(server: SambaServer) -> Iterator[None]:
    """Tests that write to the directory leave it golden again."""
    yield
    server.reset()


def add_probe_user(conn: Connection) -> None:
    attrs: dict[str, Any] = {
        "sAMAccountName": "lab.probe", "userPrincipalName": "lab.probe@samdom.example.com",
        "unicodePwd": pw("Probe-Pass.1"), "userAccountControl": 512,
    }
    assert conn.add(USER_DN, ["top", "person", "organizationalPerson", "user"], attrs), conn.result


def test_ldaps_bind_with_verified_certificate_reads_the_seeded_tree(
    directory: DirectoryConfig,
) -> None:
    conn = connect(directory)
    assert conn.search(directory.users_ou, "(objectClass=organizationalUnit)", BASE,
                       attributes=["ou"])
    assert conn.entries[0].entry_dn == f"OU=Staff,{BASE_DN}"
    assert conn.search(directory.groups_ou, "(objectClass=group)", attributes=["cn"])
    assert {"Helpdesk-Agents", "Staff-All"} <= {e.cn.value for e in conn.entries}
    assert conn.search(directory.quarantine_ou, "(objectClass=*)", BASE)
    assert conn.search(BASE_DN, "(objectClass=domain)", BASE,
                       attributes=["lockoutThreshold", "minPwdAge"])
    assert int(conn.entries[0].lockoutThreshold.value) == 3  # get_info=NONE: strings
    assert int(conn.entries[0].minPwdAge.value) == 0
    conn.unbind()


def test_a_foreign_ca_fails_certificate_validation(
    directory: DirectoryConfig, tmp_path: Path,
) -> None:
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=not the lab CA", "-keyout", str(tmp_path / "k.pem"),
         "-out", str(tmp_path / "ca.pem")],
        check=True, capture_output=True,
    )
    with pytest.raises(LDAPSocketOpenError, match="CERTIFICATE_VERIFY_FAILED"):
        connect(directory, ca_file=tmp_path / "ca.pem")


@pytest.mark.usefixtures("restore")
def test_delegated_operator_resets_staff_passwords_only(
    server: SambaServer, directory: DirectoryConfig,
) -> None:
    admin = connect(directory)
    add_probe_user(admin)
    admin.unbind()
    operator = connect(directory, user="hd.operator@samdom.example.com",
                       password=server.operator_secret.read_text())
    assert operator.modify(USER_DN, {"unicodePwd": [(MODIFY_REPLACE, [pw("Reset-Pass.2")])]}), \
        operator.result
    admin_dn = f"CN=Administrator,CN=Users,{BASE_DN}"
    assert not operator.modify(admin_dn, {"unicodePwd": [(MODIFY_REPLACE, [pw("No-Way.3x")])]})
    assert operator.result["result"] == 50  # insufficientAccessRights
    operator.unbind()


def test_reset_restores_the_golden_directory(
    server: SambaServer, directory: DirectoryConfig,
) -> None:
    conn = connect(directory)
    add_probe_user(conn)
    assert conn.search(USER_DN, "(objectClass=user)", BASE)
    conn.unbind()

    server.reset()

    assert server.status().ready
    conn = connect(directory)
    assert not conn.search(USER_DN, "(objectClass=user)", BASE)
    assert conn.result["result"] == 32  # noSuchObject
    conn.unbind()


def test_status_is_ready_and_the_record_holds_the_samba_process(server: SambaServer) -> None:
    status = server.status()
    assert (status.set_up, status.running, status.ready) == (True, True, True), status.detail
    procs = server.procs.load("samba")
    assert len(procs) == 1
    pid = procs[0].pid
    assert os.readlink(f"/proc/{pid}/exe") == "/usr/sbin/samba"
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    assert cmdline.startswith(b"samba")  # samba retitles itself "samba: root process"
    assert os.getpgid(pid) == pid  # its own group, so a stop reaches exactly it


def test_no_password_in_any_command_line(server: SambaServer) -> None:
    secrets = [p.read_text().encode() for p in (server.admin_secret, server.operator_secret)]
    assert all(len(s) >= 12 for s in secrets)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        for secret in secrets:
            assert secret not in cmdline, f"a lab password is in the argv of PID {proc.name}"


def test_profile_fragment_validates(server: SambaServer, directory: DirectoryConfig) -> None:
    fragment = server.profile()
    PolicyConfig.model_validate(fragment["policy"])
    assert directory.kind == "ad"
    assert directory.url == "ldaps://localhost:636"
    assert directory.ca_file is not None
    assert directory.ca_file.is_file()
    assert directory.password == f"file:{server.admin_secret}"
    assert resolve(directory.password).reveal() == server.admin_secret.read_text()
    assert (server.admin_secret.stat().st_mode & 0o777) == 0o600
    for key in (server.tls / "ca.key", server.tls / "dc.key"):
        assert (key.stat().st_mode & 0o777) == 0o600
