"""The WinRM fake (adminkit.lab.winrm_fake) in-process, over HTTPS with a CA of its own,
for tests of anything that runs scripts on Windows hosts. The real pywinrm talks to it.

    with FakeWindows(tls) as win:             # tls: `winrm_tls(tmp_path_factory)`
        target = win.target(deadline=5)       # a WinRMTarget for it
        win.host.inject("timeout", times=2)   # faults; win.host.calls: what was sent
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

from adminkit.core.secrets import Secret
from adminkit.core.winrm import WinRMTarget
from adminkit.lab.smtp import make_tls
from adminkit.lab.winrm_fake import FakeHost, FakeServer, load_models, write_users

USER = "lab-admin"
PASSWORD = "Winrm-Fake-Pass-1"


@dataclass(frozen=True)
class Tls:
    ca: Path
    cert: Path
    key: Path


def winrm_tls(factory: pytest.TempPathFactory) -> Tls:
    """A CA and a certificate for 127.0.0.1 (made once per test session)."""
    folder = factory.getbasetemp() / "winrm-tls"
    if not (folder / "ca.pem").is_file():
        make_tls(folder)
    return Tls(folder / "ca.pem", folder / "sink.pem", folder / "sink.key")


class FakeWindows:
    """One fake Windows host served on 127.0.0.1:<free port>."""

    def __init__(self, tls: Tls, name: str = "win1", *, receive_wait: float = 0.05) -> None:
        load_models()
        self.tls = tls
        self.host = FakeHost(name, {USER: PASSWORD}, receive_wait=receive_wait)
        # pyspnego's NTLM acceptor reads the users from this file (a process-wide setting)
        users = tls.ca.parent / "users"
        if not users.is_file():
            write_users(users, {USER: PASSWORD})
        os.environ["NTLM_USER_FILE"] = str(users)
        self.server = FakeServer(self.host, "127.0.0.1", 0, cert=tls.cert, key=tls.key)

    def target(self, **changes: Any) -> WinRMTarget:
        base = WinRMTarget(name=self.host.name, address="127.0.0.1", user=USER,
                           password=Secret(PASSWORD), auth="basic", port=self.server.port,
                           ca_file=self.tls.ca, deadline=20.0, operation_timeout=1,
                           read_timeout=5)
        return replace(base, **changes)

    def __enter__(self) -> FakeWindows:
        self.server.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.server.stop()


@pytest.fixture(scope="module")
def winrm_certs(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    """The fake's TLS files (import this fixture, and `win`, into a test module)."""
    return winrm_tls(tmp_path_factory)


@pytest.fixture
def win(winrm_certs: Tls) -> Iterator[FakeWindows]:
    """A fake Windows host serving for the length of one test."""
    with FakeWindows(winrm_certs) as win:
        yield win
