"""A directory that goes away mid-run: once one of the run's connections failed to open
it every try, the run's other connections (one a worker) fail at once, unsent, instead
of each trying again (review 12c: a 1,200-row import whose slapd was killed spent 52 s
on its last 150 rows before exit 3; ten thousand rows would have taken an hour). The
real ldap3 client and transport against a scripted peer that then stops listening."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from adminkit.accounts import connection
from adminkit.accounts.directory import directory_of, open_directory
from adminkit.core.config import Profile
from adminkit.core.context import Context
from adminkit.core.errors import ConnectionFailed
from adminkit.core.run import Run
from tests.fakes.ldappeer import Peer


@pytest.fixture
def peer(monkeypatch: pytest.MonkeyPatch) -> Iterator[Peer]:
    monkeypatch.setattr(connection, "RECONNECT_PAUSE", 0)
    with Peer() as p:
        yield p


def test_a_directory_gone_is_tried_once_per_run_not_once_per_connection(
        peer: Peer, monkeypatch: pytest.MonkeyPatch) -> None:
    profile = Profile.of(name="acme", directory={
        "kind": "openldap", "url": peer.url, "base_dn": "dc=example,dc=org",
        "bind_user": "cn=svc,dc=example,dc=org", "password": "env:REV12C_NO_SUCH_VAR",
        "insecure": True, "timeout": 5})
    monkeypatch.setenv("REV12C_NO_SUCH_VAR", "Svc-Pass-1")
    ctx = Context(run=Run(command="account import x.csv"), profile=profile)
    first: Any = directory_of(ctx)
    second: Any = open_directory(profile)  # another worker's connection of the same run
    second.share_outage(ctx.resource(f"directory-outage:{peer.url}", connection.Outage))
    opened: list[str] = []
    real_connect = connection.connect

    def counting(*args: Any, **kwargs: Any) -> Any:
        opened.append("open")
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(connection, "connect", counting)
    try:
        peer.stop()
        peer.close_open()  # the server goes down
        with pytest.raises(ConnectionFailed):
            first.link.search("find jnovak", "dc=example,dc=org", "(uid=jnovak)",
                              "SUBTREE", ["uid"])
        assert len(opened) == connection.RECONNECT_TRIES
        with pytest.raises(ConnectionFailed) as caught:
            second.link.search("find jnovak", "dc=example,dc=org", "(uid=jnovak)",
                               "SUBTREE", ["uid"])
        assert len(opened) == connection.RECONNECT_TRIES  # not tried again
        assert "not tried again in this run" in caught.value.message
        later = Context(run=Run(command="account import x.csv"), profile=profile)
        second.share_outage(later.resource(f"directory-outage:{peer.url}",
                                           connection.Outage))
        with pytest.raises(ConnectionFailed):  # a new run (a serve worker's) tries again
            second.link.search("find jnovak", "dc=example,dc=org", "(uid=jnovak)",
                               "SUBTREE", ["uid"])
        assert len(opened) == 2 * connection.RECONNECT_TRIES
    finally:
        second.close()
        ctx.close()
