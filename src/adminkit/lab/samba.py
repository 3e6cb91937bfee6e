"""Samba 4 as an Active Directory DC on 127.0.0.1, LDAP/LDAPS only (see docs/lab.md).

Provisioning takes seconds, so it happens once; `reset()` restores a golden copy of the
provisioned tree instead (about a second). Passwords reach Samba through the stdin of a
seeding script run by Debian's Python with the `samba` bindings, never through argv.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any, ClassVar

from adminkit.core.errors import LabError
from adminkit.lab import base, process

REALM = "SAMDOM.EXAMPLE.COM"
UPN_SUFFIX = "samdom.example.com"
BASE_DN = "DC=samdom,DC=example,DC=com"
ADMIN_UPN = f"Administrator@{UPN_SUFFIX}"
OPERATOR = "hd.operator"
OUS = ("Staff", "Groups", "Quarantine")
GROUPS = ("Helpdesk-Agents", "Staff-All")
PORTS = (389, 636, 3268, 3269)  # what `server services=ldap` listens on
SAMBA = "/usr/sbin/samba"  # absolute: a non-root PATH lacks /usr/sbin
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's; the `samba` bindings live there, not in a venv
# A unix socket path holds at most 107 bytes; Samba's messaging socket must fit
# (a longer private/ldap_priv/ldapi only loses that socket, which the lab does not use).
MAX_SOCKET_PATH = 107

# Runs under SYSTEM_PYTHON; reads its settings, passwords included, as JSON on stdin and
# drives samba-tool's own command classes in-process, so argv holds no secret.
_SEED = r"""
import json, sys
from samba.netcmd.main import cmd_sambatool
from samba.samdb import SamDB
from samba.auth import system_session
from samba.param import LoadParm
from samba.dcerpc import security
from samba.ndr import ndr_unpack

cfg = json.load(sys.stdin)
tree, conf, db = cfg["tree"], cfg["tree"] + "/etc/smb.conf", cfg["tree"] + "/private/sam.ldb"

def tool(*args, local=True):
    args = list(args) + (["-H", db, "-s", conf] if local else [])
    cmd = cmd_sambatool()
    try:
        rc = cmd._run("samba-tool", *args)
    except Exception as exc:
        cmd.show_command_error(exc)
        rc = 1
    if rc:
        sys.exit("seed: samba-tool %s %s failed" % (args[0], args[1]))

tool("domain", "provision", "--targetdir=" + tree, "--realm=" + cfg["realm"],
     "--domain=" + cfg["domain"], "--host-name=dc1", "--server-role=dc",
     "--dns-backend=SAMBA_INTERNAL", "--use-rfc2307", "--host-ip=127.0.0.1",
     "--adminpass=" + cfg["admin"], "-s", cfg["base_conf"],
     *["--option=" + o for o in cfg["options"]], local=False)
tool("domain", "passwordsettings", "set", "--min-pwd-age=0", "--account-lockout-threshold=3",
     "--account-lockout-duration=5", "--reset-account-lockout-after=5")
tool("user", "setexpiry", "Administrator", "--noexpiry")
for ou in cfg["ous"]:
    tool("ou", "create", "OU=" + ou)
for group in cfg["groups"]:
    tool("group", "add", group, "--groupou=OU=Groups")
tool("user", "create", cfg["operator"], cfg["operator_password"])
tool("user", "setexpiry", cfg["operator"], "--noexpiry")
tool("group", "addmembers", "Helpdesk-Agents", cfg["operator"])
lp = LoadParm()
lp.load(conf)
sam = SamDB(url=db, session_info=system_session(), lp=lp)
found = sam.search(base=sam.domain_dn(), expression="(sAMAccountName=%s)" % cfg["operator"],
                   attrs=["objectSid"])
sid = str(ndr_unpack(security.dom_sid, found[0]["objectSid"][0]))
user_class = "bf967aba-0de6-11d0-a285-00aa003049e2"
rights = [("CR", "00299570-246d-11d0-a768-00aa006e0529"),  # Reset Password
          ("RPWP", "bf967a0a-0de6-11d0-a285-00aa003049e2"),  # pwdLastSet
          ("RPWP", "28630ebf-41d5-11d1-a9c1-0000f80367c1"),  # lockoutTime
          ("RPWP", "bf967a68-0de6-11d0-a285-00aa003049e2")]  # userAccountControl
sddl = "".join("(OA;CIIO;%s;%s;%s;%s)" % (r, g, user_class, sid) for r, g in rights)
tool("dsacl", "set", "--objectdn=OU=Staff," + sam.domain_dn(), "--sddl=" + sddl)
"""


class SambaServer(base.LabServer):
    """The lab's Active Directory: realm SAMDOM.EXAMPLE.COM, LDAPS on localhost:636."""

    name: ClassVar[str] = "samba"
    apt_packages: ClassVar[tuple[str, ...]] = (
        "samba", "samba-ad-provision", "samba-dsdb-modules", "samba-vfs-modules",
        "ldap-utils", "openssl",
    )
    ready_timeout: ClassVar[float] = 60.0

    def __init__(self, lab_dir: Path) -> None:
        super().__init__(lab_dir)
        self.dir = self.dir.absolute()  # smb.conf and the profile need absolute paths
        self.tls = self.dir / "tls"
        self.tree = self.dir / "samba"
        self.golden = self.dir / "golden"
        self.run_dir = self.dir / "run"
        self.secrets = self.dir / "secrets"
        self.conf = self.tree / "etc" / "smb.conf"
        self.ca_file = self.tls / "ca.pem"
        self.admin_secret = self.secrets / "administrator"
        self.operator_secret = self.secrets / OPERATOR

    # -- set up -------------------------------------------------------------------
    def is_set_up(self) -> bool:
        return ((self.golden / "etc" / "smb.conf").is_file() and self.admin_secret.is_file()
                and self.operator_secret.is_file() and self.ca_file.is_file())

    def setup(self) -> None:
        """Certificates, provision, policy, OUs, groups and operator; then the golden copy."""
        if self.is_set_up():
            return
        self._check_path_length()
        # traversable, so the CA can be handed to a non-root client; secrets stay private
        for folder, mode in ((self.dir, 0o711), (self.tls, 0o755), (self.run_dir, 0o700),
                             (self.secrets, 0o700)):
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(mode)
        self._make_tls()
        for partial in (self.tree, self.golden, self.dir / "golden.tmp"):
            shutil.rmtree(partial, ignore_errors=True)
        self._seed()
        _copy_tree(self.tree, self.dir / "golden.tmp")
        (self.dir / "golden.tmp").rename(self.golden)  # a golden copy is whole or absent

    def _check_path_length(self) -> None:
        """Samba exits ("failed to setup parent messaging") if <tree>/msg.sock/<pid> is too long."""
        try:
            pid_digits = len(Path("/proc/sys/kernel/pid_max").read_text().strip())
        except OSError:
            pid_digits = 7
        longest = len(os.fsencode(self.tree / "msg.sock")) + 1 + pid_digits
        if longest > MAX_SOCKET_PATH:
            room = MAX_SOCKET_PATH - (longest - len(os.fsencode(self.lab_dir.absolute())))
            raise LabError(
                f"samba: the lab folder {self.lab_dir} is too long for Samba's unix sockets",
                hint=f"set ADMINKIT_LAB_DIR to a path of at most {room} characters",
            )

    def _make_tls(self) -> None:
        """Own CA and a server certificate for localhost / 127.0.0.1 (keys 0600: Samba checks)."""
        t = self.tls
        if all((t / f).is_file() for f in ("ca.pem", "dc.pem", "dc.key")):
            return
        (t / "dc.ext").write_text(
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
            "keyUsage=digitalSignature,keyEncipherment\nbasicConstraints=CA:FALSE\n")
        ssl_cmds = [
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
             "-subj", "/CN=adminkit lab CA", "-keyout", "ca.key", "-out", "ca.pem"],
            ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
             "-keyout", "dc.key", "-out", "dc.csr"],
            ["x509", "-req", "-in", "dc.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "825", "-extfile", "dc.ext", "-out", "dc.pem"],
        ]
        old_umask = os.umask(0o077)
        try:
            for args in ssl_cmds:
                _run(["openssl", *args], cwd=t, what="openssl " + args[0])
        finally:
            os.umask(old_umask)
        for key in ("ca.key", "dc.key"):
            (t / key).chmod(0o600)
        for public in ("ca.pem", "dc.pem"):
            (t / public).chmod(0o644)

    def _seed(self) -> None:
        run = self.run_dir
        options = [
            "interfaces=127.0.0.1", "bind interfaces only=yes",
            f"log file={self.tree}/log.samba", f"pid directory={run}",
            f"ncalrpc dir={run}/ncalrpc", f"winbindd socket directory={run}/winbindd",
            f"ntp signd socket directory={run}/ntp_signd", "dns forwarder=127.0.0.1",
            f"tls keyfile={self.tls}/dc.key", f"tls certfile={self.tls}/dc.pem",
            f"tls cafile={self.ca_file}",
        ]
        # An empty base config: provision would otherwise copy /etc/samba/smb.conf's
        # settings and shares (homes, printers, passwd program) into ours.
        base_conf = self.run_dir / "provision-base.conf"
        base_conf.write_text("")
        settings = {
            "tree": str(self.tree), "base_conf": str(base_conf), "realm": REALM,
            "domain": REALM.split(".")[0],
            "options": options, "ous": OUS, "groups": GROUPS, "operator": OPERATOR,
            "admin": base.read_or_create_secret(self.admin_secret),
            "operator_password": base.read_or_create_secret(self.operator_secret),
        }
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        log = self.dir / "setup.log"
        with open(log, "ab") as out:
            result = subprocess.run([SYSTEM_PYTHON, "-c", _SEED],
                                    input=json.dumps(settings).encode(), stdout=out,
                                    stderr=subprocess.STDOUT, env=env, check=False)
        if result.returncode != 0:
            raise LabError(f"samba: provisioning failed (exit {result.returncode})",
                           hint=f"read {log}")

    # -- run ----------------------------------------------------------------------
    def start(self) -> None:
        for port in PORTS:
            base.require_port("127.0.0.1", port, "samba")
        if not self.conf.is_file():  # the working tree was removed: take the golden one
            _copy_tree(self.golden, self.tree)
        argv = [SAMBA, "-s", str(self.conf), "-l", str(self.tree), "-F", "--no-process-group",
                "--debug-stdout", "-M", "single", "--option=server services=ldap",
                "--option=ldb:nosync=true"]
        proc, _ = process.spawn(argv, log=self.log_file, cwd=self.dir)
        self.record([proc])

    def probe(self) -> None:
        """Bind over LDAPS as Administrator with the lab CA verified, then read the base."""
        import ssl

        from ldap3 import BASE, NONE, Connection, Server, Tls
        from ldap3.core.exceptions import LDAPException

        try:  # ldap3 leaks its socket when the connect is refused: look first
            with socket.create_connection(("127.0.0.1", 636), timeout=2):
                pass
        except OSError as exc:
            raise LabError(f"samba: nothing answers on 127.0.0.1:636 ({exc})") from None
        try:
            password = self.admin_secret.read_text().rstrip("\r\n")
            tls = Tls(ca_certs_file=str(self.ca_file), validate=ssl.CERT_REQUIRED)
            server = Server("localhost", port=636, use_ssl=True, tls=tls, connect_timeout=5,
                            get_info=NONE)
            conn = Connection(server, ADMIN_UPN, password, receive_timeout=10)
            try:
                if not conn.bind():
                    raise LabError(f"samba: bind as {ADMIN_UPN} failed: {conn.result['message']}")
                if not conn.search(BASE_DN, "(objectClass=domain)", BASE, attributes=["name"]):
                    raise LabError(f"samba: base search failed: {conn.result['message']}")
            finally:
                conn.unbind()
        except (OSError, LDAPException) as exc:
            raise LabError(f"samba: LDAPS probe failed: {type(exc).__name__}: {exc}") from None

    def reset(self) -> None:
        """Stop, put the golden tree back in place (smb.conf has absolute paths), restart."""
        if not self.is_set_up():
            raise LabError("samba: not set up, nothing to reset to",
                           hint="run `adminkit lab up samba` first")
        was_running = bool(self.procs.load(self.name))
        if was_running:
            self.stop()
        shutil.rmtree(self.tree, ignore_errors=True)
        _copy_tree(self.golden, self.tree)
        if was_running:
            self.start()
            self.wait_ready()

    # -- profile ------------------------------------------------------------------
    def profile(self) -> dict[str, Any]:
        return {
            "directory": {
                "kind": "ad",
                "url": "ldaps://localhost:636",
                "base_dn": BASE_DN,
                "bind_user": ADMIN_UPN,
                "password": f"file:{self.admin_secret}",
                "ca_file": str(self.ca_file),
                "users_ou": f"OU=Staff,{BASE_DN}",
                "groups_ou": f"OU=Groups,{BASE_DN}",
                "quarantine_ou": f"OU=Quarantine,{BASE_DN}",
                "upn_suffix": UPN_SUFFIX,
            },
            "policy": {
                "protected_accounts": ["Administrator", "krbtgt"],
                "protected_groups": ["Domain Admins", "Enterprise Admins", "Schema Admins",
                                     "Administrators"],
            },
        }


def _copy_tree(src: Path, dst: Path) -> None:
    """`cp -a`: keeps sparse tdb files sparse and the xattrs provisioning set."""
    _run(["cp", "-a", "--sparse=always", str(src), str(dst)], what=f"copying {src}")


def _run(argv: list[str], *, what: str, cwd: Path | None = None) -> None:
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise LabError(f"samba: {what} failed (exit {result.returncode})",
                       hint=result.stderr.strip()[-500:] or None)
