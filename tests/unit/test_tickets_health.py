"""`adminkit profile check` for the ticket system: the backend's `ping`, for every kind.

tickets/health.py opens the backend through `open_system` (the entry points) and asks it
who is signed in. Real HTTP against the vendor fakes; RT gets a few lines of REST2 here
(its own lab test runs against a real RT 5).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from adminkit.core.config import Profile
from adminkit.core.errors import AuthenticationFailed, ConnectionFailed, ExitCode
from adminkit.core.health import run_check
from adminkit.tickets import health
from tests.fakes.httpserver import FakeHTTPServer, Reply, Request, json_reply
from tests.fakes.zammad import FakeZammad

Cli = Callable[..., Any]  # the `cli` fixture (conftest.py): a CliResult with code, out, err
RT_TOKEN = "rt-token-canary-5"  # a test credential


def tickets_profile(**tickets: Any) -> Profile:
    return Profile.model_validate({"name": "acme", "tickets": tickets})


# -- Request Tracker: GET /queue/{name} over REST2, as before --------------------------------

def rt_route(req: Request) -> Reply:
    if req.header("authorization") != f"token {RT_TOKEN}":
        return json_reply(401, {"message": "Unauthorized"})
    if req.method == "GET" and req.path == "/REST/2.0/queue/Helpdesk":
        return json_reply(200, {"id": 3, "Name": "Helpdesk", "Description": "",
                                "_hyperlinks": [{"ref": "self", "type": "queue", "id": 3}]})
    return json_reply(404, {"message": "Not Found"})


@pytest.fixture
def rt() -> Iterator[FakeHTTPServer]:
    server = FakeHTTPServer(rt_route, lambda req, status, message: json_reply(
        status, {"message": message}))
    with server:
        yield server


def rt_profile(rt: FakeHTTPServer, monkeypatch: pytest.MonkeyPatch, token: str = RT_TOKEN,
               **tickets: Any) -> Profile:
    monkeypatch.setenv("RT_TOKEN", token)
    return tickets_profile(**{"kind": "rt", "url": f"{rt.url}/REST/2.0",
                              "token": "env:RT_TOKEN", "queue": "Helpdesk", **tickets})


def test_rt_reads_the_profiles_queue(rt: FakeHTTPServer,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    assert health.check(rt_profile(rt, monkeypatch)) == \
        "REST2 authenticated, queue Helpdesk readable"
    assert [r.path for r in rt.requests] == ["/REST/2.0/queue/Helpdesk"]


def test_rt_refused_token_is_exit_3_without_the_token(rt: FakeHTTPServer,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(AuthenticationFailed) as err:
        health.check(rt_profile(rt, monkeypatch, token="Wrong-RT-Token-6"))
    assert err.value.exit_code == ExitCode.CONNECTION
    assert "Wrong-RT-Token-6" not in str(err.value)


def test_rt_queue_it_cannot_see(rt: FakeHTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConnectionFailed, match="queue Nowhere: no such queue") as err:
        health.check(rt_profile(rt, monkeypatch, queue="Nowhere"))
    assert not isinstance(err.value, AuthenticationFailed)
    assert err.value.hint and "SeeQueue" in err.value.hint


# -- the other kinds, through the same opener -----------------------------------------------

def test_local_says_it_is_local(env: Any) -> None:
    text = health.check(tickets_profile(kind="local"))
    assert text.startswith("local ticket store ")
    assert str(env.state) in text and "nothing remote" in text


@pytest.fixture
def zammad() -> Iterator[FakeZammad]:
    with FakeZammad() as fake:
        yield fake


def test_every_kind_has_a_backend_with_ping() -> None:
    from importlib.metadata import entry_points

    found = {ep.name: ep.load() for ep in entry_points(group="adminkit.tickets")}
    assert set(found) == {"rt", "jira", "servicenow", "zammad", "glpi", "redmine"}
    assert all(callable(getattr(cls, "ping", None)) for cls in found.values())


def test_a_remote_kind_goes_through_the_entry_points(zammad: FakeZammad,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZAMMAD_TOKEN", zammad.token)
    text = health.check(tickets_profile(kind="zammad", url=zammad.url,
                                        token="env:ZAMMAD_TOKEN"))
    assert text == "Zammad API: authenticated as Agent Smith (agent@example.com)"


def test_a_failed_ping_is_a_failed_check_row(zammad: FakeZammad,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZAMMAD_TOKEN", "Wrong-Zammad-Token-7")
    profile = tickets_profile(kind="zammad", url=zammad.url, token="env:ZAMMAD_TOKEN")
    row = run_check("tickets", zammad.url, lambda: health.check(profile))
    assert not row.ok and "refused the credentials (401)" in row.detail
    assert "Wrong-Zammad-Token-7" not in row.detail


@pytest.mark.parametrize("good", [True, False])
def test_profile_check_reports_the_ticket_system(env: Any, cli: Cli, zammad: FakeZammad,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 good: bool) -> None:
    secret = zammad.token if good else "Wrong-Zammad-Token-8"
    monkeypatch.setenv("ZAMMAD_TOKEN", secret)
    (env.profiles / "acme.yaml").write_text(
        f"description: acme\ntickets:\n  kind: zammad\n  url: {zammad.url}\n"
        "  token: env:ZAMMAD_TOKEN\n")
    r = cli("profile", "check", "acme", "-o", "json")
    [row] = json.loads(r.out)
    assert (r.code, row["system"], row["status"]) == \
        ((0, "tickets", "ok") if good else (3, "tickets", "failed"))
    assert ("authenticated as Agent Smith" in row["detail"]) is good
    assert "Wrong-Zammad-Token-8" not in r.out + r.err


@pytest.mark.parametrize(("approver", "ok"), [("zammad:5", True), ("boss@example.com", False)])
def test_profile_check_says_when_an_approver_can_never_match(
        env: Any, cli: Cli, zammad: FakeZammad, monkeypatch: pytest.MonkeyPatch,
        approver: str, ok: bool) -> None:
    """Zammad people are user ids: an e-mail in `approvers` is a profile problem (exit 2),
    said by `profile check` before anyone waits for an approval that cannot come."""
    monkeypatch.setenv("ZAMMAD_TOKEN", zammad.token)
    (env.profiles / "acme.yaml").write_text(
        f"tickets: {{kind: zammad, url: '{zammad.url}', token: 'env:ZAMMAD_TOKEN'}}\n"
        f"automation:\n  approvers: ['{approver}']\n  rules: [{{name: unlock, "
        "playbook: unlock-account, requesters: ['*']}]\n")
    r = cli("profile", "check", "acme", "-o", "json")
    rows = {row["system"]: row for row in json.loads(r.out)}
    assert rows["tickets"]["status"] == "ok"
    assert (r.code, rows["automation"]["status"]) == ((0, "ok") if ok else (2, "failed"))
    if not ok:
        assert "automation.approvers: 'boss@example.com' can never match: zammad names " \
               "people by user id (zammad:N)" in rows["automation"]["detail"]
