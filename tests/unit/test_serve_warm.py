"""A serve worker's connections, kept from one of its runs to the next (automation/warm.py):
through the run service, with a toy action that leases a connection from a toy server
that counts what is opened and closed."""

from __future__ import annotations

import threading

import pytest

from adminkit.automation.request import RunRequest
from adminkit.automation.service import RunService
from adminkit.automation.warm import Warm
from adminkit.core.config import Profile
from adminkit.core.run import Run
from adminkit.core.targets import Limits
from tests.unit.conftest import Env
from tests.unit.toys import TargetAction, TargetParams, ToyConn, ToyServer


class Forgetful(ToyServer):
    """Its connections can forget what they cached, as a directory's can: kept."""

    def open(self, target: str) -> ToyConn:
        conn = super().open(target)
        conn.forgot = 0  # type: ignore[attr-defined]

        def forget() -> None:
            conn.forgot += 1  # type: ignore[attr-defined]

        conn.forget_cached = forget  # type: ignore[attr-defined]
        return conn


@pytest.fixture
def server() -> ToyServer:
    server = Forgetful()
    TargetAction.server, TargetAction.work = server, None
    TargetAction.limits = Limits(per_target=1, wait_timeout=30.0)
    return server


def _run(service: RunService, warm: Warm | None, key: str,
         profile: Profile | None = None) -> list[tuple[str, str]]:
    calls: list[tuple[str, str]] = []
    report = service.run(RunRequest(command=f"toy {key}", profile=profile,
                                    actions=[TargetAction(TargetParams(key=key), calls)]),
                         warm=warm)
    assert report.exit_code == 0
    return calls


def test_a_workers_next_runs_reuse_its_connection(env: Env, server: ToyServer) -> None:
    service, warm = RunService(journal_path=env.journal), Warm()
    calls = [c for key in "abc" for c in _run(service, warm, key) if ":" in c[1]]
    assert calls == [(k, f"{phase}:1") for k in "abc" for phase in ("plan", "apply")]
    assert [c.closed for c in server.conns] == [0]  # one connection, open between runs
    assert [c.forgot for c in server.conns] == [2]  # type: ignore[attr-defined]
    warm.close()
    assert [c.closed for c in server.conns] == [1]


def test_without_a_warm_worker_each_run_opens_and_closes_its_own(env: Env,
                                                                 server: ToyServer) -> None:
    service = RunService(journal_path=env.journal)
    for key in "abc":
        _run(service, None, key)
    assert [c.closed for c in server.conns] == [1, 1, 1]


def test_connections_past_their_age_are_closed_and_opened_anew(env: Env,
                                                               server: ToyServer) -> None:
    service, warm = RunService(journal_path=env.journal), Warm(max_age=-1.0)  # always old
    _run(service, warm, "a")
    assert [c.closed for c in server.conns] == [0]
    _run(service, warm, "b")
    assert [c.closed for c in server.conns] == [1, 0]
    warm.expire()  # an idle worker lets them go
    assert [c.closed for c in server.conns] == [1, 1]


def test_another_profile_never_gets_the_kept_connections(env: Env, server: ToyServer) -> None:
    service, warm = RunService(journal_path=env.journal), Warm()
    _run(service, warm, "a", Profile.of(name="one"))
    _run(service, warm, "b", Profile.of(name="two"))
    assert [c.closed for c in server.conns] == [1, 0]
    warm.close()


def test_an_interrupted_context_is_closed_not_kept(server: ToyServer) -> None:
    warm = Warm()
    ctx = warm.context(Run(command="toy"), None)
    ctx.targets.held("toy", "t1", server.opener("t1"), server.close)
    ctx.interrupt()  # Ctrl-C during the run
    warm.keep(ctx)
    assert [c.closed for c in server.conns] == [1]
    fresh = warm.context(Run(command="toy"), None)
    assert not fresh.targets.cancelled
    fresh.close()


def test_notes_at_the_runs_end_start_no_thread_and_reach_the_ticket(env: Env,
                                                                     server: ToyServer) -> None:
    """serve's workers: no delivery thread per run; the note is on the ticket when the
    run returns, delivered by the worker's own thread."""
    from adminkit.tickets.local import LocalTickets

    store = LocalTickets()
    ticket = store.new("unlock me")
    store.close()
    during: list[list[str]] = []
    TargetAction.work = lambda _key: during.append([t.name for t in threading.enumerate()])
    service = RunService(journal_path=env.journal)
    service.deliver_later, service.notes_during_run = False, False
    calls: list[tuple[str, str]] = []
    report = service.run(RunRequest(command="toy a", profile=None, ticket=f"local:{ticket}",
                                    actions=[TargetAction(TargetParams(key="a"), calls)]),
                         warm=Warm())
    assert report.exit_code == 0 and during
    assert not any("adminkit-notes" in names for names in during)
    store = LocalTickets()
    [note] = store.notes(ticket)
    store.close()
    assert report.run.id in note["body"]


def test_the_next_run_gets_the_connection_but_not_what_the_last_one_cached(
        server: ToyServer) -> None:
    warm = Warm()
    first = warm.context(Run(command="one"), None)
    conn = first.connection("toy", "t1", server.opener("t1"), server.close)
    closed: list[str] = []
    first.resource("group-cache", dict, lambda _c: closed.append("cache"))["staff"] = "read"
    warm.keep(first)
    assert closed == ["cache"] and [c.closed for c in server.conns] == [0]
    second = warm.context(Run(command="two"), None)
    assert second.resource("group-cache", dict) == {}  # read afresh by this run
    assert second.connection("toy", "t1", server.opener("t1"), server.close) is conn
    second.close()
    assert [c.closed for c in server.conns] == [1]


def test_a_connection_that_cannot_forget_its_cache_is_never_kept(env: Env) -> None:
    server = ToyServer()
    TargetAction.server, TargetAction.work = server, None
    service, warm = RunService(journal_path=env.journal), Warm()
    for key in "ab":
        _run(service, warm, key)
    assert [c.closed for c in server.conns] == [1, 0]  # closed when the next run began
    warm.close()
