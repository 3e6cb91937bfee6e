"""SMTP: send a message through the profile's relay, TLS verified unless told otherwise."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from adminkit.core.config import MailConfig, Profile
from adminkit.core.errors import AuthenticationFailed, ConnectionFailed

LOCAL_NAME = "adminkit.local"  # never ask DNS for our own name (getfqdn)


def _open(cfg: MailConfig, profile: Profile) -> smtplib.SMTP:
    try:
        smtp = smtplib.SMTP(cfg.host, cfg.port, local_hostname=LOCAL_NAME, timeout=15)
        smtp.ehlo()
        if cfg.starttls:
            context = ssl.create_default_context(cafile=str(cfg.ca_file) if cfg.ca_file else None)
            smtp.starttls(context=context)
            smtp.ehlo()
        if cfg.user and cfg.password:
            smtp.login(cfg.user, profile.secret(cfg.password, "mail password").reveal())
    except smtplib.SMTPAuthenticationError:
        raise AuthenticationFailed(f"mail relay {cfg.host}:{cfg.port} refused the login") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise ConnectionFailed(f"mail relay {cfg.host}:{cfg.port}: {exc}") from None
    return smtp


def check(profile: Profile) -> str:
    assert profile.mail is not None
    smtp = _open(profile.mail, profile)
    try:
        code, _ = smtp.noop()
    finally:
        smtp.quit()
    return f"SMTP answered NOOP with {code}"


def send(profile: Profile, message: EmailMessage) -> None:
    assert profile.mail is not None
    smtp = _open(profile.mail, profile)
    try:
        smtp.send_message(message)
    finally:
        smtp.quit()
