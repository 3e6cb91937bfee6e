"""The lab's SMTP sink on 127.0.0.1:2525: accepts every message and keeps it as a file.

The server is `adminkit.lab.smtp_sink`, run as its own process with this interpreter so
that it outlives `adminkit lab up`. Messages land in `$LAB/smtp/maildir/*.eml`;
`messages()` reads them back for tests. No TLS and no authentication: the profile says
`starttls: false`, and nothing listens beyond loopback.
"""

from __future__ import annotations

import email.policy
import smtplib
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

    def is_set_up(self) -> bool:
        return self.maildir.is_dir()

    def setup(self) -> None:
        self.maildir.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        base.require_port(self.host, self.port, self.name)
        self.setup()
        proc, _ = process.spawn(
            [sys.executable, "-m", "adminkit.lab.smtp_sink", "--host", self.host,
             "--port", str(self.port), "--maildir", str(self.maildir)],
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
            "starttls": False,
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
