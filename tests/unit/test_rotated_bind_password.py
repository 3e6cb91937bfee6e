"""A directory connection lost in the middle of a run binds again with the password the
secret store holds now, not the one it held when the directory was opened.

A serve worker keeps its connections between runs; the service account's password is
rotated meanwhile (the store updated first, then the directory). A connection that drops
later used to reconnect once with the old password (refused, or worse: a lockout count).
The real ldap3 client and adminkit's transport against a scripted peer that records each
bind request's bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adminkit.accounts import connection
from adminkit.accounts.directory import open_directory
from adminkit.core.config import Profile
from adminkit.core.secrets import Current, current, redact
from tests.fakes.ldappeer import Peer

OLD, NEW = "Old-Svc-Pass-1", "New-Svc-Pass-2"


@pytest.fixture
def peer(monkeypatch: pytest.MonkeyPatch) -> Iterator[Peer]:
    monkeypatch.setattr(connection, "RECONNECT_PAUSE", 0)
    with Peer() as p:
        yield p


def binds(peer: Peer) -> list[tuple[int, bool, bool]]:
    """(connection, old password sent, new password sent) of each bind."""
    return [(n, OLD.encode() in raw, NEW.encode() in raw) for n, k, raw in peer.requests
            if k == "bind"]


def test_a_connection_lost_after_a_rotation_binds_with_the_new_password(
        peer: Peer, tmp_path: Path) -> None:
    secret = tmp_path / "svc-password"
    secret.write_text(OLD + "\n")
    secret.chmod(0o600)
    profile = Profile.of(name="acme", directory={
        "kind": "openldap", "url": peer.url, "base_dn": "dc=example,dc=org",
        "bind_user": "cn=svc,dc=example,dc=org", "password": f"file:{secret}",
        "insecure": True, "timeout": 5})
    directory = open_directory(profile)
    try:
        secret.write_text(NEW + "\n")  # rotated in the store while the connection lives
        peer.cut["search"] = 1  # the connection drops under the next request
        directory.link.search("find jnovak", "dc=example,dc=org", "(uid=jnovak)",  # type: ignore[attr-defined]
                              "SUBTREE", ["uid"])
    finally:
        directory.close()
    assert binds(peer) == [(1, True, False), (2, False, True)]


def test_a_current_secret_reads_the_store_at_each_reveal(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SVC_PW", OLD)
    secret = current("env:SVC_PW", label="directory password")
    assert isinstance(secret, Current) and secret.reveal() == OLD
    monkeypatch.setenv("SVC_PW", NEW)
    assert secret.reveal() == NEW
    assert NEW not in redact(f"bound with {NEW}") and NEW not in str(secret)
