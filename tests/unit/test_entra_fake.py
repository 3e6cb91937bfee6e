"""The Graph fake against the real msgraph-sdk (unmodified): its answers parse into the
SDK's models and errors as Graph's do, paging follows @odata.nextLink, 429 with
Retry-After is retried by the SDK's own middleware, $batch answers per item (424 for a
failed dependency). And every writing command in check mode sends no write at all."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.graphrig import GraphRig, graph_fixture  # noqa: F401 - the fixture

Cli = Callable[..., Any]


def sdk_client(graph: GraphRig, token: str) -> Any:
    import httpx
    from azure.core.credentials import AccessToken
    from kiota_authentication_azure.azure_identity_authentication_provider import (
        AzureIdentityAuthenticationProvider,
    )
    from msgraph import GraphRequestAdapter, GraphServiceClient
    from msgraph_core import GraphClientFactory

    class Static:
        async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            return AccessToken(token, int(time.time()) + 3600)

        async def close(self) -> None:
            return None

    http = GraphClientFactory.create_with_default_middleware(client=httpx.AsyncClient(
        verify=ssl.create_default_context(cafile=str(graph.ca))))
    auth = AzureIdentityAuthenticationProvider(Static(), scopes=[
        "https://graph.microsoft.com/.default"], allowed_hosts=["127.0.0.1"])
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = graph.fake.base + "/v1.0"
    return GraphServiceClient(request_adapter=adapter)


def token(graph: GraphRig) -> str:
    from tests.fakes.graphrig import CLIENT_ID, SECRET

    return str(graph.fake.issuer.token(graph.tenant.tenant_id, {
        "grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": SECRET,
        "scope": "https://graph.microsoft.com/.default"}, "")["access_token"])


def test_the_sdk_reads_pages_errors_and_retries(graph: GraphRig) -> None:
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError
    from msgraph.generated.users.users_request_builder import UsersRequestBuilder

    from adminkit.lab.graph_fake import Fault

    for k in range(7):
        graph.tenant.add_user(f"page{k}@{graph.domain}", f"Page {k}")
    client = sdk_client(graph, token(graph))

    async def go() -> None:
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            filter="startswith(displayName,'Page')", top=3, select=["id", "displayName"])
        page = await client.users.get(RequestConfiguration(query_parameters=query))
        names = [u.display_name for u in page.value]
        while page.odata_next_link:
            page = await client.users.with_url(page.odata_next_link).get()
            names += [u.display_name for u in page.value]
        assert sorted(names) == [f"Page {k}" for k in range(7)]
        with pytest.raises(ODataError) as err:
            await client.users.by_user_id(f"nobody@{graph.domain}").get()
        assert err.value.response_status_code == 404
        assert err.value.error.code == "Request_ResourceNotFound"
        graph.fake.faults.append(Fault("GET", "/users/jnovak", 429, retry_after=1))
        start = time.monotonic()
        user = await client.users.by_user_id(f"jnovak@{graph.domain}").get()
        assert user.display_name == "Jan Novák" and time.monotonic() - start >= 1.0

    asyncio.run(go())
    statuses = [r.status for r in graph.fake.log if r.path == f"/users/jnovak@{graph.domain}"]
    assert statuses == [429, 200]


def test_batch_items_answer_on_their_own(graph: GraphRig) -> None:
    import httpx

    http = httpx.Client(verify=ssl.create_default_context(cafile=str(graph.ca)),
                        headers={"Authorization": "Bearer " + token(graph)})
    body = {"requests": [
        {"id": "1", "method": "GET", "url": f"/users/nobody@{graph.domain}"},
        {"id": "2", "method": "PATCH", "url": f"/users/nobody@{graph.domain}",
         "dependsOn": ["1"], "body": {"department": "X"},
         "headers": {"Content-Type": "application/json"}},
        {"id": "3", "method": "GET", "url": f"/users/jnovak@{graph.domain}"}]}
    answer = http.post(f"{graph.fake.base}/v1.0/$batch", json=body).json()
    by_id = {r["id"]: r for r in answer["responses"]}
    assert (by_id["1"]["status"], by_id["2"]["status"], by_id["3"]["status"]) == (404, 424,
                                                                                   200)
    absolute = {"requests": [{"id": "1", "method": "GET",
                              "url": f"{graph.fake.base}/v1.0/users"}]}
    assert http.post(f"{graph.fake.base}/v1.0/$batch", json=absolute).status_code == 400


COMMANDS = [
    ("account", "create", "--given-name", "Eva", "--surname", "Nová"),
    ("account", "disable", "jnovak"), ("account", "enable", "kdvorak"),
    ("account", "password", "psvoboda"), ("account", "groups", "psvoboda", "--add", "Sales"),
    ("account", "licenses", "jnovak", "--add", "EMS"), ("account", "delete", "kdvorak"),
    ("account", "delete", "kdvorak", "--hard"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[1:3]))
def test_check_mode_writes_nothing(graph: GraphRig, cli: Cli, tmp_path: Path,
                                   command: tuple[str, ...]) -> None:
    graph.profile()
    pw = tmp_path / "pw"
    pw.mkdir(mode=0o700)
    deliver = ("--deliver", f"file:{pw}") if command[1] in ("create", "password") else ()
    r = cli("--check", "-p", "entra", "-o", "json", *command, *deliver)
    assert r.code == 0, r.out + r.err
    assert '"changed"' in r.out
    writes = [q for q in graph.fake.log if q.method != "GET" and q.path != "/$batch"]
    assert writes == []
    assert list(pw.iterdir()) == []
