"""Handing a new secret to exactly one place, and nowhere else.

A generated password goes to the operator's terminal (once), a 0600 file, or an
e-mail to the profile's configured recipient. It never reaches the journal, a
ticket note, a log or a child process's argv; the result records only *how* it was
delivered. Any domain that makes a secret (directory accounts, Entra ID) uses this.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from adminkit.core.config import Profile
from adminkit.core.errors import UsageError
from adminkit.core.secrets import Secret

Send = Callable[[str, Secret], str]  # (who it is for, the secret) -> how it was delivered


@dataclass(frozen=True)
class Delivery:
    """A delivery and the `--deliver` words that made it (a run's record keeps them)."""

    spec: str
    send: Send

    def __call__(self, login: str, secret: Secret) -> str:
        return self.send(login, secret)


def to_terminal(login: str, password: Secret) -> str:
    if not sys.stderr.isatty():
        raise UsageError("no terminal to show the new password on",
                         hint="use --deliver file:PATH (written 0600) or --deliver mail")
    sys.stderr.write(f"\n  new password for {login} (shown once): {password.reveal()}\n\n")
    return "shown once on the operator's terminal"


def to_file(path: Path) -> Send:
    def deliver(login: str, password: Secret) -> str:
        target = path / f"{login}.password" if path.is_dir() else path
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            os.fchmod(out.fileno(), 0o600)
            out.write(password.reveal() + "\n")
        return f"written to {target} (mode 0600)"

    return deliver


def to_mail(profile: Profile) -> Send:
    mail = profile.mail
    if mail is None or not mail.password_recipient:
        raise UsageError(f"--deliver mail: profile {profile.name} has no mail.password_recipient",
                         hint=f"add mail: {{host, sender, password_recipient}} to {profile.file}")
    recipient = mail.password_recipient

    def deliver(login: str, password: Secret) -> str:
        from email.message import EmailMessage

        from adminkit.core import mail as smtp

        message = EmailMessage()
        message["From"], message["To"] = mail.sender, recipient
        message["Subject"] = f"adminkit: new password for {login}"
        message.set_content(f"The new password for {login} is:\n\n    {password.reveal()}\n\n"
                            "Hand it over in person or by phone, then delete this message.\n")
        smtp.send(profile, message)
        return f"sent by e-mail to {recipient}"

    return deliver


def check_spec(spec: str) -> str:
    """Catch a misspelt --deliver before anything else is looked at."""
    if spec in ("terminal", "mail") or (spec.startswith("file:") and len(spec) > 5):
        return spec
    raise UsageError(f"--deliver {spec!r}: choose terminal, file:PATH or mail")


def delivery(spec: str, profile: Profile | None = None) -> Delivery:
    """`terminal`, `file:PATH` (a file, or a folder for LOGIN.password), or `mail`."""
    check_spec(spec)
    if spec == "terminal":
        return Delivery(spec, to_terminal)
    if spec.startswith("file:"):
        return Delivery(spec, to_file(Path(spec[5:]).expanduser()))
    if profile is None:
        raise UsageError("--deliver mail needs a profile with a mail relay")
    return Delivery(spec, to_mail(profile))
