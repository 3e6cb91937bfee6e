"""account.groups against the in-memory directory: what moves, and the protected groups."""

from __future__ import annotations

from pathlib import Path

import pytest

from adminkit.accounts.actions import AccountGroups
from adminkit.accounts.actions.groups import GroupsParams
from adminkit.core.result import Status
from tests.fakes.memdir import dn_key
from tests.unit.account_rig import KINDS, Rig


@pytest.fixture(params=KINDS)
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Rig:
    rig = Rig.new(request.param, tmp_path)
    dn = rig.directory.add_user("gita", "Gita", "Skupinová")
    rig.directory.add_group("old-team", dn)
    rig.directory.add_group("staff")
    rig.directory.add_group("printers")
    return rig


def groups(**params: list[str] | None) -> AccountGroups:
    return AccountGroups(GroupsParams(login="gita", **params))


def test_add_and_remove_say_what_moved(rig: Rig) -> None:
    done = rig.one(groups(add=["STAFF", "old-team"], remove=["old-team", "printers"]))
    # old-team is both kept (asked to add, already in) and left (asked to remove): removed
    assert [c.line() for c in done.changes] == ["group: +staff", "group: -old-team"]
    assert done.summary == "groups of gita: +staff -old-team"
    staff, old = rig.directory.find_group("staff"), rig.directory.find_group("old-team")
    assert staff is not None and old is not None
    assert done.data == {"added": [staff.dn], "removed": [old.dn]}
    assert rig.directory.group_names("gita") == {"staff"}
    assert rig.directory.members("staff") == {"gita"} and rig.directory.members("old-team") == set()

    again = rig.one(groups(add=["staff"], remove=["old-team"]))
    assert (again.status, again.summary) == (Status.OK, "gita: group membership already as asked")


def test_set_adds_and_removes_the_difference_and_undo_restores_it(rig: Rig) -> None:
    action = groups(set=["staff", "printers"])
    done = rig.one(action)
    assert sorted(c.line() for c in done.changes) == [
        "group: +printers", "group: +staff", "group: -old-team"]
    assert rig.directory.group_names("gita") == {"staff", "printers"}
    assert rig.one(groups(set=["printers", "staff"])).status is Status.OK
    undo = action.undo()
    assert undo is not None and rig.one(undo).status is Status.CHANGED
    assert rig.directory.group_names("gita") == {"old-team"}
    cleared = rig.one(groups(set=[]))
    assert [c.line() for c in cleared.changes] == ["group: -old-team"]
    assert rig.directory.group_names("gita") == set()


def test_set_with_add_and_a_missing_group_are_refused_before_writing(rig: Rig) -> None:
    before = rig.directory.state()
    report = rig.run(groups(set=["staff"], add=["printers"]),
                     groups(add=["staff", "No-Such-Group", "Nor-This"]))
    mixed, missing = report.results
    assert (mixed.exit_code, mixed.error_type) == (2, "ValidationError")
    assert mixed.error is not None and "use it alone" in mixed.error
    assert (missing.exit_code, missing.error_type) == (2, "ValidationError")
    assert missing.error is not None
    assert missing.error.splitlines()[0] == "no such group: No-Such-Group, Nor-This"
    assert rig.directory.state() == before


def test_a_group_given_by_dn_is_the_same_group(rig: Rig) -> None:
    staff = rig.directory.find_group("staff")
    assert staff is not None
    assert rig.one(groups(add=[staff.dn.upper()])).status is Status.CHANGED
    assert rig.one(groups(add=["staff"])).status is Status.OK
    assert rig.directory.group_names("gita") == {"old-team", "staff"}


# -- protected groups ----------------------------------------------------------------------
def test_joining_a_protected_group_is_refused(rig: Rig) -> None:
    rig.directory.add_group("Domain Admins")
    rig.protect(groups=["Domain Admins"])
    refused = rig.one(groups(add=["staff", "domain admins"]))
    assert (refused.status, refused.exit_code, refused.error_type) == (
        Status.FAILED, 4, "PolicyRefused")
    assert refused.error is not None
    assert refused.error.splitlines()[0] == "Domain Admins is a protected group"
    assert rig.directory.group_names("gita") == {"old-team"}  # staff was not added either
    assert rig.directory.writes == []


def test_joining_a_group_nested_inside_a_protected_one_is_refused(rig: Rig) -> None:
    tier2 = rig.directory.add_group("Tier 2")
    ops = rig.directory.add_group("Server Operators", tier2)
    rig.directory.add_group("Domain Admins", ops)
    rig.protect(groups=["Domain Admins"])
    refused = rig.one(groups(add=["Tier 2"]))
    assert refused.exit_code == 4 and refused.error is not None
    assert refused.error.splitlines()[0] == \
        "Tier 2 is nested inside the protected group Domain Admins"
    assert rig.directory.members("Tier 2") == set()
    assert rig.one(groups(add=["staff"])).status is Status.CHANGED  # others still may


def test_a_nesting_cycle_ends_and_an_unprotected_group_is_joined(rig: Rig) -> None:
    a = rig.directory.add_group("loop-a")
    b = rig.directory.add_group("loop-b", a)
    rig.directory.groups[dn_key(a)].members.append(b)  # a in b in a
    rig.directory.add_group("Domain Admins")
    rig.protect(groups=["Domain Admins"])
    assert rig.one(groups(add=["loop-a"])).status is Status.CHANGED
    assert rig.directory.members("loop-a") == {"gita"}


def test_leaving_a_protected_group_is_refused_too(rig: Rig) -> None:
    admins = rig.directory.add_group("Domain Admins", rig.directory.entry("gita").dn)
    rig.protect(groups=[admins])  # by DN
    refused = rig.one(groups(remove=["Domain Admins"]))
    assert refused.exit_code == 4
    assert rig.directory.group_names("gita") == {"old-team", "Domain Admins"}


def test_a_group_the_operator_may_not_change_fails_with_the_policy_code(rig: Rig) -> None:
    staff = rig.directory.find_group("staff")
    assert staff is not None
    rig.directory.deny_writes(staff.dn)
    failed = rig.one(groups(add=["staff"]))
    assert (failed.status, failed.exit_code) == (Status.FAILED, 4)
    assert failed.error is not None and "insufficient access rights" in failed.error
    assert rig.directory.members("staff") == set()
