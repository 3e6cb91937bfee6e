"""The connection registry: reuse, limits per target and per backend, leases returned on
every path, open and wait timeouts, cancellation and close."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

import pytest

from adminkit.core.errors import ConnectionFailed, Interrupted
from adminkit.core.targets import Limits, Targets
from tests.unit.toys import ToyConn, ToyServer

GUARD = 30.0  # seconds: only turns a hang into a failure


def _lease(targets: Targets, server: ToyServer, target: str = "t1",
           limits: Limits | None = None) -> ToyConn:
    """Lease and return at once; the connection it got."""
    with targets.lease(server.kind, target, server.opener(target), server.close,
                       limits=limits) as conn:
        return conn


def _threads(n: int, body: Callable[[int], None]) -> list[BaseException]:
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            body(i)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(GUARD)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    return errors


def test_a_connection_is_opened_once_and_reused() -> None:
    targets, server = Targets(), ToyServer()
    first = _lease(targets, server)
    assert _lease(targets, server) is first
    assert server.opened == 1 and server.closed == 0
    other = _lease(targets, server, "t2")
    assert other is not first  # another target, another connection
    targets.close()
    assert server.closed == 2 and server.closed_twice == 0


def test_limits_hold_under_many_workers() -> None:
    """12 workers, 3 targets, at most 2 per target and 4 for the backend: the counters of
    the toy server never see more, and every connection is closed once at the end."""
    targets, server = Targets(), ToyServer()
    limits = Limits(per_target=2, per_backend=4, wait_timeout=GUARD)

    def worker(i: int) -> None:
        rng = random.Random(i)
        for _ in range(40):
            target = rng.choice(["a", "b", "c"])
            with targets.lease(server.kind, target, server.opener(target), server.close,
                               limits=limits) as conn, server.use(conn):
                threading.Event().wait(0.0005)

    assert _threads(12, worker) == []
    assert max(server.peak.values()) <= 2
    assert server.peak_all <= 4
    assert max(server.open_peak.values()) <= 2 and server.open_peak_all <= 4
    assert targets.open_count("toy") <= 4
    targets.close()
    assert server.closed == server.opened and server.closed_twice == 0
    assert targets.open_count() == 0


def test_a_worker_waits_for_a_free_connection_and_then_reuses_it() -> None:
    targets, server = Targets(), ToyServer()
    limits = Limits(per_target=2, wait_timeout=0.05)
    holding, release = threading.Barrier(3, timeout=GUARD), threading.Event()
    held: list[ToyConn] = []

    def hold(_: int) -> None:
        with targets.lease("toy", "t1", server.opener("t1"), server.close,
                           limits=limits) as conn:
            held.append(conn)
            holding.wait()
            release.wait(GUARD)

    threads = [threading.Thread(target=hold, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    holding.wait()  # both are out: a third has to wait, and gives up after wait_timeout
    with pytest.raises(ConnectionFailed, match=r"no free connection within 0\.05 s"):
        _lease(targets, server, limits=limits)
    release.set()
    for t in threads:
        t.join(GUARD)
    assert _lease(targets, server, limits=limits) in held
    assert server.opened == 2
    targets.close()


def test_one_connection_serves_several_leases_when_shared() -> None:
    targets, server = Targets(), ToyServer()
    limits = Limits(per_target=1, shared=3, wait_timeout=0.05)
    with targets.lease("toy", "t", server.opener("t"), server.close, limits=limits) as a, \
            targets.lease("toy", "t", server.opener("t"), server.close, limits=limits) as b, \
            targets.lease("toy", "t", server.opener("t"), server.close, limits=limits) as c:
        assert a is b is c
        with pytest.raises(ConnectionFailed, match="no free connection"):
            _lease(targets, server, "t", limits)  # a fourth use
    assert server.opened == 1
    targets.close()


def test_the_backend_limit_closes_the_idle_connection_of_another_target() -> None:
    targets, server = Targets(), ToyServer()
    limits = Limits(per_backend=2)
    a = _lease(targets, server, "a", limits)
    b = _lease(targets, server, "b", limits)
    c = _lease(targets, server, "c", limits)  # room made by closing a, returned first
    assert (a.closed, b.closed, c.closed) == (1, 0, 0)
    assert targets.open_count("toy") == 2
    targets.close()
    assert server.closed == 3 and server.closed_twice == 0


def test_a_lease_goes_back_when_the_work_fails() -> None:
    targets, server = Targets(), ToyServer()
    limits = Limits(per_target=1, wait_timeout=GUARD)
    first = _lease(targets, server, limits=limits)
    with pytest.raises(ValueError, match="a bad row"), \
            targets.lease("toy", "t1", server.opener("t1"), server.close, limits=limits):
        raise ValueError("a bad row")
    with pytest.raises(KeyboardInterrupt), \
            targets.lease("toy", "t1", server.opener("t1"), server.close, limits=limits):
        raise KeyboardInterrupt
    assert _lease(targets, server, limits=limits) is first  # back, and still good
    assert server.opened == 1 and server.closed == 0
    targets.close()


def test_a_connection_that_broke_is_closed_not_reused() -> None:
    targets, server = Targets(), ToyServer()
    with pytest.raises(ConnectionResetError), \
            targets.lease("toy", "t1", server.opener("t1"), server.close) as broken:
        raise ConnectionResetError("reset by peer")
    assert broken.closed == 1
    assert _lease(targets, server) is not broken
    assert server.opened == 2
    targets.close()


def test_a_failed_open_frees_its_place() -> None:
    targets, server = Targets(), ToyServer()
    limits = Limits(per_target=1, wait_timeout=0.05)
    server.fail_open = ConnectionFailed("t1 refused")
    with pytest.raises(ConnectionFailed, match="refused"):
        _lease(targets, server, limits=limits)
    server.fail_open = None
    assert _lease(targets, server, limits=limits).number == 1  # not "no free connection"
    targets.close()


def test_an_open_that_takes_too_long_is_given_up_and_closed_when_it_comes() -> None:
    targets, server = Targets(), ToyServer()
    proceed, late = threading.Event(), threading.Event()

    def slow_open() -> ToyConn:
        proceed.wait(GUARD)
        return server.open("t1")

    def close(conn: ToyConn) -> None:
        server.close(conn)
        late.set()

    limits = Limits(per_target=1, open_timeout=0.05)
    with pytest.raises(ConnectionFailed, match=r"not connected within 0\.05 s"), \
            targets.lease("toy", "t1", slow_open, close, limits=limits):
        pass
    proceed.set()  # the open finishes after all: that connection is closed at once
    assert late.wait(GUARD)
    assert server.opened == 1 and server.closed == 1
    assert _lease(targets, server, limits=limits).number == 2  # its place was freed
    targets.close()


def test_cancel_refuses_new_leases_and_closes_idle_ones_now_busy_ones_on_return() -> None:
    targets, server = Targets(), ToyServer()
    limits = Limits(per_target=2)
    idle = _lease(targets, server, "a", limits)
    waiting_started = threading.Event()
    with targets.lease("toy", "b", server.opener("b"), server.close,
                       limits=Limits(per_target=1)) as busy:

        errors: list[BaseException] = []

        def wait_for_b() -> None:
            waiting_started.set()
            try:
                with targets.lease("toy", "b", server.opener("b"), server.close):
                    pass
            except BaseException as exc:  # noqa: BLE001 - checked below
                errors.append(exc)

        waiter = threading.Thread(target=wait_for_b)
        waiter.start()
        waiting_started.wait(GUARD)
        targets.cancel()
        waiter.join(GUARD)
        assert [type(e) for e in errors] == [Interrupted]  # waiting or arriving: refused
        assert idle.closed == 1 and busy.closed == 0  # in use: left to finish
        with pytest.raises(Interrupted, match="interrupted"):
            _lease(targets, server, "a")
    assert busy.closed == 1  # closed as it came back
    targets.close()
    assert server.closed == server.opened == 2 and server.closed_twice == 0


def test_close_closes_connections_in_use_once() -> None:
    targets, server = Targets(), ToyServer()
    with targets.lease("toy", "t1", server.opener("t1"), server.close) as conn:
        targets.close()
        assert conn.closed == 1
    assert conn.closed == 1  # its return does not close it again
    with pytest.raises(Interrupted):
        _lease(targets, server)


def test_held_connections_last_for_the_scope_and_go_back_at_its_end() -> None:
    targets, server = Targets(), ToyServer()
    limits = Limits(per_target=2, wait_timeout=GUARD)

    def held() -> ToyConn:
        conn: ToyConn = targets.held("toy", "t1", server.opener("t1"), server.close,
                                     limits=limits)
        return conn

    with Targets.scope():
        first = held()
        assert held() is first  # the same for the whole unit
        with Targets.scope():  # a step within the unit: the unit's
            assert held() is first
        seen: list[ToyConn] = []
        other = threading.Thread(target=lambda: _in_scope(lambda: seen.append(held())))
        other.start()
        other.join(GUARD)
        assert seen and seen[0] is not first  # another worker, another connection
    with Targets.scope():
        assert held() in (first, seen[0])  # back in the pool, reused
    assert server.opened == 2
    targets.close()
    assert server.closed == 2


def _in_scope(body: Callable[[], None]) -> None:
    with Targets.scope():
        body()


def test_outside_any_scope_a_connection_is_held_until_close() -> None:
    targets, server = Targets(), ToyServer()
    conn = targets.held("toy", "t1", server.opener("t1"), server.close)
    assert targets.held("toy", "t1", server.opener("t1"), server.close) is conn
    assert conn.closed == 0
    targets.close()
    assert conn.closed == 1
