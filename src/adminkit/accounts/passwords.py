"""Generating passwords and delivering them without leaving a copy anywhere else.

A new password goes to exactly one place: the operator's terminal (once), a 0600
file, or an e-mail to the profile's configured recipient. It never reaches the
journal, a ticket note, a log or a child process's argv; the result records only
*how* it was delivered.
"""

from __future__ import annotations

import os
import string
import sys
from collections.abc import Callable
from pathlib import Path

from adminkit.core.config import Profile
from adminkit.core.errors import UsageError
from adminkit.core.secrets import Secret

SYMBOLS = "-_.+!#%"
Deliver = Callable[[str, Secret], str]


def generate(length: int = 16) -> Secret:
    """Random, with every character class AD complexity counts, in random positions."""
    length = max(length, 12)
    pools = [string.ascii_uppercase, string.ascii_lowercase, string.digits, SYMBOLS]
    chars = [_pick(pool, 1)[0] for pool in pools]
    chars += _pick("".join(pools), length - len(chars))
    keys = os.urandom(8 * len(chars))  # a uniform shuffle: sort by random 64-bit keys
    order = sorted(range(len(chars)), key=lambda i: keys[8 * i:8 * i + 8])
    return Secret("".join(chars[i] for i in order), fresh=True)


def _pick(pool: str, count: int) -> list[str]:
    """`count` characters of `pool`, uniformly, from the OS's CSPRNG in one or two reads
    (secrets.choice reads it once per character: a bulk import makes thousands)."""
    limit = 256 - 256 % len(pool)  # bytes at or above it would favour the pool's start
    picked: list[str] = []
    while len(picked) < count:
        picked += [pool[b % len(pool)] for b in os.urandom(2 * count + 8) if b < limit]
    return picked[:count]


def to_terminal(login: str, password: Secret) -> str:
    if not sys.stderr.isatty():
        raise UsageError("no terminal to show the new password on",
                         hint="use --deliver file:PATH (written 0600) or --deliver mail")
    sys.stderr.write(f"\n  new password for {login} (shown once): {password.reveal()}\n\n")
    return "shown once on the operator's terminal"


def to_file(path: Path) -> Deliver:
    def deliver(login: str, password: Secret) -> str:
        target = path / f"{login}.password" if path.is_dir() else path
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            os.fchmod(out.fileno(), 0o600)
            out.write(password.reveal() + "\n")
        return f"written to {target} (mode 0600)"

    return deliver


def to_mail(profile: Profile) -> Deliver:
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


def delivery(spec: str, profile: Profile | None = None) -> Deliver:
    """`terminal`, `file:PATH` (a file, or a folder for LOGIN.password), or `mail`."""
    if spec == "terminal":
        return to_terminal
    if spec.startswith("file:") and len(spec) > 5:
        return to_file(Path(spec[5:]).expanduser())
    if spec == "mail":
        if profile is None:
            raise UsageError("--deliver mail needs a profile with a mail relay")
        return to_mail(profile)
    raise UsageError(f"--deliver {spec!r}: choose terminal, file:PATH or mail")
