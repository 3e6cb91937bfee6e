"""The lab's SMTP sink on 127.0.0.1:2525: accepts every message and keeps it as a file.

The server is `adminkit.lab.smtp_sink`, run as its own process with this interpreter so
that it outlives `adminkit lab up`. Messages land in `$LAB/smtp/maildir/*.eml`;
`messages()` reads them back for tests. It offers STARTTLS with a certificate for
127.0.0.1 from its own CA (`$LAB/smtp/tls/`), so the lab's profile uses STARTTLS as a
customer's must for `--deliver mail`; no authentication, and nothing listens beyond
loopback.
"""

from __future__ import annotations

import email.policy
import smtplib
import ssl
import sys
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any, ClassVar

from adminkit.core.errors import LabError
from adminkit.lab import base, process
from adminkit.lab.base import LabServer
from adminkit.lab.smtp_sink import SUFFIX

CLIENT_HOSTNAME = "adminkit.lab"  # EHLO name: without it smtplib asks DNS (getfqdn)


class SmtpSink(LabServer):
    name = "smtp"
    python_needs: ClassVar[dict[str, str]] = {"aiosmtpd": "aiosmtpd>=1.4.6"}
    ready_timeout = 20.0

    host: ClassVar[str] = "127.0.0.1"
    port: ClassVar[int] = 2525

    @property
    def maildir(self) -> Path:
        return self.dir / "maildir"

    @property
    def tls(self) -> Path:
        return self.dir / "tls"

    @property
    def ca_file(self) -> Path:
        return self.tls / "ca.pem"

    def is_set_up(self) -> bool:
        return self.maildir.is_dir() and all(
            (self.tls / f).is_file() for f in ("ca.pem", "sink.pem", "sink.key"))

    def setup(self) -> None:
        self.maildir.mkdir(parents=True, exist_ok=True)
        if not self.is_set_up():
            make_tls(self.tls)

    def start(self) -> None:
        base.require_port(self.host, self.port, self.name)
        self.setup()
        proc, _ = process.spawn(
            [sys.executable, "-m", "adminkit.lab.smtp_sink", "--host", self.host,
             "--port", str(self.port), "--maildir", str(self.maildir),
             "--tls-cert", str(self.tls / "sink.pem"), "--tls-key", str(self.tls / "sink.key")],
            log=self.log_file,
        )
        self.record([proc])

    def probe(self) -> None:
        try:
            with smtplib.SMTP(self.host, self.port, local_hostname=CLIENT_HOSTNAME,
                              timeout=5) as smtp:
                code, reply = smtp.ehlo()
                if code != 250:
                    raise LabError(f"smtp: EHLO answered {code} {reply!r}")
                code, reply = smtp.noop()
                if code != 250:
                    raise LabError(f"smtp: NOOP answered {code} {reply!r}")
                if not smtp.has_extn("starttls"):
                    raise LabError("smtp: the running sink offers no STARTTLS (started by an "
                                   "older adminkit)", hint="adminkit lab down smtp; "
                                   "adminkit lab up smtp")
                smtp.starttls(context=ssl.create_default_context(cafile=str(self.ca_file)))
                smtp.ehlo()
        except (OSError, smtplib.SMTPException) as exc:
            raise LabError(f"smtp: no SMTP session with {self.host}:{self.port}: {exc}") from exc

    def reset(self) -> None:
        """Forget every message; the sink keeps running."""
        if not self.maildir.is_dir():
            return
        for path in self.maildir.iterdir():
            if path.is_file():
                path.unlink(missing_ok=True)

    def profile(self) -> dict[str, Any]:
        return {"mail": {
            "host": self.host,
            "port": self.port,
            "sender": "adminkit@lab.example.test",
            "starttls": True,
            "ca_file": str(self.ca_file.absolute()),
            "password_recipient": "helpdesk-l2@lab.example.test",
        }}

    # -- for tests --------------------------------------------------------------------
    def message_files(self) -> list[Path]:
        """The stored messages, oldest first (names start with the arrival time)."""
        if not self.maildir.is_dir():
            return []
        return sorted(self.maildir.glob(f"*{SUFFIX}"))

    def messages(self) -> list[EmailMessage]:
        """The received messages, oldest first, parsed with the modern email API.

        Line endings come back as `\\n` (the files keep SMTP's CRLF), so a body reads as
        it was written. The envelope is in `X-Lab-Mail-From` and `X-Lab-Rcpt-To`.
        """
        parser = BytesParser(_class=EmailMessage, policy=email.policy.default)
        return [parser.parsebytes(path.read_bytes().replace(b"\r\n", b"\n"))
                for path in self.message_files()]


def make_tls(folder: Path, ips: tuple[str, ...] = ("127.0.0.1",),
             ca_name: str = "adminkit lab SMTP CA", *, expired: bool = False) -> None:
    """A CA of the sink's own and a certificate for `ips` and localhost signed by it;
    the keys 0600. (The WinRM fake makes its own with the addresses of its hosts.)
    `expired`: the certificate's validity ended yesterday (the tests' bad server)."""
    import datetime
    import ipaddress
    import os

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name(ca_name))
          .issuer_name(name(ca_name)).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                       crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False,
                                       decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    start, end = ((now - datetime.timedelta(days=2), now - datetime.timedelta(days=1))
                  if expired else (now - datetime.timedelta(minutes=5),
                                   now + datetime.timedelta(days=825)))
    cert = (x509.CertificateBuilder().subject_name(name("localhost")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"),
                *(x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips)]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    secret = (serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    for file, data, mode in (("sink.key", key.private_bytes(pem, *secret), 0o600),
                             ("sink.pem", cert.public_bytes(pem), 0o644),
                             ("ca.pem", ca.public_bytes(pem), 0o644)):
        path = folder / file
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        path.chmod(mode)
