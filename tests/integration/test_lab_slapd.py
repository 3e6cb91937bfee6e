"""The lab's OpenLDAP server, checked by what a real client sees on the wire."""

from __future__ import annotations

import os
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ldap3 import AUTO_BIND_TLS_BEFORE_BIND, BASE, MODIFY_ADD, Connection, Server, Tls
from ldap3.core.exceptions import LDAPSocketOpenError

from adminkit.accounts.settings import DirectoryConfig
from adminkit.core.secrets import resolve
from adminkit.lab import process
from adminkit.lab.base import LabServer
from adminkit.lab.slapd import SERVICE_DN, SUFFIX, SlapdServer

pytestmark = pytest.mark.integration

PEOPLE = f"ou=people,{SUFFIX}"
STAFF = f"cn=staff,ou=groups,{SUFFIX}"


@pytest.fixture(scope="module")
def server(slapd: LabServer) -> Iterator[SlapdServer]:
    """The session's slapd, in its golden state before and after this module."""
    assert isinstance(slapd, SlapdServer)
    slapd.reset()
    yield slapd
    slapd.reset()


@pytest.fixture(scope="module")
def svc_pw(server: SlapdServer) -> str:
    return server.secret_file("adminkit").read_text()


def tls(ca: Path) -> Tls:
    return Tls(ca_certs_file=str(ca), validate=ssl.CERT_REQUIRED)


def ldaps(server: SlapdServer, user: str, pw: str, *, ca: Path | None = None) -> Connection:
    srv = Server("ldaps://localhost:3636", tls=tls(ca or server.ca_file), connect_timeout=5)
    return Connection(srv, user, pw, auto_bind=True, receive_timeout=10)


def read(conn: Connection, dn: str, *attrs: str) -> dict[str, Any] | None:
    if not conn.search(dn, "(objectClass=*)", BASE, attributes=list(attrs) or ["*"]):
        return None
    attributes: dict[str, Any] = conn.response[0]["attributes"]
    return attributes


def add_user(conn: Connection, uid: str, password: str) -> str:
    dn = f"uid={uid},{PEOPLE}"
    assert conn.add(dn, ["inetOrgPerson"], {"uid": uid, "cn": uid, "sn": uid,
                                            "userPassword": password}), conn.result
    return dn


def test_ldaps_bind_with_certificate_validation(server: SlapdServer, svc_pw: str) -> None:
    conn = ldaps(server, SERVICE_DN, svc_pw)
    assert conn.extend.standard.who_am_i() == f"dn:{SERVICE_DN}"
    assert read(conn, PEOPLE, "ou") == {"ou": ["people"]}
    conn.unbind()


def test_starttls_on_3389(server: SlapdServer, svc_pw: str) -> None:
    srv = Server("ldap://localhost:3389", tls=tls(server.ca_file), connect_timeout=5)
    conn = Connection(srv, SERVICE_DN, svc_pw, auto_bind=AUTO_BIND_TLS_BEFORE_BIND)
    assert conn.tls_started
    assert conn.extend.standard.who_am_i() == f"dn:{SERVICE_DN}"
    conn.unbind()


def test_plain_bind_on_3389_is_accepted_by_the_server(server: SlapdServer, svc_pw: str) -> None:
    # slapd (as the recipe configures it) does not demand TLS for a simple bind: refusing
    # a cleartext bind is the client's job (DirectoryConfig.insecure defaults to False).
    conn = Connection(Server("ldap://127.0.0.1:3389"), SERVICE_DN, svc_pw, auto_bind=True)
    assert not conn.tls_started
    assert conn.extend.standard.who_am_i() == f"dn:{SERVICE_DN}"
    conn.unbind()


def test_ldapi_maps_root_to_the_rootdn(server: SlapdServer) -> None:
    done = subprocess.run(["ldapwhoami", "-Q", "-Y", "EXTERNAL", "-H", server.ldapi_url],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"dn:cn=admin,{SUFFIX}"
    assert server.socket.is_socket()
    assert server.socket.parent.stat().st_mode & 0o077 == 0  # other users cannot connect


def test_wrong_ca_fails_certificate_validation(
    server: SlapdServer, svc_pw: str, tmp_path: Path
) -> None:
    other_ca = tmp_path / "other-ca.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=not the lab",
                    "-keyout", str(tmp_path / "other-ca.key"), "-out", str(other_ca)],
                   check=True, capture_output=True)
    with pytest.raises(LDAPSocketOpenError, match=r"(?i)certificate verify failed"):
        ldaps(server, SERVICE_DN, svc_pw, ca=other_ca)


def test_name_not_in_certificate_is_refused(server: SlapdServer, svc_pw: str) -> None:
    srv = Server(f"ldaps://{_other_loopback_name()}:3636", tls=tls(server.ca_file))
    with pytest.raises(LDAPSocketOpenError, match="doesn't match"):
        Connection(srv, SERVICE_DN, svc_pw, auto_bind=True)


def _other_loopback_name() -> str:
    """A name for 127.0.0.1 that the server certificate does not carry."""
    import socket

    for name in (socket.gethostname(), "127.0.0.1.nip.io"):
        try:
            if socket.gethostbyname(name) == "127.0.0.1" and name != "localhost":
                return name
        except OSError:
            continue
    pytest.skip("no other name resolves to 127.0.0.1 here")


def test_ppolicy_locks_after_five_bad_binds(server: SlapdServer, svc_pw: str) -> None:
    admin = ldaps(server, SERVICE_DN, svc_pw)
    dn = add_user(admin, "ppolicy.lock", "Right-Pass-123")
    ldaps(server, dn, "Right-Pass-123").unbind()
    attrs = read(admin, dn, "pwdAccountLockedTime")
    assert attrs is not None
    assert not attrs["pwdAccountLockedTime"]
    for _ in range(5):
        bad = Connection(Server("ldaps://localhost:3636", tls=tls(server.ca_file)), dn, "wrong-1")
        assert not bad.bind()
        assert bad.result["result"] == 49
    attrs = read(admin, dn, "pwdAccountLockedTime", "pwdFailureTime")
    assert attrs is not None
    assert attrs["pwdAccountLockedTime"]
    assert len(attrs["pwdFailureTime"]) == 5
    locked = Connection(Server("ldaps://localhost:3636", tls=tls(server.ca_file)), dn,
                        "Right-Pass-123")
    assert not locked.bind()  # the right password no longer helps
    admin.unbind()


def test_memberof_appears_for_staff_member(server: SlapdServer, svc_pw: str) -> None:
    admin = ldaps(server, SERVICE_DN, svc_pw)
    dn = add_user(admin, "memberof.user", "Member-Pass-123")
    assert admin.modify(STAFF, {"member": [(MODIFY_ADD, [dn])]}), admin.result
    attrs = read(admin, dn, "memberOf")
    assert attrs is not None
    assert attrs["memberOf"] == [STAFF]
    admin.unbind()


def test_reset_restores_the_golden_state(server: SlapdServer, svc_pw: str) -> None:
    admin = ldaps(server, SERVICE_DN, svc_pw)
    dn = add_user(admin, "reset.me", "Reset-Pass-123")
    assert read(admin, dn, "uid") is not None
    admin.unbind()
    old = server.procs.load("slapd")
    server.reset()
    assert server.is_running()
    assert server.procs.load("slapd") != old  # really restarted
    admin = ldaps(server, SERVICE_DN, svc_pw)
    assert read(admin, dn, "uid") is None
    assert admin.result["result"] == 32  # noSuchObject
    assert read(admin, STAFF, "member") == {"member": [f"cn=nobody,{SUFFIX}"]}
    admin.unbind()


def test_record_holds_slapds_real_pid(server: SlapdServer) -> None:
    (proc,) = server.procs.load("slapd")
    assert process.alive(proc)
    assert proc.pid == int(server.pid_file.read_text())
    assert os.readlink(f"/proc/{proc.pid}/exe") == "/usr/sbin/slapd"
    assert os.getpgid(proc.pid) == proc.pid  # own session: stop signals only its group


def test_no_password_in_any_command_line(server: SlapdServer, svc_pw: str) -> None:
    secrets = [server.secret_file(n).read_bytes() for n in ("admin", "adminkit")]
    assert all(len(s) >= 16 for s in secrets)
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes()
        except OSError:
            continue  # exited meanwhile
        assert not any(s in argv for s in secrets), f"a lab password is in {cmdline}"


def test_secrets_only_in_private_files(server: SlapdServer) -> None:
    secrets = [server.secret_file(n).read_bytes() for n in ("admin", "adminkit")]
    assert server.conf.stat().st_mode & 0o077 == 0
    assert b"rootpw    {SSHA}" in server.conf.read_bytes()
    for path in server.dir.rglob("*"):
        if not path.is_file() or path.stat().st_size > 1 << 20:
            continue
        private = path.stat().st_mode & 0o077 == 0
        data = path.read_bytes()
        assert private or not any(s in data for s in secrets), f"{path} holds a password"
    for key in ("ca.key", "server.key"):
        assert (server.tls / key).stat().st_mode & 0o777 == 0o600


def test_profile_fragment_validates(server: SlapdServer, svc_pw: str) -> None:
    cfg = DirectoryConfig.model_validate(server.profile()["directory"])
    assert cfg.kind == "openldap"
    assert resolve(cfg.password).reveal() == svc_pw
    assert cfg.ca_file is not None
    # The profile's own URL and CA are what a backend would use: they must work as given.
    srv = Server(cfg.url, tls=tls(cfg.ca_file), connect_timeout=5)
    conn = Connection(srv, cfg.bind_user, svc_pw, auto_bind=True)
    assert read(conn, cfg.users_ou or "", "ou") == {"ou": ["people"]}
    assert read(conn, cfg.quarantine_ou or "", "ou") == {"ou": ["disabled"]}
    conn.unbind()
