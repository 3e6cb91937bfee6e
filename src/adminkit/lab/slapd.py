"""OpenLDAP slapd 2.5 as a private lab directory (docs/lab.md says why and how).

One slapd from its own slapd.conf under `self.dir`, mdb with ppolicy, memberof and
refint, listening only on loopback: StartTLS on 3389, LDAPS on 3636, and an ldapi
socket for root via SASL EXTERNAL. `reset()` restores a golden copy of the database
taken right after seeding (tens of milliseconds instead of re-seeding).

Passwords never reach a child's argv or a world-readable file: they are generated
into 0600 files, hashed ({SSHA}) in Python, and the seed LDIF goes to slapadd on stdin.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

from adminkit.core.errors import LabError
from adminkit.lab import base, process

SUFFIX = "dc=example,dc=org"
ROOT_DN = f"cn=admin,{SUFFIX}"
SERVICE_DN = f"cn=adminkit,ou=services,{SUFFIX}"
COUNTER_DN = f"cn=counters,{SUFFIX}"
HOST = "127.0.0.1"
LDAP_PORT = 3389
LDAPS_PORT = 3636
# ldap3 checks the certificate against this name; the cert carries DNS:localhost and
# IP:127.0.0.1, and "localhost" also works where ldap3 mishandles IP SANs (Python 3.12).
TLS_NAME = "localhost"
OUS = ("people", "disabled", "groups", "services", "policies")
POLICY_DN = f"cn=default,ou=policies,{SUFFIX}"
NOBODY_DN = f"cn=nobody,{SUFFIX}"  # refint_nothing: keeps an emptied groupOfNames valid
# First line of slapd.conf; bump it when _conf_text changes so an existing lab re-runs
# setup() (new config, re-seeded golden copy) at its next start instead of keeping the old.
CONF_MARK = "# adminkit lab slapd.conf v2"


def ssha(password: str) -> str:
    """slapd's {SSHA}: base64(sha1(password + salt) + salt), no `slappasswd -s` needed."""
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()  # noqa: S324 - the {SSHA} format
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


class SlapdServer(base.LabServer):
    """The `lab-openldap` profile's directory."""

    name: ClassVar[str] = "slapd"
    apt_packages: ClassVar[tuple[str, ...]] = ("slapd", "ldap-utils")
    debconf: ClassVar[tuple[str, ...]] = ("slapd slapd/no_configuration boolean true",)
    python_needs: ClassVar[dict[str, str]] = {"ldap3": "ldap3>=2.9.1"}
    ready_timeout: ClassVar[float] = 20.0

    def __init__(self, lab_dir: Path, *, ldap_port: int = LDAP_PORT,
                 ldaps_port: int = LDAPS_PORT) -> None:
        """Other ports than the lab's: a bench's or a test's own slapd beside it."""
        super().__init__(lab_dir)
        self.ldap_port, self.ldaps_port = ldap_port, ldaps_port

    # -- layout ---------------------------------------------------------------------
    @property
    def conf(self) -> Path:
        return self.dir / "slapd.conf"

    @property
    def data(self) -> Path:
        return self.dir / "data"

    @property
    def golden(self) -> Path:
        return self.dir / "golden"

    @property
    def tls(self) -> Path:
        return self.dir / "tls"

    @property
    def ca_file(self) -> Path:
        return self.tls / "ca.crt"

    @property
    def socket(self) -> Path:
        # slapd makes the socket 0777 and ignores x-mod (compiled out), and any local
        # user's SASL EXTERNAL identity counts as `users` (read access): a 0700 folder
        # keeps other users from connecting at all.
        return self.dir / "run" / "ldapi"

    @property
    def pid_file(self) -> Path:
        return self.dir / "slapd.pid"

    def secret_file(self, who: str) -> Path:
        """`admin` is the rootdn's password, `adminkit` the service account's."""
        return self.dir / "secrets" / who

    @property
    def ldapi_url(self) -> str:
        return "ldapi://" + quote(str(self.socket), safe="")

    @property
    def urls(self) -> str:
        return f"ldap://{HOST}:{self.ldap_port}/ ldaps://{HOST}:{self.ldaps_port}/ {self.ldapi_url}"

    # -- lifecycle ------------------------------------------------------------------
    def is_set_up(self) -> bool:
        return ((self.golden / "data.mdb").exists() and self.conf.exists()
                and self.conf.read_text().startswith(CONF_MARK)
                and self.secret_file("admin").exists() and self.secret_file("adminkit").exists())

    def setup(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o755)
        (self.dir / "secrets").mkdir(mode=0o700, exist_ok=True)
        root_pw = base.read_or_create_secret(self.secret_file("admin"))
        svc_pw = base.read_or_create_secret(self.secret_file("adminkit"))
        if not (self.tls / "server.crt").exists():
            self._make_tls()
        base.write_secret(self.conf, self._conf_text(ssha(root_pw)))  # 0600: holds a hash
        for path in (self.data, self.golden):  # a half-finished earlier setup
            shutil.rmtree(path, ignore_errors=True)
        self.data.mkdir(mode=0o700)
        self._run(["slaptest", "-u", "-f", str(self.conf)])
        # The seed holds hashes only, and still goes on stdin rather than into a file.
        self._run(["slapadd", "-q", "-f", str(self.conf), "-l", "/dev/stdin"],
                  stdin=self._seed_ldif(ssha(svc_pw)))
        _copy_tree(self.data, self.golden)

    def start(self) -> None:
        base.require_port(HOST, self.ldap_port, self.name)
        base.require_port(HOST, self.ldaps_port, self.name)
        self.socket.parent.mkdir(mode=0o700, exist_ok=True)
        proc, _ = process.spawn(["slapd", "-d", "0", "-f", str(self.conf), "-h", self.urls],
                                log=self.log_file, cwd=self.dir)
        self.record([proc])

    def stop(self) -> None:
        super().stop()
        self.pid_file.unlink(missing_ok=True)

    def reset(self) -> None:
        was_running = self.is_running()
        self.stop()
        shutil.rmtree(self.data, ignore_errors=True)
        _copy_tree(self.golden, self.data)
        if was_running:
            self.start()
            # slapd listens ~0.1 s after spawn; poll finer than wait_ready's default.
            base.wait_until(self.probe, self.ready_timeout, what="slapd to answer",
                            alive=self.is_running, log=self.log_file, interval=0.01)

    def probe(self) -> None:
        """Bind as the service account over LDAPS (CA and name checked), read the suffix."""
        import ssl

        from ldap3 import BASE, Connection, Server, Tls
        from ldap3.core.exceptions import LDAPException

        from adminkit.core.secrets import Secret, redact

        try:
            password = Secret(self.secret_file("adminkit").read_text())
        except OSError as exc:
            raise LabError(f"slapd: no service password: {exc.strerror}",
                           hint="run `adminkit lab up slapd` to set it up") from None
        tls = Tls(ca_certs_file=str(self.ca_file), validate=ssl.CERT_REQUIRED)
        server = Server(f"ldaps://{TLS_NAME}:{self.ldaps_port}", tls=tls, connect_timeout=3)
        try:
            conn = Connection(server, SERVICE_DN, password.reveal(), receive_timeout=5,
                              auto_bind=True)
            try:
                found = conn.search(SUFFIX, "(objectClass=*)", BASE, attributes=["dc"])
                result = conn.result
            finally:
                conn.unbind()
        except LDAPException as exc:
            reason = redact(f"{type(exc).__name__}: {exc}")
            raise LabError(f"slapd: LDAPS bind as {SERVICE_DN} failed: {reason}") from None
        if not found:
            raise LabError(f"slapd: cannot read {SUFFIX}: {result.get('description')}"
                           f" {result.get('message', '')}".rstrip())

    def profile(self) -> dict[str, Any]:
        return {"directory": {
            "kind": "openldap",
            "url": f"ldaps://{TLS_NAME}:{self.ldaps_port}",
            "base_dn": SUFFIX,
            "bind_user": SERVICE_DN,
            "password": f"file:{self.secret_file('adminkit').absolute()}",
            "ca_file": str(self.ca_file.absolute()),
            "users_ou": f"ou=people,{SUFFIX}",
            "groups_ou": f"ou=groups,{SUFFIX}",
            "quarantine_ou": f"ou=disabled,{SUFFIX}",
            "options": {"uid_counter_dn": COUNTER_DN, "default_gid": 5000,
                        "ppolicy_default": POLICY_DN, "placeholder_member": NOBODY_DN},
        }}

    # -- setup helpers --------------------------------------------------------------
    def _run(self, argv: list[str], stdin: str | None = None) -> None:
        done = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            raise LabError(f"slapd setup: {argv[0]} failed (exit {done.returncode})",
                           hint="\n    ".join(tail) or None)

    def _make_tls(self) -> None:
        """Own CA and a server cert for localhost and 127.0.0.1; keys 0600."""
        self.tls.mkdir(parents=True, exist_ok=True)
        t = self.tls
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        self._run(["openssl", "req", "-x509", *ec, "-days", "3650", "-keyout", str(t / "ca.key"),
                   "-out", str(t / "ca.crt"), "-subj", "/CN=adminkit lab CA (slapd)",
                   "-addext", "basicConstraints=critical,CA:TRUE",
                   "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        self._run(["openssl", "req", *ec, "-keyout", str(t / "server.key"),
                   "-out", str(t / "server.csr"), "-subj", "/CN=localhost"])
        (t / "server.ext").write_text(
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
            "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
        self._run(["openssl", "x509", "-req", "-in", str(t / "server.csr"),
                   "-CA", str(t / "ca.crt"), "-CAkey", str(t / "ca.key"), "-CAcreateserial",
                   "-days", "825", "-extfile", str(t / "server.ext"),
                   "-out", str(t / "server.crt")])
        for key in ("ca.key", "server.key"):
            (t / key).chmod(0o600)

    def _conf_text(self, root_hash: str) -> str:
        d, t = self.dir, self.tls
        # lastbind stamps authTimestamp on every successful bind (no lastbind-precision:
        # tests see each bind; a busy production server would set e.g. 3600), which gives
        # the backend last_logon and the inactive / never-logged-in reports.
        # `manage` on pwdFailureTime lets the service account clear a failure count below
        # the lockout threshold with the Relax control when it unlocks (the attribute is
        # NO-USER-MODIFICATION). Lifting a lock needs no such right: deleting
        # pwdAccountLockedTime makes ppolicy drop pwdFailureTime as well.
        return f"""\
{CONF_MARK}
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload ppolicy
moduleload memberof
moduleload refint
moduleload lastbind
pidfile "{d / 'slapd.pid'}"
loglevel none
TLSCACertificateFile  "{t / 'ca.crt'}"
TLSCertificateFile    "{t / 'server.crt'}"
TLSCertificateKeyFile "{t / 'server.key'}"
password-hash {{SSHA}}
authz-regexp "gidNumber=0[+]uidNumber=0,cn=peercred,cn=external,cn=auth" "{ROOT_DN}"

database mdb
suffix    "{SUFFIX}"
rootdn    "{ROOT_DN}"
rootpw    {root_hash}
directory "{self.data}"
maxsize   1073741824
dbnosync
index objectClass,uid,uidNumber,memberUid,member,memberOf eq
index cn,sn,mail eq,sub
limits dn.exact="{SERVICE_DN}" size=unlimited time=unlimited
limits users size.prtotal=unlimited
access to attrs=userPassword by self write by dn.exact="{SERVICE_DN}" write by anonymous auth by * none
access to attrs=pwdFailureTime,pwdAccountTmpLockoutEnd by dn.exact="{SERVICE_DN}" manage by users read by * none
access to dn.subtree="ou=policies,{SUFFIX}" by users read by * none
access to * by dn.exact="{SERVICE_DN}" write by users read by * none

overlay memberof
memberof-refint TRUE
overlay refint
refint_attributes member manager
refint_nothing    "{NOBODY_DN}"
overlay lastbind
overlay ppolicy
ppolicy_default "{POLICY_DN}"
ppolicy_hash_cleartext
ppolicy_use_lockout
"""  # noqa: E501 - slapd.conf lines stay whole

    @staticmethod
    def _seed_ldif(service_hash: str) -> str:
        entries = [f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\n"
                   "dc: example\no: Example\n"]
        entries += [f"dn: ou={ou},{SUFFIX}\nobjectClass: organizationalUnit\nou: {ou}\n"
                    for ou in OUS]
        policies = f"ou=policies,{SUFFIX}"
        entries += [
            f"dn: {POLICY_DN}\nobjectClass: organizationalRole\n"
            "objectClass: pwdPolicy\ncn: default\npwdAttribute: userPassword\n"
            "pwdCheckQuality: 2\npwdMinLength: 8\npwdInHistory: 5\npwdLockout: TRUE\n"
            "pwdMaxFailure: 5\npwdMustChange: TRUE\n",
            f"dn: cn=service,{policies}\nobjectClass: organizationalRole\n"
            "objectClass: pwdPolicy\ncn: service\npwdAttribute: userPassword\n",
            f"dn: {SERVICE_DN}\nobjectClass: organizationalRole\n"
            f"objectClass: simpleSecurityObject\ncn: adminkit\nuserPassword: {service_hash}\n"
            f"pwdPolicySubentry: cn=service,{policies}\n",
            f"dn: {COUNTER_DN}\nobjectClass: organizationalRole\n"
            "objectClass: extensibleObject\ncn: counters\nuidNumber: 10000\n",
            f"dn: cn=staff,ou=groups,{SUFFIX}\nobjectClass: groupOfNames\ncn: staff\n"
            f"member: {NOBODY_DN}\n",
            f"dn: cn=staff-posix,ou=groups,{SUFFIX}\nobjectClass: posixGroup\n"
            "cn: staff-posix\ngidNumber: 5000\n",
        ]
        return "\n".join(entries)


def _copy_tree(src: Path, dst: Path) -> None:
    """`cp -a` keeps data.mdb sparse and its 0600 mode (shutil would write it dense)."""
    done = subprocess.run(["cp", "-a", "--", str(src), str(dst)], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise LabError(f"slapd: copying {src} to {dst} failed: {done.stderr.strip()}")
