"""SMTP: send a message through the profile's relay, TLS verified.

The relay login goes only over STARTTLS (unless the relay is on this machine or the
profile says `insecure: true`); a new password goes only over STARTTLS, always.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from adminkit.core.config import MailConfig, Profile
from adminkit.core.errors import AuthenticationFailed, ConfigError, ConnectionFailed
from adminkit.core.files import tls_context
from adminkit.core.transport import require_tls

LOCAL_NAME = "adminkit.local"  # never ask DNS for our own name (getfqdn)


def _open(cfg: MailConfig, profile: Profile, *, carries_secret: bool = False) -> smtplib.SMTP:
    where = f"{cfg.host}:{cfg.port}"
    if carries_secret:
        check_secret_route(cfg)
    if cfg.user and cfg.password:
        require_tls("mail", where, cfg.host, tls=cfg.starttls, insecure=cfg.insecure,
                    carries="the relay login and password",
                    fix="set mail.starttls: true (the relay must offer STARTTLS)")
    context = tls_context(cfg.ca_file, "mail.ca_file") if cfg.starttls else None  # before
    try:  # connecting: a profile that cannot work says so whether the relay is up or not
        smtp = smtplib.SMTP(cfg.host, cfg.port, local_hostname=LOCAL_NAME, timeout=15)
        smtp.ehlo()
        if context is not None:
            smtp.starttls(context=context)
            smtp.ehlo()
        if cfg.user and cfg.password:
            smtp.login(cfg.user, profile.secret(cfg.password, "mail password").reveal())
    except smtplib.SMTPAuthenticationError:
        raise AuthenticationFailed(f"mail relay {cfg.host}:{cfg.port} refused the login") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise ConnectionFailed(f"mail relay {cfg.host}:{cfg.port}: {exc}") from None
    return smtp


def check_secret_route(cfg: MailConfig | None) -> None:
    """A new password goes by mail only over STARTTLS: loopback and `insecure` do not
    count here. Callers check it before anything runs, `send` again before it sends."""
    if cfg is not None and not cfg.starttls:
        raise ConfigError(f"mail {cfg.host}:{cfg.port}: --deliver mail sends a new password, "
                          "and mail.starttls is off: it would travel in clear",
                          hint="set mail.starttls: true (the relay must offer STARTTLS), "
                               "or deliver to a file or the terminal")


def check(profile: Profile) -> str:
    assert profile.mail is not None
    smtp = _open(profile.mail, profile)
    try:
        code, _ = smtp.noop()
    finally:
        smtp.quit()
    return f"SMTP answered NOOP with {code}"


def send(profile: Profile, message: EmailMessage) -> None:
    """Send a message that carries a new password (`--deliver mail`, its only use): only
    over STARTTLS, verified, whatever the relay's address or `insecure` say."""
    assert profile.mail is not None
    smtp = _open(profile.mail, profile, carries_secret=True)
    try:
        smtp.send_message(message)
    finally:
        smtp.quit()
