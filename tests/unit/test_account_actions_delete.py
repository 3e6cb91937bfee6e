"""account.delete (soft and hard) and account.purge_quarantine against the in-memory directory."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adminkit.accounts.actions import DeleteAccount, PurgeQuarantine
from adminkit.accounts.actions.delete import DeleteParams, PurgeParams
from adminkit.core.errors import ValidationError
from adminkit.core.result import Status
from tests.unit.account_rig import KINDS, Rig, statuses


@pytest.fixture(params=KINDS)
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Rig:
    return Rig.new(request.param, tmp_path)


def delete(login: str, *, hard: bool = False) -> DeleteAccount:
    return DeleteAccount(DeleteParams(login=login, hard=hard))


def purge(days: int = 30, *, force: bool = False) -> PurgeQuarantine:
    return PurgeQuarantine(PurgeParams(older_than_days=days, force=force))


def stamp(days_ago: int) -> str:
    day = datetime.now(UTC).date() - timedelta(days=days_ago)
    return f"adminkit-quarantine {day.isoformat()} run R-20300101-000000-abcdef from OU=Staff"


# -- soft delete --------------------------------------------------------------------------------
def test_soft_delete_disables_strips_records_moves_and_stamps(rig: Rig) -> None:
    dn = rig.directory.add_user("lea", "Lea", "Odchází", attributes={"description": "Desk 4"})
    staff = rig.directory.add_group("staff", dn)
    printers = rig.directory.add_group("printers", dn)
    staff_ou, quarantine = rig.cfg.users_ou, rig.cfg.quarantine_ou
    rig.journaled = True
    done = rig.one(delete("lea"))
    lines = [c.line() for c in done.changes]
    assert lines[:4] == ["enabled: True -> False", "group: -staff", "group: -printers",
                         f"move ou: {quarantine}"]
    assert lines[4].startswith("description: Desk 4 -> adminkit-quarantine ")
    assert done.summary == "quarantine lea (soft delete)"
    assert done.data == {"groups_removed": [staff, printers], "from": staff_ou}

    entry = rig.directory.entry("lea")
    assert entry.dn == dn.replace(str(staff_ou), str(quarantine))
    assert not entry.enabled and rig.directory.group_names("lea") == set()
    assert rig.directory.members("staff") == set()
    assert entry.description is not None
    assert re.fullmatch(rf"adminkit-quarantine {datetime.now(UTC).date().isoformat()} "
                        rf"run R-\d{{8}}-\d{{6}}-[0-9a-f]{{6}} from {re.escape(str(staff_ou))}",
                        entry.description)
    [row] = rig.journal_rows()  # the groups it left are kept there
    assert row["detail"]["groups_removed"] == [staff, printers]

    again = rig.one(delete("lea"))
    assert (again.status, again.summary) == (Status.OK, "lea is already in quarantine")


def test_soft_delete_without_a_quarantine_ou_is_a_usage_error(tmp_path: Path) -> None:
    rig = Rig.new("ad", tmp_path, quarantine_ou=None)
    rig.directory.add_user("lea")
    failed = rig.one(delete("lea"))
    assert (failed.exit_code, failed.error_type) == (2, "UsageError")
    assert failed.error is not None and "quarantine OU" in failed.error
    assert rig.directory.entry("lea").enabled and rig.directory.writes == []


def test_ad_a_namesake_in_quarantine_leaves_room_by_the_login(tmp_path: Path) -> None:
    rig = Rig.new("ad", tmp_path)
    rig.directory.add_user("jnovak1", "Jan", "Novák", ou=rig.cfg.quarantine_ou)
    rig.directory.add_user("jnovak", "Jan", "Novák")
    assert rig.one(delete("jnovak")).status is Status.CHANGED
    assert rig.directory.entry("jnovak").dn == f"CN=Jan Novák (jnovak),{rig.cfg.quarantine_ou}"
    assert rig.one(delete("jnovak")).status is Status.OK


def test_bulk_soft_delete_on_workers_empties_the_shared_group(rig: Rig) -> None:
    leavers = [rig.directory.add_user(f"leaver{i}") for i in range(8)]
    rig.directory.add_group("staff", *leavers, rig.directory.add_user("stays"))
    report = rig.bulk([delete(f"leaver{i}") for i in range(8)], workers=4)
    assert [s for _, s in statuses(report)] == [Status.CHANGED] * 8
    assert rig.directory.members("staff") == {"stays"}
    quarantined = rig.directory.list_users(str(rig.cfg.quarantine_ou))
    assert sorted(u.login for u in quarantined) == [f"leaver{i}" for i in range(8)]
    assert not any(u.enabled for u in quarantined)


# -- hard delete --------------------------------------------------------------------------------
def test_hard_delete_removes_the_account_and_its_memberships(rig: Rig) -> None:
    dn = rig.directory.add_user("lea")
    rig.directory.add_group("staff", dn)
    done = rig.one(delete("lea", hard=True))
    assert [c.line() for c in done.changes] == [f"delete account: {dn}"]
    assert done.summary == "delete lea for good"
    assert rig.directory.find_user("lea") is None and rig.directory.get_user(dn) is None
    assert rig.directory.members("staff") == set()
    again = rig.one(delete("lea", hard=True))
    assert (again.status, again.summary) == (Status.OK, "no account lea: nothing to delete")


# -- purge --------------------------------------------------------------------------------------
def test_purge_deletes_only_accounts_quarantined_long_enough(rig: Rig) -> None:
    quarantine = rig.cfg.quarantine_ou
    for login, description in (("old", stamp(32)), ("new", stamp(28)),
                                ("hand", "moved here by hand")):
        rig.directory.add_user(login, ou=quarantine, attributes={"description": description})
    rig.directory.add_user("outside", attributes={"description": stamp(400)})
    would = rig.one(purge(30), check=True)
    assert (would.status, would.summary) == (Status.CHANGED,
                                             "would purge 1 account(s) from quarantine")
    assert rig.directory.writes == []
    done = rig.one(purge(30))
    assert [c.line() for c in done.changes] == ["delete account: old"]
    assert (done.summary, done.data) == ("purge 1 account(s) from quarantine",
                                         {"purged": ["old"]})
    assert {u.login for u in rig.directory.list_users(rig.cfg.base_dn)} == {
        "new", "hand", "outside"}
    again = rig.one(purge(30))
    assert (again.status, again.summary) == (
        Status.OK, "nothing in quarantine for more than 30 days")


def test_purge_over_the_bulk_limit_needs_force(rig: Rig) -> None:
    for i in range(3):
        rig.directory.add_user(f"old{i}", ou=rig.cfg.quarantine_ou,
                               attributes={"description": stamp(60)})
    rig.protect(bulk_limit=2)
    refused = rig.one(purge())
    assert (refused.exit_code, refused.error_type) == (4, "PolicyRefused")
    assert refused.error is not None and "over the profile's limit of 2" in refused.error
    assert len(rig.directory.list_users(str(rig.cfg.quarantine_ou))) == 3
    assert rig.one(purge(force=True)).status is Status.CHANGED
    assert rig.directory.list_users(str(rig.cfg.quarantine_ou)) == []


def test_purge_refuses_a_protected_account_and_deletes_none(rig: Rig) -> None:
    for login in ("old", "boss"):
        rig.directory.add_user(login, ou=rig.cfg.quarantine_ou,
                               attributes={"description": stamp(60)})
    rig.protect(accounts=["boss"])
    refused = rig.one(purge())
    assert refused.exit_code == 4 and rig.directory.writes == []
    assert len(rig.directory.list_users(str(rig.cfg.quarantine_ou))) == 2


@contextmanager
def local_time_zone(tz: str) -> Iterator[None]:
    before = os.environ.get("TZ")
    os.environ["TZ"] = tz
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


@pytest.mark.parametrize("tz", ["UTC", "AAA+24", "AAA-24"])
def test_an_account_quarantined_today_is_not_due_in_any_time_zone(rig: Rig, tz: str) -> None:
    """AAA+24: the local date is always the day before UTC's; AAA-24: the day after."""
    rig.directory.add_user("lea")
    with local_time_zone(tz):
        rig.one(delete("lea"))
        kept = rig.one(purge(1))
    assert kept.status is Status.OK
    assert rig.directory.find_user("lea") is not None


def test_the_same_login_twice_in_a_bulk_delete_is_refused_before_writing(rig: Rig) -> None:
    """Both rows would be planned before either writes, and the second would then write
    to the DN the first moved away: the file is refused instead."""
    rig.directory.add_group("staff", rig.directory.add_user("lea"))
    with pytest.raises(ValidationError, match=r"row 3: the same login again \(first at row 1\)"):
        rig.bulk([delete("lea"), delete("other"), delete("LEA")], workers=1)
    assert rig.directory.writes == [] and rig.directory.entry("lea").enabled


def test_in_one_pass_the_second_delete_of_a_login_finds_it_done(rig: Rig) -> None:
    """Without plans made up front, each row plans just before it writes."""
    rig.directory.add_group("staff", rig.directory.add_user("lea"))
    report = rig.run(delete("lea"), delete("LEA"), workers=1)
    assert [r.status for r in report.results] == [Status.CHANGED, Status.OK]
    assert rig.directory.entry("lea").dn.endswith(str(rig.cfg.quarantine_ou))
