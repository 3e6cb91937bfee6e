"""The Graph fake (adminkit.lab.graph_fake) started for one test, an app registered in
its tenant (a certificate and a secret), and a profile `entra` that points at it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adminkit.lab import graph_fake, graph_state
from adminkit.lab.graph_fake import GraphFake
from adminkit.lab.graph_state import Tenant
from adminkit.lab.graph_token import App, app_pem, certificate_of

CLIENT_ID = "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
SECRET = "Fake~Client~Secret~0123456789abcdef"
ALL_ROLES = {"User.ReadWrite.All", "GroupMember.ReadWrite.All", "Group.Read.All",
             "Directory.Read.All", "LicenseAssignment.ReadWrite.All", "AuditLog.Read.All",
             "User.RevokeSessions.All", "User.DeleteRestore.All",
             "RoleManagement.Read.Directory"}
_TLS: dict[str, Path] = {}


@dataclass
class GraphRig:
    fake: GraphFake
    tenant: Tenant
    tls: Path
    folder: Path
    profiles: Path
    credential: bytes

    @property
    def ca(self) -> Path:
        return self.tls / "ca.pem"

    @property
    def domain(self) -> str:
        return self.tenant.domains[0]

    def user(self, login: str) -> dict[str, Any] | None:
        """The fake's own record (every replica): what a test reads back."""
        return self.tenant.user(f"{login}@{self.domain}", replica=False)

    def deleted(self, login: str) -> list[dict[str, Any]]:
        """The fake's deleted users that were `login` (their UPN is changed in there)."""
        upn = f"{login}@{self.domain}".casefold()
        return [u for u in self.tenant.deleted.values() if u["_upn"].casefold() == upn]

    def role(self, name: str) -> dict[str, Any]:
        return next(r for r in self.tenant.roles.values() if r["displayName"] == name)

    def app(self) -> dict[str, Any]:
        """The tests' app's service principal (put it in a role to make it privileged)."""
        return next(s for s in self.tenant.service_principals.values()
                    if s["appId"] == CLIENT_ID)

    def group(self, name: str) -> dict[str, Any]:
        return next(g for g in self.tenant.groups.values() if g["displayName"] == name)

    def profile(self, name: str = "entra", *, credential: str = "certificate",
                extra: str = "", options: str = "") -> str:
        """Write a profile for the fake; returns its name."""
        secret_file = self.folder / f"{name}.credential"
        value = self.credential if credential == "certificate" else SECRET.encode()
        secret_file.write_bytes(value)
        secret_file.chmod(0o600)
        (self.profiles / f"{name}.yaml").write_text(
            f"description: Entra fake\n"
            f"directory:\n  kind: entra\n  url: {self.fake.base}/v1.0\n"
            f"  base_dn: {self.tenant.tenant_id}\n  bind_user: {CLIENT_ID}\n"
            f"  password: file:{secret_file}\n  ca_file: {self.ca}\n"
            f"  upn_suffix: {self.domain}\n"
            f"  options: {{credential: {credential}, authority: '{self.fake.base}', "
            f"resource: 'https://graph.microsoft.com'"
            f"{', ' + options if options else ''}}}\n" + extra)
        return name


def tls_dir(base: Path) -> Path:
    """One CA and server certificate for the whole session (made once: RSA is slow)."""
    if "dir" not in _TLS:
        from adminkit.lab.smtp import make_tls

        folder = base / "graph-tls"
        make_tls(folder)
        _TLS["dir"] = folder
    return _TLS["dir"]


@pytest.fixture(name="graph")
def graph_fixture(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, env: Any
          ) -> Iterator[GraphRig]:
    tls = tls_dir(tmp_path_factory.getbasetemp())
    tenant = graph_state.seed()
    fake = graph_fake.start(tenant, tls)
    credential, cert = _app_credential(tmp_path_factory.getbasetemp())
    fake.issuer.apps[CLIENT_ID] = App(CLIENT_ID, set(ALL_ROLES), secret=SECRET,
                                      certificates=[cert])
    tenant.add_service_principal(CLIENT_ID, "adminkit tests")  # in no directory role
    folder = tmp_path / "secrets"
    folder.mkdir(mode=0o700)
    os.chmod(folder, 0o700)
    try:
        yield GraphRig(fake, tenant, tls, folder, env.profiles, credential)
    finally:
        fake.close()


_CRED: dict[str, tuple[bytes, bytes]] = {}


def _app_credential(base: Path) -> tuple[bytes, bytes]:
    if "app" not in _CRED:
        pem = app_pem()
        _CRED["app"] = pem, certificate_of(pem)
    return _CRED["app"]
