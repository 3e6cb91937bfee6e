"""Hostile input and secrets against the lab's real servers: a new password by mail goes
only over STARTTLS, verified; without it nothing is created and nothing is sent."""

from __future__ import annotations

import json
import smtplib
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ldap3
import pytest
import yaml

from adminkit.core.config import load_profile
from adminkit.core.secrets import resolve
from adminkit.lab.base import LabServer
from adminkit.lab.smtp import CLIENT_HOSTNAME, SmtpSink

Cli = Callable[..., Any]
AD_BASE = "DC=samdom,DC=example,DC=com"


@pytest.fixture
def sink(smtp_sink: LabServer) -> SmtpSink:
    assert isinstance(smtp_sink, SmtpSink)
    smtp_sink.reset()
    return smtp_sink


@pytest.fixture(scope="module")
def ad(samba: LabServer, lab_config_dir: Path) -> ldap3.Connection:
    samba.reset()
    d = load_profile("lab", lab_config_dir).directory
    assert d is not None and d.ca_file is not None
    tls = ldap3.Tls(ca_certs_file=str(d.ca_file), validate=ssl.CERT_REQUIRED)
    host, port = d.url.removeprefix("ldaps://").split(":")
    server = ldap3.Server(host, port=int(port), use_ssl=True, tls=tls, get_info=ldap3.NONE)
    return ldap3.Connection(server, d.bind_user, resolve(d.password).reveal(), auto_bind=True)


def test_lab_sink_offers_verified_starttls(sink: SmtpSink, lab_config_dir: Path) -> None:
    mail = load_profile("lab", lab_config_dir).mail
    assert mail is not None and mail.starttls and mail.ca_file is not None
    with smtplib.SMTP(sink.host, sink.port, local_hostname=CLIENT_HOSTNAME, timeout=10) as c:
        c.ehlo()
        assert c.has_extn("starttls")
        c.starttls(context=ssl.create_default_context(cafile=str(mail.ca_file)))
        code, _ = c.ehlo()
        assert code == 250
    with smtplib.SMTP(sink.host, sink.port, local_hostname=CLIENT_HOSTNAME, timeout=10) as c:
        c.ehlo()
        with pytest.raises(ssl.SSLCertVerificationError):  # another CA: not trusted
            c.starttls(context=ssl.create_default_context())


def _plain_mail_config(lab_config_dir: Path, tmp_path: Path, **mail: Any) -> Path:
    data = yaml.safe_load((lab_config_dir / "profiles" / "lab.yaml").read_text())
    data["mail"].update(mail)
    config = tmp_path / "config"
    (config / "profiles").mkdir(parents=True)
    (config / "profiles" / "lab.yaml").write_text(yaml.safe_dump(data))
    return config


@pytest.mark.parametrize("insecure", [False, True])
def test_deliver_mail_without_starttls_creates_and_sends_nothing(
        ad: ldap3.Connection, sink: SmtpSink, cli: Cli, lab_config_dir: Path, tmp_path: Path,
        insecure: bool) -> None:
    config = _plain_mail_config(lab_config_dir, tmp_path, starttls=False, insecure=insecure)
    r = cli("--config", str(config), "--profile", "lab", "-o", "json", "account", "create",
            "--given-name", "Petra", "--surname", "Nešifrovaná", "--deliver", "mail")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "--deliver mail sends a new password, and mail.starttls is off" in r.stderr
    ad.search(AD_BASE, "(sAMAccountName=pnesifrovana)", attributes=["cn"])
    assert [e for e in ad.response if e["type"] == "searchResEntry"] == []
    assert sink.messages() == []


def test_deliver_mail_over_starttls_reaches_the_sink(ad: ldap3.Connection, sink: SmtpSink,
                                                     cli: Cli) -> None:
    r = cli("--profile", "lab", "-o", "json", "account", "create", "--given-name", "Tereza",
            "--surname", "Šifrovaná", "--deliver", "mail")
    assert r.returncode == 0, r.stderr
    login = json.loads(r.stdout)["results"][0]["target"]
    [message] = sink.messages()
    assert message["Subject"] == f"adminkit: new password for {login}"
    ad.search(AD_BASE, f"(sAMAccountName={login})", attributes=["cn"])
    assert [e for e in ad.response if e["type"] == "searchResEntry"] != []
