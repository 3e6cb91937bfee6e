"""A hostile or broken Graph service: next links, paging loops, absurd Retry-After."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.fakes.graphrig import GraphRig, graph_fixture  # noqa: F401 - the fixture

Cli = Callable[..., Any]


@pytest.fixture
def evil() -> Iterator[tuple[str, list[bytes]]]:
    """A listener on another loopback address: what any connection to it sent."""
    got: list[bytes] = []
    sock = socket.socket()
    sock.bind(("127.0.0.3", 0))
    sock.listen(8)
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    got.append(conn.recv(65536))
                except OSError:
                    got.append(b"")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.3:{sock.getsockname()[1]}", got
    finally:
        stop.set()
        thread.join()
        sock.close()


def _next_link(graph: GraphRig, suffix: str, link: Callable[[str], str],
               times: int = 50) -> list[int]:
    """Every GET of a path ending in `suffix` answers with `link(path)` as its next link
    (`times` at most, so that a client that never stops still lets the test end)."""
    fake = graph.fake
    original = fake.handle
    calls = [0]

    def handle(method: str, target: str, headers: dict[str, str], body: Any,
               **kw: Any) -> Any:
        status, out_headers, out = original(method, target, headers, body, **kw)
        path = target.split("?")[0]
        if method == "GET" and path.endswith(suffix) and status == 200 and calls[0] < times:
            calls[0] += 1
            out = {**out, "@odata.nextLink": link(target)}
        return status, out_headers, out

    fake.handle = handle  # type: ignore[method-assign]
    return calls


def test_a_next_link_to_another_host_never_gets_the_token(
        graph: GraphRig, cli: Cli, evil: tuple[str, list[bytes]]) -> None:
    graph.profile()
    host, got = evil
    _next_link(graph, "/transitiveMemberOf",
               lambda _: f"{graph.fake.base}/v1.0/https://{host}/v1.0/steal")
    r = cli("-p", "entra", "account", "groups", "psvoboda", "--add", "Sales")
    assert got == []  # nothing at all reached the other host, least of all the bearer
    assert r.code != 0
    ps = graph.user("psvoboda")
    assert ps is not None and ps["id"] not in graph.group("Sales")["_members"]


def test_a_next_link_pointing_at_itself_ends(graph: GraphRig, cli: Cli) -> None:
    graph.profile()
    calls = _next_link(graph, "/transitiveMemberOf",
                       lambda target: f"{graph.fake.base}{target}")
    r = cli("-p", "entra", "account", "groups", "psvoboda", "--add", "Sales")
    assert calls[0] < 50  # it stopped by itself, not because the fake gave up
    assert r.code == 1
    assert "next page" in r.out + r.err


@pytest.mark.parametrize(("method", "path", "args"), [
    ("POST", "/$batch", ("account", "groups", "psvoboda", "--add", "Sales")),
    ("GET", "/users/psvoboda", ("account", "show", "psvoboda")),
])
def test_an_absurd_retry_after_fails_now_instead_of_waiting(
        graph: GraphRig, cli: Cli, method: str, path: str, args: tuple[str, ...]) -> None:
    """Retry-After: 10^9 is not a wait anyone wants: exit 3 at once, nothing retried."""
    from adminkit.lab.graph_fake import Fault

    graph.profile()
    if method == "GET":  # `show` reads through a $batch post first, then alone
        graph.fake.faults.append(Fault("POST", "/$batch", 429, times=100,
                                       retry_after=10**9))
    graph.fake.faults.append(Fault(method, path, 429, times=100, retry_after=10**9))
    r = cli("-p", "entra", *args)
    assert r.code == 3, r.out + r.err
    assert "throttling" in r.out + r.err
    assert len([q for q in graph.fake.log if q.path == "/$batch"]) == 1
    if method == "GET":
        assert len(graph.fake.writes(method, path)) == 1


def test_a_batch_answer_with_an_id_twice_is_not_taken_at_its_last_word(
        graph: GraphRig, cli: Cli, tmp_path: Any) -> None:
    """A create answered 201 and then, under the same id, 400 ObjectConflict: which one
    is true is unknown, so the user is looked up (it exists: created, password delivered),
    never reported as `taken` while it was this run that made it."""
    graph.profile()
    original = graph.fake.handle

    def handle(method: str, target: str, headers: dict[str, str], body: Any,
               **kw: Any) -> Any:
        status, out_headers, out = original(method, target, headers, body, **kw)
        if method == "POST" and target.split("?")[0].endswith("/$batch") and status == 200:
            twice = [{**item, "status": 400, "body": {"error": {
                "code": "Request_BadRequest", "message": "Another object with the same value "
                "for property userPrincipalName already exists.",
                "details": [{"code": "ObjectConflict", "target": "userPrincipalName"}]}}}
                for item in out["responses"] if item.get("status") == 201]
            out = {**out, "responses": [*out["responses"], *twice]}
        return status, out_headers, out

    graph.fake.handle = handle  # type: ignore[method-assign]
    pw = tmp_path / "pw"
    pw.mkdir(mode=0o700)
    r = cli("-p", "entra", "account", "create", "--given-name", "Ota", "--surname", "Malý",
            "--deliver", f"file:{pw}")
    assert r.code == 0, r.out + r.err
    user = graph.user("omaly")
    assert user is not None
    assert user["_password"] == (pw / "omaly.password").read_text().strip()


def test_a_batch_answer_of_the_wrong_shape_is_lost_not_a_crash() -> None:
    from adminkit.accounts.entra_http import LOST, Answer, unbatch

    body = {"responses": [{"id": "0", "status": "soon"}, "junk", {"id": "1", "status": 204},
                          {"id": "2", "status": 200}, {"id": "2", "status": 404}]}
    assert [a.status for a in unbatch(Answer(200, {}, body), 3)] == [LOST, 204, LOST]
    assert [a.status for a in unbatch(Answer(200, {}, {"responses": "x"}), 2)] == [LOST, LOST]


@pytest.mark.parametrize("answer", [
    (200, {"access_token": "eyJ.a.b", "expires_in": "soon"}),
    (200, {"access_token": "eyJ.a.b\r\nX-Injected: 1", "expires_in": 3599}),
    (200, {"access_token": {"not": "a string"}}),
    (200, {"error": {"code": "NonJsonAnswer", "message": "<html>sign in</html>"}}),
    (500, {"error_codes": 5, "error_description": "oops"}),
])
def test_a_token_endpoint_answering_nonsense_is_exit_3(answer: tuple[int, Any]) -> None:
    from pathlib import Path

    from adminkit.accounts.entra_token import EntraSettings, light_token
    from adminkit.core.errors import AuthenticationFailed
    from adminkit.core.secrets import Secret

    settings = EntraSettings(graph="https://graph.example/v1.0", resource="https://graph.example",
                             authority="https://login.example", tenant_id="t", client_id="c",
                             domain="d.example", certificate=False, ca_file=Path("/none"),
                             timeout=5, concurrency=1, linger=0)
    with pytest.raises(AuthenticationFailed) as caught:
        light_token(lambda url, form: answer, settings, Secret("S3cret~value~0123"))
    assert caught.value.exit_code == 3
    assert "S3cret" not in str(caught.value)


def test_a_sign_in_endpoint_that_does_not_answer_is_exit_3_in_a_run_too(
        graph: GraphRig, cli: Cli) -> None:
    """The profile's timeout bounds the token request of a run (azure-identity), as it
    does the light path's: not azure-core's default of 300 s."""
    graph.profile()
    profile = graph.profiles / "entra.yaml"
    profile.write_text(profile.read_text().replace("  upn_suffix:", "  timeout: 1\n  upn_suffix:"))
    token = graph.fake.issuer.token
    release = threading.Event()

    def slow(*args: Any, **kwargs: Any) -> Any:
        release.wait(8)  # far beyond the profile's timeout
        return token(*args, **kwargs)

    graph.fake.issuer.token = slow  # type: ignore[method-assign]
    try:
        r = cli("-p", "entra", "account", "disable", "psvoboda")
    finally:
        release.set()
    assert r.code == 3, r.out + r.err
    assert "sign-in endpoint" in r.out + r.err
    ps = graph.user("psvoboda")
    assert ps is not None and ps["accountEnabled"] is True


def test_a_deleted_protected_account_is_not_restored(graph: GraphRig, cli: Cli) -> None:
    """Deleted in the portal, the profile's protected `Admin` is not brought back by
    adminkit (exit 4), whatever the case of its name."""
    graph.profile(extra="policy:\n  protected_accounts: [ADMIN]\n")
    admin = graph.user("admin")
    assert admin is not None
    graph.tenant.soft_delete(admin)
    r = cli("-p", "entra", "account", "restore", "admin")
    assert r.code == 4, r.out + r.err
    assert admin["id"] in graph.tenant.deleted and admin["id"] not in graph.tenant.users


def test_retry_after_as_an_http_date_is_honoured_not_read_as_one_second() -> None:
    """RFC 9110 allows Retry-After as a date: an hour away is an hour (so: an error, not
    thirty retries a second apart); a date gone by is now; nonsense is a second."""
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    from adminkit.accounts.entra_http import Answer

    def after(value: str) -> float:
        return Answer(429, {"Retry-After": value}, None).retry_after()

    hour = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    assert 3000 < after(hour) <= 3600
    assert after(format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)) == 0
    assert after("-5") == 0
    assert after("soon") == 1.0
    assert after("1e9") == 1e9


@pytest.mark.parametrize("what", ["encrypted key", "no certificate", "garbage"])
def test_an_app_credential_that_cannot_sign_is_a_config_error(what: str) -> None:
    """An encrypted private key raised a bare TypeError (internal error, exit 1): it is
    the profile's file that is wrong (exit 2), and the message says what it needs."""
    from pathlib import Path

    from cryptography.hazmat.primitives import serialization

    from adminkit.accounts.entra_token import EntraSettings, client_assertion
    from adminkit.core.errors import ConfigError, ExitCode
    from adminkit.lab.graph_token import app_pem

    pem = app_pem()
    key_end = pem.index(b"-----END PRIVATE KEY-----") + len(b"-----END PRIVATE KEY-----\n")
    key = serialization.load_pem_private_key(pem[:key_end], password=None)
    given = {"encrypted key": key.private_bytes(
                 serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                 serialization.BestAvailableEncryption(b"pass-phrase-1")) + pem[key_end:],
             "no certificate": pem[:key_end], "garbage": b"not a pem\n"}[what]
    settings = EntraSettings(graph="https://graph.example/v1.0", resource="https://graph.example",
                             authority="https://login.example", tenant_id="t", client_id="c",
                             domain="d.example", certificate=True, ca_file=Path("/none"),
                             timeout=5, concurrency=1, linger=0)
    with pytest.raises(ConfigError) as caught:
        client_assertion(given, settings)
    assert caught.value.exit_code == ExitCode.USAGE
    assert "unencrypted private key" in caught.value.message
