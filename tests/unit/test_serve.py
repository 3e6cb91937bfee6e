"""`adminkit serve`'s HTTP side on the real stack (Starlette on uvicorn, loopback), its
queue and workers, with the embedded ticket store as the ticket system (no lab).

Senders' bodies are shaped like the vendors' documented ones; the outcome is read back
from the journal's database and the tickets' notes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adminkit.automation.serve import SWITCH_INTERVAL, Hub, server
from adminkit.automation.service import RunService
from adminkit.core.config import Profile
from adminkit.tickets.local import LocalTickets

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"
TOKEN = "generic-token-0123456789abcdef"
SECRET = "zammad-secret-0123456789abcdef"


def find(name: str) -> Path:
    return PLAYBOOKS / f"{name}.yaml"


def make_profile(tickets: str = "local", **serve: Any) -> Profile:
    return Profile.of(name="acme", tickets={"kind": tickets, "url": "https://z.example.test",
                                            "token": "env:Z_TOKEN"} if tickets != "local"
                      else {"kind": "local"}, automation={
        "approvers": ["zammad:5" if tickets == "zammad" else "dispatch"],  # Zammad: ids
        "senders": [{"name": "form", "kind": "generic", "token": "env:HOOK_TOKEN"},
                    {"name": "signed", "kind": "generic", "secret": "env:HOOK_SECRET"},
                    {"name": "zammad", "kind": "zammad", "secret": "env:HOOK_SECRET"}],
        "serve": serve,
        "rules": [{"name": "onboarding", "playbook": "onboard-user",
                   "match": {"subject": r"^new hire:\s*(?P<given>\S+)?\s*(?P<surname>.*)$"},
                   "fields": {"given_name": "subject:given", "surname": "subject:surname"},
                   "requesters": ["*" if tickets == "zammad" else "*@example.test"]},
                  {"name": "unlock", "playbook": "unlock-account", "requires_approval": True,
                   "match": {"subject": r"^unlock:\s*(?P<login>\S+)$"},
                   "fields": {"login": "subject:login"},
                   "requesters": ["*" if tickets == "zammad" else "*@example.test"]}]})


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_TOKEN", TOKEN)
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    monkeypatch.setenv("Z_TOKEN", "zammad-api-token")


class Running:
    def __init__(self, hub: Hub, web: Any, url: str) -> None:
        self.hub, self.web, self.url = hub, web, url

    def post(self, sender: str, body: bytes | dict[str, Any], **headers: str) -> httpx.Response:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.post(f"{self.url}/hooks/{sender}", content=data, headers=headers,
                          timeout=30)

    def key(self, event: str) -> str:
        """The trigger's key of `event` (`local:1:created`) on this profile's system."""
        from adminkit.journal.triggers import event_key
        from adminkit.tickets.instance import instance

        return event_key(event, instance(self.hub.profile, event.partition(":")[0]))

    def triggers(self) -> dict[str, str]:
        db = sqlite3.connect(self.hub.service.journal_path)
        rows = dict(db.execute("SELECT key, status FROM triggers").fetchall())
        db.close()
        return rows

    def settled(self, key: str) -> str:
        """Its status once a worker has moved it out of the queue (a wait, not a timing)."""
        for _ in range(600):
            status = self.triggers().get(key)
            if status not in (None, "queued", "running"):
                return status
            time.sleep(0.05)
        raise AssertionError(f"{key} still {self.triggers().get(key)}")


@pytest.fixture
def serve(env: Any) -> Iterator[Callable[..., Running]]:
    started: list[tuple[Hub, Any, threading.Thread]] = []

    def start(profile: Profile | None = None, workers: int = 2) -> Running:
        profile = profile or make_profile()
        kind = profile.tickets.kind  # type: ignore[attr-defined]
        from adminkit.tickets.systems import open_system

        hub = Hub(RunService(journal_path=env.journal), profile,
                  lambda: open_system(profile, kind), find)
        web = server(hub, port=0)
        thread = threading.Thread(target=web.run, daemon=True)
        thread.start()
        while not web.started:
            time.sleep(0.01)
        hub.start(workers)
        port = web.servers[0].sockets[0].getsockname()[1]
        started.append((hub, web, thread))
        return Running(hub, web, f"http://127.0.0.1:{port}")

    yield start
    for hub, web, thread in started:
        web.should_exit = True
        thread.join(10)
        hub.shutdown()


def refusals(journal: Path) -> list[str]:
    db = sqlite3.connect(journal)
    rows = [r[0] for r in db.execute("SELECT summary FROM entries WHERE kind = 'end' AND "
                                     "status = 'refused' AND ticket IS NULL")]
    db.close()
    return rows


def test_a_token_delivery_is_queued_once_and_its_ticket_noted(serve: Any, env: Any) -> None:
    s = serve()
    store = LocalTickets()
    ticket = store.new("New hire: Jana", requester="boss@example.test")
    body = {"ticket": f"local:{ticket}", "event": "created"}
    r = s.post("form", body, Authorization=f"Bearer {TOKEN}")
    assert r.status_code == 202, r.text
    assert r.json() == {"trigger": s.key(f"local:{ticket}:created"), "duplicate": False}
    again = s.post("form", body, **{"X-Adminkit-Token": TOKEN})
    assert again.status_code == 202 and again.json()["duplicate"] is True
    assert s.settled(s.key(f"local:{ticket}:created")) == "refused"
    assert list(s.triggers()) == [s.key(f"local:{ticket}:created")]  # one for two deliveries
    for _ in range(200):  # the worker delivers the outbox after each trigger
        texts = [n["body"] for n in store.notes(ticket)]
        if texts:
            break
        time.sleep(0.05)
    [text] = texts
    assert "'subject:surname' is missing" in text


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"},
                                     {"X-Adminkit-Token": TOKEN[:-1]},
                                     {"Authorization": f"Basic {TOKEN}"}])
def test_unauthenticated_is_401_and_queues_nothing(serve: Any, env: Any,
                                                    headers: dict[str, str]) -> None:
    s = serve()
    r = s.post("form", {"ticket": "local:1"}, **headers)
    assert r.status_code == 401
    assert s.triggers() == {}
    assert refusals(env.journal) == ["HTTP 401: " + r.json()["error"]]


def test_unknown_sender_oversized_and_malformed(serve: Any, env: Any) -> None:
    s = serve(make_profile(max_body=1024))
    assert s.post("nobody", {"ticket": "local:1"}, **{"X-Adminkit-Token": TOKEN}
                  ).status_code == 401
    big = json.dumps({"ticket": "local:1", "pad": "x" * 5000}).encode()
    assert s.post("form", big, **{"X-Adminkit-Token": TOKEN}).status_code == 413
    assert s.post("form", b"{not json", **{"X-Adminkit-Token": TOKEN}).status_code == 400
    assert s.post("form", b"[1, 2]", **{"X-Adminkit-Token": TOKEN}).status_code == 400
    assert s.post("form", {"ticket": "rt:12"}, **{"X-Adminkit-Token": TOKEN}).status_code == 400
    assert s.post("form", {"ticket": "local:1", "event": "{{ 7*7 }}"},
                  **{"X-Adminkit-Token": TOKEN}).status_code == 400
    assert s.triggers() == {}
    assert len(refusals(env.journal)) == 6


def _signed(body: bytes, stamp: int) -> dict[str, str]:
    mac = hmac.new(SECRET.encode(), str(stamp).encode() + b"." + body, hashlib.sha256)
    return {"X-Adminkit-Timestamp": str(stamp), "X-Adminkit-Signature": f"sha256={mac.hexdigest()}"}


def test_a_timestamped_signature_is_refused_when_replayed_later(serve: Any) -> None:
    s = serve(workers=1)
    ticket = LocalTickets().new("Printer", requester="boss@example.test")
    body = json.dumps({"ticket": ticket}).encode()
    now = int(time.time())
    assert s.post("signed", body, **_signed(body, now)).status_code == 202
    old = s.post("signed", body, **_signed(body, now - 3600))  # captured an hour ago
    assert old.status_code == 401 and "window" in old.json()["error"]
    tampered = s.post("signed", body.replace(b"}", b', "x": 1}'), **_signed(body, now))
    assert tampered.status_code == 401
    assert s.settled(s.key(f"local:{ticket}:created")) == "ignored"  # no rule takes a printer


def test_zammad_trigger_webhook_needs_its_hmac(serve: Any) -> None:
    s = serve(make_profile("zammad"), workers=0)  # accepted and queued: no worker runs it
    body = json.dumps({"ticket": {"id": 42, "number": "31042", "title": "New hire: Jana"},
                       "article": {"id": 77, "from": "boss@example.test"}}).encode()
    sig = "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
    assert s.post("zammad", body).status_code == 401
    assert s.post("zammad", body, **{"X-Hub-Signature": "sha1=" + "0" * 40}).status_code == 401
    r = s.post("zammad", body, **{"X-Hub-Signature": sig, "X-Zammad-Delivery": "d-1"})
    assert r.status_code == 202, r.text
    assert s.triggers() == {s.key("zammad:42:article-77"): "queued"}


def test_over_the_queue_limit_is_429_with_retry_after(serve: Any) -> None:
    s = serve(make_profile(queue_limit=2), workers=0)
    answers = [s.post("form", {"ticket": f"local:{n}"}, **{"X-Adminkit-Token": TOKEN})
               for n in (1, 2, 3)]
    assert [a.status_code for a in answers] == [202, 202, 429]
    assert answers[2].headers["Retry-After"] == "30"
    assert set(s.triggers()) == {s.key("local:1:created"),  # nothing lost
                                 s.key("local:2:created")}


def test_a_restarted_serve_takes_the_open_triggers_again(serve: Any) -> None:
    first = serve(workers=0)
    ticket = LocalTickets().new("Unlock: jdoe", requester="boss@example.test")
    assert first.post("form", {"ticket": ticket}, **{"X-Adminkit-Token": TOKEN}
                      ).status_code == 202
    first.web.should_exit = True  # stopped before any worker took it
    second = serve(workers=1)
    assert second.settled(second.key(f"local:{ticket}:created")) == "waiting"


def test_workers_get_the_interpreter_soon_after_a_wait_while_serve_runs(serve: Any) -> None:
    """A worker back from its directory waits at most SWITCH_INTERVAL for the
    interpreter, not CPython's 5 ms; the process's setting comes back at shutdown."""
    before = sys.getswitchinterval()
    running = serve(workers=2)
    assert sys.getswitchinterval() == min(before, SWITCH_INTERVAL) < 0.005
    running.web.should_exit = True
    running.hub.shutdown()
    assert sys.getswitchinterval() == before


def test_not_on_loopback_without_tls_is_refused(env: Any) -> None:
    from adminkit.core.errors import UsageError
    from adminkit.tickets.systems import open_system

    profile = make_profile()
    hub = Hub(RunService(journal_path=env.journal), profile,
              lambda: open_system(profile, "local"), find)
    try:
        with pytest.raises(UsageError, match="without TLS"):
            server(hub, host="0.0.0.0")  # noqa: S104
    finally:
        hub.shutdown()


# -- the vendors' documented shapes (pure: authenticate and parse) ----------------------

@pytest.mark.parametrize(("kind", "body", "ticket_kind", "key"), [
    ("jira", {"webhookEvent": "jira:issue_created", "timestamp": 1733520000000,
              "issue": {"id": "10002", "key": "HD-12", "fields": {"summary": "New hire"}}},
     "jira", "jira:HD-12:jira:issue_created"),
    ("servicenow", {"number": "INC0012345", "sys_id": "9d385017c611228701d22104cc95c371",
                    "event": "inserted"}, "servicenow", "snow:INC0012345:inserted"),
    ("glpi", {"event": "new", "itemtype": "Ticket", "items_id": 12,
              "item": {"id": 12, "name": "New hire"}}, "glpi", "glpi:12:new"),
    ("generic", {"ticket": "42"}, "rt", "rt:42:created"),
])
def test_vendor_bodies_name_their_ticket(kind: str, body: dict[str, Any], ticket_kind: str,
                                         key: str) -> None:
    from adminkit.automation.settings import Sender
    from adminkit.automation.webhooks import Keys, Refused, authenticate, parse

    sender = Sender(name="s", kind=kind, token="env:HOOK_TOKEN")  # type: ignore[arg-type]
    keys = Keys(token=TOKEN.encode())
    raw = json.dumps(body).encode()
    authenticate(sender, keys, {"authorization": f"Bearer {TOKEN}"}, raw, time.time())
    with pytest.raises(Refused) as refused:
        authenticate(sender, keys, {}, raw, time.time())
    assert refused.value.status == 401
    assert parse(sender, {}, raw, ticket_kind).key == key


def test_a_glpi_event_on_another_item_type_names_no_ticket() -> None:
    from adminkit.automation.settings import Sender
    from adminkit.automation.webhooks import Refused, parse

    sender = Sender(name="g", kind="glpi", token="env:HOOK_TOKEN")
    with pytest.raises(Refused, match="no ticket"):
        parse(sender, {}, json.dumps({"event": "new", "itemtype": "Computer",
                                      "items_id": 3}).encode(), "glpi")


def test_a_deeply_nested_body_is_400_not_a_server_error(serve: Any, env: Any) -> None:
    """JSON nested deeper than the decoder's recursion (20 kB of `[`, well under the
    body limit): a RecursionError escaped `parse`, answered 500 with a traceback in the
    log and no refusal journaled; it is a malformed body like any other."""
    s = serve(make_profile())
    for body in (b"[" * 20000, b'{"ticket":' * 5000):
        answer = s.post("form", body, **{"X-Adminkit-Token": TOKEN})
        assert (answer.status_code, answer.json()) == (400, {"error": "the body is not JSON"})
    assert s.triggers() == {}
    assert len(refusals(env.journal)) == 2


def test_senders_must_authenticate() -> None:
    from pydantic import ValidationError

    from adminkit.automation.settings import Sender

    with pytest.raises(ValidationError, match="token or a secret"):
        Sender(name="open")
    with pytest.raises(ValidationError, match="HMAC secret"):
        Sender(name="z", kind="zammad", token="env:HOOK_TOKEN")


def test_tls_with_the_profiles_certificate(serve: Any, tmp_path: Path) -> None:
    """Not on loopback only: served over TLS, verified against the certificate's CA."""
    from adminkit.lab.smtp import make_tls

    make_tls(tmp_path)  # a CA and a certificate for 127.0.0.1
    s = serve(make_profile(tls_cert=str(tmp_path / "sink.pem"),
                           tls_key=str(tmp_path / "sink.key")), workers=0)
    url = s.url.replace("http://", "https://")
    r = httpx.post(f"{url}/hooks/form", json={"ticket": "local:1"},
                   headers={"X-Adminkit-Token": TOKEN}, timeout=30,
                   verify=ssl.create_default_context(cafile=str(tmp_path / "ca.pem")))
    assert r.status_code == 202, r.text
    with pytest.raises(httpx.HTTPError):  # plain http is not answered
        httpx.post(f"{s.url}/hooks/form", json={"ticket": "local:2"},
                   headers={"X-Adminkit-Token": TOKEN}, timeout=30)
    assert list(s.triggers()) == [s.key("local:1:created")]


def test_an_idle_look_takes_a_trigger_left_running_but_not_one_in_hand(serve: Any) -> None:
    """A trigger whose resume could not reach a system stays running: the workers' idle
    look queues it again (it was never looked at again until a restart); one a worker
    has in hand is not queued twice."""
    from adminkit.journal.triggers import Triggers

    running = serve(workers=0)
    hub = running.hub
    triggers = Triggers(hub.journal)
    for key in ("local:1:created", "local:2:created"):
        triggers.add(key, source="serve", profile=hub.profile.name, ticket=key[:7])
        triggers.move(key, "running")
    with hub.lock:
        hub.in_flight.add("local:2:created")  # a worker has it
    hub._waiting()
    queued = []
    while not hub.work.empty():
        queued.append(hub.work.get_nowait())
    assert queued == ["local:1:created"]


def _trickle(url: str, sent: bytes = b"{") -> Any:
    """A connection that sends a webhook's headers and the start of its body, then waits
    (a slow or stalled client)."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    sock.sendall(b"POST /hooks/form HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"X-Adminkit-Token: " + TOKEN.encode() + b"\r\nContent-Length: 100\r\n\r\n"
                 + sent)
    return sock


def test_a_body_that_trickles_in_gets_408_and_frees_its_connection(serve: Any,
                                                                    env: Any) -> None:
    """A client that sends its body a byte now and then held a connection and a request
    for as long as it liked (slowloris); the body has body_timeout to arrive."""
    s = serve(make_profile(body_timeout=1), workers=0)
    with _trickle(s.url) as sock:
        started = time.monotonic()
        answer = sock.recv(4096)
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert waited < 20  # not the client's own 30 s timeout
    assert any("the body took over 1 s to arrive" in r for r in refusals(env.journal))
    assert s.triggers() == {}


def test_connections_beyond_max_connections_get_503(serve: Any) -> None:
    """Stalled clients are bounded: while more connections than max_connections are open,
    requests are answered 503 at once (and closed) instead of each holding a request
    (uvicorn counts the connections open when a request's headers arrive); once they
    end, requests are taken again."""
    s = serve(make_profile(max_connections=3, body_timeout=30), workers=0)
    held = [_trickle(s.url) for _ in range(6)]
    answered = []
    try:
        for sock in held:
            sock.settimeout(2)
            try:
                answered.append(sock.recv(200))
            except TimeoutError:
                answered.append(b"")  # held, waiting for the rest of its body
    finally:
        for sock in held:
            sock.close()
    refused = [a for a in answered if a.startswith(b"HTTP/1.1 503")]
    assert refused, answered  # without the limit each waits 30 s for its body
    assert_taken_again(s)


def assert_taken_again(s: Running) -> None:
    """A webhook is queued once the server has noticed the closed connections."""
    for _ in range(100):
        taken = s.post("form", {"ticket": "local:1"}, **{"X-Adminkit-Token": TOKEN})
        if taken.status_code != 503:
            break
        time.sleep(0.05)
    assert taken.status_code == 202, taken.text
    assert s.triggers() == {s.key("local:1:created"): "queued"}
