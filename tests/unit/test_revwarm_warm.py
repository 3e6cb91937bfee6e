"""Review of serve's kept connections (automation/warm.py): a connection the server
closed between two runs is not handed to the next run."""

from __future__ import annotations

from adminkit.automation.warm import Warm
from adminkit.core.run import Run
from tests.unit.toys import ToyConn, ToyServer


class Closable(ToyServer):
    """Connections that forget what they cached, and say whether they are still open."""

    def open(self, target: str) -> ToyConn:
        conn = super().open(target)
        conn.forget_cached = lambda: None  # type: ignore[attr-defined]
        conn.alive = True  # type: ignore[attr-defined]
        conn.connected = lambda: conn.alive  # type: ignore[attr-defined]
        return conn


def test_a_connection_the_server_closed_is_not_handed_to_the_next_run() -> None:
    """Reconnecting it would bind with the password it was opened with: a fresh one
    resolves the (maybe rotated) secret again."""
    server = Closable()
    warm = Warm()
    first = warm.context(Run(command="one"), None)
    conn = first.connection("toy", "t1", server.opener("t1"), server.close)
    warm.keep(first)
    conn.alive = False  # type: ignore[attr-defined]  # slapd restarted meanwhile
    second = warm.context(Run(command="two"), None)
    assert conn.closed == 1
    assert second.connection("toy", "t1", server.opener("t1"), server.close) is not conn
    second.close()


def test_a_connection_still_open_is_handed_over() -> None:
    server = Closable()
    warm = Warm()
    first = warm.context(Run(command="one"), None)
    conn = first.connection("toy", "t1", server.opener("t1"), server.close)
    warm.keep(first)
    second = warm.context(Run(command="two"), None)
    assert second.connection("toy", "t1", server.opener("t1"), server.close) is conn
    second.close()
    assert conn.closed == 1
