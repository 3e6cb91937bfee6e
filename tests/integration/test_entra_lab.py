"""The Entra commands on the lab's Graph fake (`adminkit lab up graph`, profile
`lab-entra`), each noted once on the lab's real RT; outcomes read back from the fake
through Graph with the lab app's own secret."""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adminkit.lab.base import LabServer
from adminkit.lab.graph import DOMAIN, TENANT_ID
from adminkit.lab.graph_serve import LAB_CLIENT_ID, PORTAL_CLIENT_ID
from tests.integration.rtread import notes

Cli = Callable[..., Any]


class Tenant:
    """The fake's tenant, read through Graph as an administrator would."""

    def __init__(self, server: Any) -> None:
        self.http = self.signed_in(server, LAB_CLIENT_ID, "app.secret")
        # an administrator in the admin center, who may do what the lab app may not
        self.portal = self.signed_in(server, PORTAL_CLIENT_ID, "portal.secret")

    @staticmethod
    def signed_in(server: Any, client_id: str, secret: str) -> httpx.Client:
        http = httpx.Client(base_url=f"{server.base_url}/v1.0/",
                            verify=ssl.create_default_context(cafile=str(server.ca_file)))
        token = http.post(f"{server.base_url}/{TENANT_ID}/oauth2/v2.0/token", data={
            "client_id": client_id, "grant_type": "client_credentials",
            "scope": "https://graph.microsoft.com/.default",
            "client_secret": (server.dir / secret).read_text()}).json()["access_token"]
        http.headers["Authorization"] = "Bearer " + token
        return http

    def user(self, login: str) -> dict[str, Any] | None:
        r = self.http.get(f"users/{login}@{DOMAIN}", params={
            "$select": "id,accountEnabled,displayName,assignedLicenses"})
        return None if r.status_code == 404 else dict(r.json())

    def groups(self, login: str) -> set[str]:
        r = self.http.get(f"users/{login}@{DOMAIN}/memberOf")
        return {g["displayName"] for g in r.json()["value"]}

    def deleted(self, login: str) -> list[dict[str, Any]]:
        """Deleted users that were `login`: in deleted items Entra puts the object id
        (no hyphens) in front of the UPN, so only `endswith` (advanced) finds them."""
        upn = f"{login}@{DOMAIN}"
        r = self.http.get("directory/deletedItems/microsoft.graph.user", params={
            "$filter": f"endswith(userPrincipalName,'{upn}')", "$count": "true",
            "$select": "id,userPrincipalName,mail"}, headers={"ConsistencyLevel": "eventual"})
        assert r.status_code == 200, r.text
        return [u for u in r.json()["value"]
                if u["userPrincipalName"] == u["id"].replace("-", "") + upn]


@pytest.fixture(scope="module")
def tenant(lab_up: Callable[[str], LabServer], rt: LabServer) -> Iterator[Tenant]:
    server = lab_up("graph")
    server.reset()  # a fresh tenant (the fake keeps it in memory)
    t = Tenant(server)
    yield t
    t.http.close()


def test_every_entra_command_leaves_one_note(tenant: Tenant, rt: Any, cli: Cli,
                                             tmp_path: Path) -> None:
    ticket = rt.new_ticket("Entra: onboard and offboard Vera Nová")
    pw = tmp_path / "pw"
    pw.mkdir(mode=0o700)

    def run(*args: str) -> dict[str, Any]:
        r = cli("--profile", "lab-entra", "--ticket", str(ticket), "-o", "json", *args)
        assert r.returncode == 0, r.stdout + r.stderr
        return dict(json.loads(r.stdout))

    run("account", "create", "--given-name", "Vera", "--surname", "Nová",
        "--deliver", f"file:{pw}")
    assert tenant.user("vnova") is not None
    run("account", "groups", "vnova", "--add", "Staff")
    assert tenant.groups("vnova") == {"Staff"}
    run("account", "disable", "vnova")
    assert tenant.user("vnova")["accountEnabled"] is False  # type: ignore[index]
    run("account", "enable", "vnova")
    assert tenant.user("vnova")["accountEnabled"] is True  # type: ignore[index]
    run("account", "password", "vnova", "--deliver", f"file:{pw}")
    run("account", "licenses", "jnovak", "--add", "EMS")
    assert len(tenant.user("jnovak")["assignedLicenses"]) == 2  # type: ignore[index]
    run("account", "delete", "vnova")
    assert tenant.user("vnova") is None and tenant.deleted("vnova")
    run("account", "restore", "vnova")
    assert tenant.user("vnova") is not None
    said = [n.text.split(";", 1)[1].split(" by ")[0].strip() for n in notes(rt, ticket)]
    assert said == ["account.create vnova", "account.groups vnova", "account.disable vnova",
                    "account.enable vnova", "account.password vnova",
                    "account.licenses jnovak", "account.delete vnova",
                    "account.restore vnova"]
    assert all(n.internal for n in notes(rt, ticket))
    password = (pw / "vnova.password").read_text().strip()
    assert all(password not in n.text for n in notes(rt, ticket))


def test_restore_finds_the_renamed_deleted_user_and_leaves_an_administrator(
        tenant: Tenant, cli: Cli) -> None:
    """Deleted, a user's UPN starts with its object id: `account restore` finds it by
    the UPN it had and brings back its groups; a Global Administrator deleted in the
    portal stays deleted (Graph refuses the lab app, which holds no role: exit 3)."""
    def run(*args: str) -> Any:
        return cli("--profile", "lab-entra", "-o", "json", *args)

    before = tenant.groups("jnovak")
    r = run("account", "delete", "jnovak")
    assert r.returncode == 0, r.stdout + r.stderr
    gone = tenant.deleted("jnovak")
    assert len(gone) == 1 and tenant.user("jnovak") is None
    r = run("account", "restore", "jnovak")
    assert r.returncode == 0, r.stdout + r.stderr
    back = tenant.user("jnovak")
    assert back is not None and back["id"] == gone[0]["id"]
    assert tenant.groups("jnovak") == before and tenant.deleted("jnovak") == []

    admin = tenant.user("admin")
    assert admin is not None
    refused = tenant.http.delete(f"users/{admin['id']}")  # the lab app holds no role
    assert refused.status_code == 403, refused.text
    assert tenant.user("admin") is not None
    assert tenant.portal.delete(f"users/{admin['id']}").status_code == 204  # the portal
    r = run("account", "restore", "admin")
    assert r.returncode == 3, r.stdout + r.stderr
    assert tenant.user("admin") is None and len(tenant.deleted("admin")) == 1
