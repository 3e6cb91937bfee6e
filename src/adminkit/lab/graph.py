"""The lab's Microsoft Graph fake on 127.0.0.1:9443 (HTTPS, its own CA), seeded with a
small tenant, and the `lab-entra` profile that points adminkit's Entra backend at it.

Microsoft Graph cannot be installed, so the lab runs adminkit's protocol-level fake
(graph_fake.py) as its own process (graph_serve.py). `setup` makes its CA and server
certificate, and the lab app's credential: a certificate with its key (what the profile
uses) and a client secret. A restart is a reset: the tenant lives in memory.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, ClassVar

from adminkit.core.errors import LabError
from adminkit.lab import base, process
from adminkit.lab.base import LabServer
from adminkit.lab.graph_serve import LAB_CLIENT_ID
from adminkit.lab.graph_state import LAB_TENANT_ID as TENANT_ID
from adminkit.lab.graph_token import app_pem

DOMAIN = "contoso.example"


class GraphServer(LabServer):
    name = "graph"
    # the fake needs only the standard library and cryptography; using the lab-entra
    # profile needs adminkit's `entra` extra (msgraph-sdk, azure-identity), not the lab
    ready_timeout = 20.0
    host: ClassVar[str] = "127.0.0.1"
    port: ClassVar[int] = 9443

    @property
    def base_url(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def ca_file(self) -> Path:
        return self.dir / "tls" / "ca.pem"

    def is_set_up(self) -> bool:
        return all((self.dir / f).is_file() for f in
                   ("tls/ca.pem", "tls/sink.pem", "tls/sink.key", "app.pem", "app.secret",
                    "portal.secret"))

    def setup(self) -> None:
        from adminkit.lab.smtp import make_tls

        if self.is_set_up():
            return
        if not all((self.dir / "tls" / f).is_file() for f in ("ca.pem", "sink.pem", "sink.key")):
            make_tls(self.dir / "tls")
        if not (self.dir / "app.pem").is_file():  # a lab set up before keeps what it has
            base.write_secret(self.dir / "app.pem", app_pem().decode())
        for name in ("app.secret", "portal.secret"):
            if not (self.dir / name).is_file():
                base.write_secret(self.dir / name, base.new_password(32))

    def start(self) -> None:
        base.require_port(self.host, self.port, self.name)
        self.setup()
        proc, _ = process.spawn([sys.executable, "-m", "adminkit.lab.graph_serve", "--host",
                                 self.host, "--port", str(self.port), "--dir", str(self.dir)],
                                log=self.log_file)
        self.record([proc])

    def probe(self) -> None:
        """The lab app signs in with its secret and reads one user."""
        import ssl

        import httpx

        try:
            with httpx.Client(verify=ssl.create_default_context(cafile=str(self.ca_file)),
                              timeout=5) as http:
                token = http.post(f"{self.base_url}/{TENANT_ID}/oauth2/v2.0/token", data={
                    "client_id": LAB_CLIENT_ID, "grant_type": "client_credentials",
                    "scope": "https://graph.microsoft.com/.default",
                    "client_secret": (self.dir / "app.secret").read_text()})
                if token.status_code != 200:
                    raise LabError(f"graph: the token endpoint answered {token.status_code}")
                users = http.get(f"{self.base_url}/v1.0/users", params={"$top": "1"},
                                 headers={"Authorization": "Bearer "
                                          + token.json()["access_token"]})
                if users.status_code != 200:
                    raise LabError(f"graph: GET /users answered {users.status_code}")
        except httpx.HTTPError as exc:
            raise LabError(f"graph: {type(exc).__name__}: {exc}") from None

    def reset(self) -> None:
        """The tenant lives in the process: a restart seeds it again."""
        self.stop()
        self.start()
        self.wait_ready()

    def profile(self) -> dict[str, Any]:
        return {"directory": {
            "kind": "entra",
            "url": f"{self.base_url}/v1.0",
            "base_dn": TENANT_ID,
            "bind_user": LAB_CLIENT_ID,
            "password": f"file:{(self.dir / 'app.pem').absolute()}",
            "ca_file": str(self.ca_file.absolute()),
            "upn_suffix": DOMAIN,
            "options": {"credential": "certificate", "authority": self.base_url,
                        "resource": "https://graph.microsoft.com"},
        }}
