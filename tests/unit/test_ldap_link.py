"""The directory transport's rule, on a real ldap3 connection to a scripted peer.

A request that never left goes again; a read, or a modify that is provably idempotent,
whose answer was lost goes again on a new connection; every other write whose answer
was lost (add, delete, rename, a password change, a compare-and-swap) is reported as
"may or may not have been done" (exit 3) and never sent twice. The integration tests
(test_reconnect.py) hold the same rule against the lab's slapd and Samba AD.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import ldap3
import pytest
from ldap3 import MODIFY_ADD, MODIFY_DELETE, MODIFY_INCREMENT, MODIFY_REPLACE

from adminkit.accounts import connection
from adminkit.accounts.connection import Link, resendable
from adminkit.accounts.ldaperrors import OutcomeUnknown
from adminkit.accounts.openldap import OpenLdapDirectory
from adminkit.accounts.settings import DirectoryConfig
from adminkit.core.errors import ConnectionFailed, ExitCode
from adminkit.core.secrets import Secret
from tests.fakes.ldapframes import add_dn
from tests.fakes.ldappeer import Peer

DN = "uid=jnovak,ou=people,dc=example,dc=org"
GROUP = "cn=staff,ou=groups,dc=example,dc=org"


@pytest.fixture
def peer(monkeypatch: pytest.MonkeyPatch) -> Iterator[Peer]:
    monkeypatch.setattr(connection, "RECONNECT_PAUSE", 0)
    with Peer() as p:
        yield p


def config(peer: Peer) -> DirectoryConfig:
    return DirectoryConfig(kind="openldap", url=peer.url, base_dn="dc=example,dc=org",
                           bind_user="cn=svc,dc=example,dc=org", password="env:UNUSED",
                           insecure=True, timeout=5)


@pytest.fixture
def link(peer: Peer) -> Iterator[Link]:
    opened = Link(config(peer), Secret("Svc-Secret-1"))
    yield opened
    opened.close()


def unknown(exc: pytest.ExceptionInfo[OutcomeUnknown]) -> str:
    assert exc.value.exit_code == ExitCode.CONNECTION
    text = str(exc.value)
    assert "may or may not have been done" in text and "not sent again" in text
    return text


# -- writes that are never sent twice --------------------------------------------------------
@pytest.mark.parametrize(("kind", "call"), [
    ("add", lambda link: link.add("create jnovak", DN, ["inetOrgPerson"],
                                  {"uid": "jnovak", "cn": "Jan", "sn": "Novák"})),
    ("delete", lambda link: link.delete("delete jnovak", DN)),
    ("modifyDN", lambda link: link.modify_dn("move jnovak", DN, "uid=jnovak",
                                             "ou=disabled,dc=example,dc=org")),
    ("extended", lambda link: link.password_modify("set the password of jnovak", DN,
                                                   Secret("New-Pass-77"))),
])
def test_a_write_whose_answer_is_lost_is_reported_and_not_sent_again(
        peer: Peer, link: Link, kind: str, call: Any) -> None:
    peer.cut[kind] = 1
    with pytest.raises(OutcomeUnknown) as exc:
        call(link)
    text = unknown(exc)
    assert "New-Pass-77" not in text
    assert peer.kinds() == [kind]
    assert link.search("read it", DN, "(objectClass=*)", "BASE", ["1.1"])[0]["result"] == 0
    assert peer.kinds() == [kind, "search"] and peer.connections == 2  # the next one goes on


@pytest.mark.parametrize(("changes", "tolerate"), [
    ({"userPassword": [(MODIFY_REPLACE, ["Reset-Pass-33"])]}, ()),
    ({"unicodePwd": [(MODIFY_REPLACE, [b'"P"'])], "pwdLastSet": [(MODIFY_REPLACE, ["0"])]}, ()),
    ({"uidNumber": [(MODIFY_DELETE, ["10000"]), (MODIFY_ADD, ["10064"])]}, (16,)),
])
def test_a_modify_that_is_not_idempotent_is_reported_not_resent(
        peer: Peer, link: Link, changes: dict[str, Any], tolerate: tuple[int, ...]) -> None:
    peer.cut["modify"] = 1
    with pytest.raises(OutcomeUnknown) as exc:
        link.modify("change jnovak", DN, changes, tolerate=tolerate)
    assert "Reset-Pass-33" not in unknown(exc)
    assert peer.kinds() == ["modify"]


# -- what goes again --------------------------------------------------------------------------
@pytest.mark.parametrize(("changes", "tolerate"), [
    ({"description": [(MODIFY_REPLACE, ["left"])], "title": [(MODIFY_REPLACE, [])]}, ()),
    ({"member": [(MODIFY_ADD, [DN])]}, (20, 68)),
    ({"member": [(MODIFY_DELETE, [DN])]}, (16, 53)),
])
def test_an_idempotent_modify_whose_answer_is_lost_goes_again(
        peer: Peer, link: Link, changes: dict[str, Any], tolerate: tuple[int, ...]) -> None:
    peer.cut["modify"] = 1
    assert link.modify("change staff", GROUP, changes, tolerate=tolerate)["result"] == 0
    assert peer.kinds() == ["modify", "modify"] and peer.connections == 2


def test_a_read_whose_answer_is_lost_goes_again_on_a_new_connection(
        peer: Peer, link: Link) -> None:
    peer.cut["search"] = 1
    peer.found = [DN]
    result, response = link.search("find jnovak", "dc=example,dc=org", "(uid=jnovak)",
                                   "SUBTREE", ["uid"])
    assert result["result"] == 0 and [e["dn"] for e in response] == [DN]
    assert [(n, k) for n, k, _ in peer.requests if k == "search"] == [(1, "search"),
                                                                     (2, "search")]


def test_a_bulk_login_search_whose_answer_is_lost_goes_again(peer: Peer, link: Link) -> None:
    peer.cut["search"] = 1
    peer.found = [DN]
    found = link.search_equal("look up logins", "dc=example,dc=org", [("uid", "jnovak")],
                              ["uid"], "(|(uid=jnovak))")
    assert [e["dn"] for e in found or []] == [DN]
    assert peer.kinds() == ["search", "search"]


def test_a_write_after_the_server_closed_the_idle_connection_is_sent_once(
        peer: Peer, link: Link) -> None:
    """Nothing was sent on the closed connection: the add goes, once, on a new one."""
    peer.close_open()
    result = link.add("create jnovak", DN, ["inetOrgPerson"], {"uid": "jnovak", "sn": "N"})
    assert result["result"] == 0
    assert [(n, k) for n, k, _ in peer.requests if k == "add"] == [(2, "add")]


def test_a_read_lost_every_time_gives_up_with_exit_3(peer: Peer, link: Link) -> None:
    peer.cut["search"] = connection.RECONNECT_TRIES
    with pytest.raises(ConnectionFailed, match="lost 3 times") as exc:
        link.search("find jnovak", "dc=example,dc=org", "(uid=jnovak)", "SUBTREE", ["uid"])
    assert not isinstance(exc.value, OutcomeUnknown)
    assert exc.value.exit_code == ExitCode.CONNECTION
    assert peer.kinds() == ["search"] * connection.RECONNECT_TRIES


def test_a_directory_that_stays_away_is_a_connection_failure(peer: Peer, link: Link) -> None:
    peer.stop()
    with pytest.raises(ConnectionFailed, match="tried 3 times") as exc:
        link.search("find jnovak", "dc=example,dc=org", "(uid=jnovak)", "SUBTREE", ["uid"])
    assert exc.value.exit_code == ExitCode.CONNECTION


def test_a_paged_search_cut_between_pages_starts_again_and_yields_each_entry_once(
        peer: Peer) -> None:
    pages = [["uid=a,dc=x", "uid=b,dc=x"], ["uid=c,dc=x", "uid=d,dc=x"], ["uid=e,dc=x"]]
    peer.pages = pages
    peer.spare["search"], peer.cut["search"] = 1, 1  # the second page's answer is lost
    directory = OpenLdapDirectory(config(peer), Secret("Svc-Secret-1"))
    try:
        found = [e["dn"] for e in directory.entries("dc=x", "(uid=*)", ["uid"])]
    finally:
        directory.close()
    assert found == [dn for page in pages for dn in page]
    searches = [(n, m) for n, k, m in peer.requests if k == "search"]
    assert [n for n, _ in searches] == [1, 1, 2, 2, 2]
    assert b"\xfe-page-1" in searches[1][1]  # the cookie went on its own connection
    assert b"\xfe-page" not in searches[2][1]  # never on another: the search began again


# -- the rule itself ----------------------------------------------------------------------------
@pytest.mark.parametrize(("changes", "tolerate", "expected"), [
    ({"description": [(MODIFY_REPLACE, ["x"])]}, (), True),
    ({"description": [(MODIFY_REPLACE, [])]}, (), True),  # remove: a second is a no-op too
    ({"member": [(MODIFY_ADD, ["cn=a"])]}, (20, 68), True),
    ({"member": [(MODIFY_ADD, ["cn=a"])]}, (), False),  # a second answers 20: an error
    ({"memberUid": [(MODIFY_DELETE, ["a"])]}, (16, 53), True),
    ({"memberUid": [(MODIFY_DELETE, ["a"])]}, (), False),
    ({"pwdAccountLockedTime": [(MODIFY_DELETE, [])]}, (16,), True),
    ({"uidNumber": [(MODIFY_DELETE, ["7"]), (MODIFY_ADD, ["8"])]}, (16, 20), False),
    ({"member": [(MODIFY_DELETE, ["cn=a"]), (MODIFY_ADD, ["cn=nobody"])]}, (16, 53), False),
    ({"userPassword": [(MODIFY_REPLACE, ["x"])]}, (), False),
    ({"UnicodePwd": [(MODIFY_REPLACE, [b"x"])]}, (), False),
    ({"pwdReset": [(MODIFY_REPLACE, ["TRUE"])], "userPassword": [(MODIFY_REPLACE, ["x"])]},
     (), False),
    ({"loginCount": [(MODIFY_INCREMENT, [1])]}, (), False),
])
def test_which_modifies_may_go_again(changes: dict[str, Any], tolerate: tuple[int, ...],
                                     expected: bool) -> None:
    assert resendable(changes, tolerate) is expected


def test_the_modify_constants_are_the_ones_the_rule_knows() -> None:
    assert {ldap3.MODIFY_ADD, ldap3.MODIFY_DELETE, ldap3.MODIFY_REPLACE,
            ldap3.MODIFY_INCREMENT} == {"MODIFY_ADD", "MODIFY_DELETE", "MODIFY_REPLACE",
                                        "MODIFY_INCREMENT"}


# -- the DN a write reports ---------------------------------------------------------------
def test_a_dn_without_escapes_is_reported_as_written_without_a_read(peer: Peer) -> None:
    """A bulk import's every row once searched for the DN it had just added."""
    directory = OpenLdapDirectory(config(peer), Secret("Svc-Secret-1"))
    try:
        assert directory.stored_dn(DN) == DN
        assert "search" not in peer.kinds()
        escaped = "cn=Eva \\2C\\2C,ou=people,dc=example,dc=org"
        peer.found = ["CN=Eva \\,\\,,OU=People,dc=example,dc=org"]  # the server's spelling
        assert directory.stored_dn(escaped) == "CN=Eva \\2C\\2C,OU=People,dc=example,dc=org"
        assert peer.kinds().count("search") == 1
    finally:
        directory.close()


# -- pipelined adds (a bulk unit's accounts) ------------------------------------------------
def _adds(count: int) -> list[tuple[str, tuple[str, list[str], dict[str, Any]]]]:
    return [(f"create u{i}", (f"uid=u{i},ou=people,dc=example,dc=org", ["inetOrgPerson"],
                              {"uid": f"u{i}", "sn": "N"})) for i in range(count)]


def _add_dns(peer: Peer) -> list[str]:
    return [add_dn(m) for _, k, m in peer.requests if k == "add"]


def test_pipelined_adds_are_matched_to_their_answers_by_message_id(
        peer: Peer, link: Link) -> None:
    """The peer answers only once all five are in, the last first: every add was sent
    before any answer came, and each row gets its own answer, in the order given."""
    peer.hold_adds = 5
    results = link.add_many(_adds(5))
    assert [r["result"] for r in results if isinstance(r, dict)] == [0] * 5
    assert _add_dns(peer) == [f"uid=u{i},ou=people,dc=example,dc=org" for i in range(5)]
    assert peer.connections == 1


def test_adds_cut_off_mid_pipeline_are_unknown_and_never_sent_again(
        peer: Peer, link: Link) -> None:
    """Two answered, then the connection drops while the others are on the way: those
    two are done; every other add that left is "may or may not have been done", and
    nothing is sent twice, then or by the next request."""
    peer.spare["add"], peer.cut["add"] = 2, 1
    results = link.add_many(_adds(5))
    assert [r["result"] for r in results[:2] if isinstance(r, dict)] == [0, 0]
    for lost in results[2:]:
        assert isinstance(lost, OutcomeUnknown), lost
        assert "may or may not have been done" in lost.message
        assert lost.exit_code == ExitCode.CONNECTION
    assert link.search("read", DN, "(objectClass=*)", "BASE", ["1.1"])[0]["result"] == 0
    sent = _add_dns(peer)
    assert len(sent) == len(set(sent)) == 3  # the peer read three; none came twice
    assert peer.kinds()[-1] == "search" and peer.connections == 2


def test_pipelined_adds_after_the_server_closed_the_idle_connection_go_once(
        peer: Peer, link: Link) -> None:
    peer.close_open()
    results = link.add_many(_adds(3))
    assert all(isinstance(r, dict) and r["result"] == 0 for r in results), results
    assert [n for n, k, _ in peer.requests if k == "add"] == [2, 2, 2]


def test_a_value_that_cannot_be_sent_fails_its_own_add_only(peer: Peer, link: Link) -> None:
    adds = _adds(3)
    adds[1][1][2]["description"] = None
    results = link.add_many(adds)
    assert isinstance(results[1], TypeError)
    assert [r["result"] for r in (results[0], results[2]) if isinstance(r, dict)] == [0, 0]
    assert len(_add_dns(peer)) == 2
