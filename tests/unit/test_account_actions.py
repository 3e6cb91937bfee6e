"""Account state, move, attributes and reports, and the guards every account action has.

Run through the real Runner against the in-memory directory (tests/fakes/memdir.py),
for both directory kinds; outcomes are read back from the directory. The same actions
run against the lab's servers in tests/integration/test_accounts_cli.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adminkit.accounts.actions import (
    AccountGroups,
    DeleteAccount,
    DisableAccount,
    EnableAccount,
    ExpireAccount,
    MoveAccount,
    ReportAccounts,
    ResetPassword,
    SetAttributes,
    UnlockAccount,
)
from adminkit.accounts.actions.attributes import MoveParams, SetParams
from adminkit.accounts.actions.base import LoginParams
from adminkit.accounts.actions.delete import DeleteParams
from adminkit.accounts.actions.groups import GroupsParams
from adminkit.accounts.actions.password import PasswordParams
from adminkit.accounts.actions.report import ReportParams
from adminkit.accounts.actions.state import ExpireParams
from adminkit.core.action import Action
from adminkit.core.errors import PolicyRefused
from adminkit.core.result import Status
from adminkit.core.secrets import Secret
from tests.unit.account_rig import KINDS, Rig, statuses


@pytest.fixture(params=KINDS)
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Rig:
    return Rig.new(request.param, tmp_path)


def login(value: str) -> LoginParams:
    return LoginParams(login=value)


# -- enable, disable, unlock, expire ----------------------------------------------------------
def test_disable_plans_the_flag_and_a_second_run_has_nothing_to_do(rig: Rig) -> None:
    rig.directory.add_user("jnovak", "Jan", "Novák")
    first = rig.one(DisableAccount(login("JNovak")))  # a login matches in any case
    assert (first.status, first.summary) == (Status.CHANGED, "disable jnovak")
    assert [c.line() for c in first.changes] == ["enabled: True -> False"]
    assert not rig.directory.entry("jnovak").enabled
    assert rig.directory.writes == [("disable", rig.directory.entry("jnovak").dn)]

    again = rig.one(DisableAccount(login("jnovak")))
    assert (again.status, again.summary, again.changes) == (
        Status.OK, "jnovak is already disabled", [])
    assert len(rig.directory.writes) == 1


def test_enable_then_undo_disables_again(rig: Rig) -> None:
    rig.directory.add_user("jnovak", enabled=False)
    action = EnableAccount(login("jnovak"))
    assert rig.one(action).summary == "enable jnovak"
    assert rig.directory.entry("jnovak").enabled
    undo = action.undo()
    assert isinstance(undo, DisableAccount) and undo.name == "account.disable"
    assert rig.one(undo).status is Status.CHANGED
    assert not rig.directory.entry("jnovak").enabled


def test_unlock_only_a_locked_account(rig: Rig) -> None:
    rig.directory.add_user("locked", locked=True)
    rig.directory.add_user("free")
    done = rig.one(UnlockAccount(login("locked")))
    assert [c.line() for c in done.changes] == ["locked: True -> False"]
    assert not rig.directory.entry("locked").locked
    assert rig.directory.entry("locked").enabled  # unlocking is not enabling
    free = rig.one(UnlockAccount(login("free")))
    assert (free.status, free.summary) == (Status.OK, "free is not locked out")


def test_expire_works_through_the_last_day_and_never_clears_it(rig: Rig) -> None:
    rig.directory.add_user("temp")
    done = rig.one(ExpireAccount(ExpireParams(login="temp", on=date(2031, 1, 31))))
    end = datetime(2031, 2, 1, tzinfo=UTC)  # the account works through January 31
    assert [c.model_dump() for c in done.changes] == [
        {"op": "set", "field": "expires", "before": None, "after": end.isoformat()}]
    assert done.summary == "set temp to expire after 2031-01-31"
    assert rig.directory.entry("temp").expires == end
    again = rig.one(ExpireAccount(ExpireParams(login="temp", on=date(2031, 1, 31))))
    assert (again.status, again.summary) == (Status.OK, "temp already expires after 2031-01-31")

    never = rig.one(ExpireAccount(ExpireParams(login="temp")))
    assert [c.line() for c in never.changes] == [f"expires: {end.isoformat()} -> (none)"]
    assert rig.directory.entry("temp").expires is None


# -- move -------------------------------------------------------------------------------------
def test_move_changes_the_parent_and_keeps_the_groups(rig: Rig) -> None:
    dn = rig.directory.add_user("mover", "Olga", "Přesunutá")
    rig.directory.add_group("staff", dn)
    target = rig.directory.add_ou(f"OU=Branch,{rig.cfg.base_dn}")
    action = MoveAccount(MoveParams(login="mover", ou=target))
    done = rig.one(action)
    assert [c.model_dump() for c in done.changes] == [
        {"op": "move", "field": "ou", "before": rig.cfg.users_ou, "after": target}]
    assert done.summary == f"move mover to {target}"
    moved = rig.directory.entry("mover")
    assert done.data == {"dn": moved.dn}
    assert moved.dn.endswith(f",{target}") and moved.dn.split(",")[0] == dn.split(",")[0]
    assert rig.directory.group_names("mover") == {"staff"}  # membership followed the move
    spelt = target.lower().replace(",", ", ").replace("=", " = ")  # the same DN
    assert rig.one(MoveAccount(MoveParams(login="mover", ou=spelt))).status is Status.OK

    back = action.undo()
    assert back is not None
    assert rig.one(back).status is Status.CHANGED
    assert rig.directory.entry("mover").dn == dn


def test_move_into_a_missing_ou_fails_and_the_account_stays(rig: Rig) -> None:
    dn = rig.directory.add_user("mover")
    nowhere = f"OU=Nowhere,{rig.cfg.base_dn}"
    failed = rig.one(MoveAccount(MoveParams(login="mover", ou=nowhere)))
    assert (failed.status, failed.exit_code, failed.error_type) == (
        Status.FAILED, 1, "ActionFailed")
    assert failed.error is not None and "no such entry" in failed.error
    assert rig.directory.entry("mover").dn == dn


def test_move_between_ous_whose_names_differ_only_by_a_space(rig: Rig) -> None:
    spaced = rig.directory.add_ou(f"OU=New Hires,{rig.cfg.base_dn}")
    joined = rig.directory.add_ou(f"OU=NewHires,{rig.cfg.base_dn}")
    rig.directory.add_user("hire", ou=spaced)
    done = rig.one(MoveAccount(MoveParams(login="hire", ou=joined)))
    assert done.status is Status.CHANGED
    assert rig.directory.entry("hire").dn.endswith(f",{joined}")


# -- attributes -------------------------------------------------------------------------------
def test_set_replaces_and_removes_only_what_differs(rig: Rig) -> None:
    rig.directory.add_user("attr", attributes={"title": "Clerk", "telephoneNumber": "+1 555"})
    action = SetAttributes(SetParams(login="attr", values={
        "TITLE": ["Účetní"], "department": ["Ops"], "telephoneNumber": [],
        "company": []}))  # company is not there: nothing to remove
    done = rig.one(action)
    assert [c.line() for c in done.changes] == [
        "title: ['Clerk'] -> ['Účetní']", "department = ['Ops']",
        "telephoneNumber: ['+1 555'] -> (none)"]
    assert done.summary == "set title, department, telephoneNumber on attr"
    entry = rig.directory.entry("attr")
    assert rig.directory.read_attributes(entry, ["title", "department", "telephoneNumber"]) \
        == {"title": ["Účetní"], "department": ["Ops"], "telephoneNumber": []}
    again = rig.one(SetAttributes(SetParams(login="attr", values={"title": ["Účetní"]})))
    assert (again.status, again.summary) == (Status.OK, "attr: attributes already as asked")

    undo = action.undo()
    assert undo is not None and rig.one(undo).status is Status.CHANGED
    assert rig.directory.read_attributes(entry, ["title", "telephoneNumber", "department"]) \
        == {"title": ["Clerk"], "telephoneNumber": ["+1 555"], "department": []}


@pytest.mark.parametrize(("values", "error"), [
    ({"userPassword": ["x"]}, "not settable in this profile: userPassword"),
    ({"title": ["line\nbreak"]}, "control characters"),
])
def test_set_refuses_before_anything_is_written(rig: Rig, values: dict[str, list[str]],
                                                error: str) -> None:
    rig.directory.add_user("attr")
    before = rig.directory.state()
    failed = rig.one(SetAttributes(SetParams(login="attr", values=values)))
    assert (failed.status, failed.exit_code) == (Status.FAILED, 2)
    assert failed.error is not None and error in failed.error
    assert rig.directory.state() == before


def test_set_of_an_attribute_the_schema_lacks_fails_on_the_directory(rig: Rig) -> None:
    rig.accounts = rig.accounts.model_copy(update={"settable_attributes": ["favouriteColour"]})
    rig.directory.add_user("attr")
    failed = rig.one(SetAttributes(SetParams(login="attr", values={"favouriteColour": ["red"]})))
    assert failed.status is Status.FAILED
    assert failed.error is not None and "favouriteColour" in failed.error
    assert rig.directory.writes == []


# -- reports ----------------------------------------------------------------------------------
def test_report_lists_accounts_and_changes_nothing(rig: Rig) -> None:
    rig.directory.add_user("off", enabled=False)
    rig.directory.add_user("on")
    rig.directory.add_user("old", last_logon=datetime.now(UTC) - timedelta(days=200))
    disabled = rig.one(ReportAccounts(ReportParams(kind="disabled")))
    assert (disabled.status, disabled.summary) == (Status.OK, "1 account(s) disabled")
    assert disabled.data["logins"] == ["off"]
    assert disabled.data["accounts"][0]["login"] == "off"
    inactive = rig.one(ReportAccounts(ReportParams(kind="inactive", days=90)))
    assert inactive.data["logins"] == ["old"]
    assert inactive.summary == "1 account(s) inactive over 90 days"
    assert rig.directory.writes == []


# -- check mode -------------------------------------------------------------------------------
def _check_cases(rig: Rig) -> list[Action[Any]]:
    branch = rig.directory.add_ou(f"OU=Branch,{rig.cfg.base_dn}")
    rig.directory.add_group("staff")
    return [
        DisableAccount(login("subject")),
        UnlockAccount(login("subject")),
        ExpireAccount(ExpireParams(login="subject", on=date(2031, 1, 31))),
        MoveAccount(MoveParams(login="subject", ou=branch)),
        SetAttributes(SetParams(login="subject", values={"title": ["Boss"]})),
        AccountGroups(GroupsParams(login="subject", add=["staff"], remove=["old-team"])),
        ResetPassword(PasswordParams(login="subject"), deliver=rig.deliver()),
        ResetPassword(PasswordParams(login="subject", password=Secret("Given-Pass.42"))),
        DeleteAccount(DeleteParams(login="subject")),
        DeleteAccount(DeleteParams(login="subject", hard=True)),
    ]


def test_check_mode_plans_every_action_and_writes_nothing(rig: Rig) -> None:
    rig.directory.add_group("old-team", rig.directory.add_user("subject", locked=True))
    actions = _check_cases(rig)
    before = rig.directory.state()
    report = rig.run(*actions, check=True)
    assert [r.status for r in report.results] == [Status.CHANGED] * len(actions), \
        [r.error for r in report.results]
    assert all(r.summary.startswith("would ") and r.check for r in report.results)
    assert all(r.changes for r in report.results)
    assert rig.directory.writes == []
    assert rig.directory.state() == before
    assert not list(rig.password_dir.iterdir())  # no password was made or delivered
    assert rig.directory.group_names("subject") == {"old-team"}


# -- guards -----------------------------------------------------------------------------------
def _guarded(rig: Rig) -> list[Action[Any]]:
    branch = rig.directory.add_ou(f"OU=Branch,{rig.cfg.base_dn}")
    return [
        DisableAccount(login("boss")),
        ExpireAccount(ExpireParams(login="boss", on=date(2031, 1, 31))),
        MoveAccount(MoveParams(login="boss", ou=branch)),
        SetAttributes(SetParams(login="boss", values={"title": ["Nobody"]})),
        AccountGroups(GroupsParams(login="boss", add=["staff"])),
        ResetPassword(PasswordParams(login="boss", password=Secret("Given-Pass.42"))),
        DeleteAccount(DeleteParams(login="boss")),
        DeleteAccount(DeleteParams(login="boss", hard=True)),
    ]


def _refused_and_untouched(rig: Rig, actions: list[Action[Any]], why: str) -> None:
    before = rig.directory.state()
    for check in (True, False):  # a check run says so too
        report = rig.run(*actions, check=check)
        for result in report.results:
            assert (result.status, result.exit_code, result.error_type) == (
                Status.FAILED, 4, "PolicyRefused"), (result.action, result.error)
            assert result.error is not None and "protected" in result.error
            assert why in result.error
        assert report.exit_code == 4
    assert rig.directory.writes == [] and rig.directory.state() == before


@pytest.mark.parametrize("listed", ["BOSS", "dn", "DN spaced"])
def test_a_listed_account_is_refused_by_every_action(rig: Rig, listed: str) -> None:
    dn = rig.directory.add_user("boss", "Big", "Boss")
    rig.directory.add_group("staff")
    spec = {"BOSS": "BOSS", "dn": dn.upper(), "DN spaced": dn.replace(",", ", ")}[listed]
    rig.protect(accounts=[spec])
    _refused_and_untouched(rig, _guarded(rig), "protected")


def test_a_member_of_a_nested_protected_group_is_refused(rig: Rig) -> None:
    dn = rig.directory.add_user("boss", "Big", "Boss")
    inner = rig.directory.add_group("Helpdesk Admins", dn)
    middle = rig.directory.add_group("Server Operators", inner)
    rig.directory.add_group("Domain Admins", middle)
    rig.directory.add_group("staff")
    rig.protect(groups=["Domain Admins"])
    why = "Domain Admins" if rig.kind == "ad" else "through Helpdesk Admins > Server Operators"
    _refused_and_untouched(rig, _guarded(rig), why)


def test_ad_admin_count_protects_an_account_without_a_protected_group(tmp_path: Path) -> None:
    rig = Rig.new("ad", tmp_path)
    rig.directory.add_user("boss", admin_count=True)
    rig.directory.add_group("staff")
    _refused_and_untouched(rig, _guarded(rig), "adminCount=1")


def test_an_unprotected_account_next_to_protected_ones_is_not_refused(rig: Rig) -> None:
    admin = rig.directory.add_user("boss")
    rig.directory.add_group("Domain Admins", admin)
    rig.directory.add_user("clerk")
    rig.protect(accounts=["bos", "clerk2"], groups=["Domain Admins"])
    assert rig.one(DisableAccount(login("clerk"))).status is Status.CHANGED


def test_a_protected_group_that_names_nothing_is_a_config_error(rig: Rig) -> None:
    rig.directory.add_user("clerk")
    rig.protect(groups=["Domain Admns"])
    failed = rig.one(DisableAccount(login("clerk")))
    assert (failed.status, failed.exit_code, failed.error_type) == (
        Status.FAILED, 2, "ConfigError")
    assert failed.error is not None and "Domain Admns" in failed.error
    assert rig.directory.entry("clerk").enabled


def test_a_protected_account_is_refused_even_with_nothing_to_do(rig: Rig) -> None:
    rig.directory.add_user("boss", enabled=False)
    rig.protect(accounts=["boss"])
    result = rig.one(DisableAccount(login("boss")))
    assert (result.status, result.exit_code) == (Status.FAILED, 4)


# -- unknown logins, bulk rows and exit codes ------------------------------------------------
def test_an_unknown_login_fails_with_a_usage_error(rig: Rig) -> None:
    failed = rig.one(DisableAccount(login("ghost")))
    assert (failed.status, failed.exit_code, failed.error_type) == (
        Status.FAILED, 2, "ValidationError")
    assert failed.summary == "account.disable ghost: no account with the login 'ghost'"


def test_bulk_disable_on_workers_reads_every_row_and_writes_each_once(rig: Rig) -> None:
    names = [f"leaver{i:02}" for i in range(12)]
    for name in names:
        rig.directory.add_user(name)
    rig.directory.add_user("stays")
    report = rig.bulk([DisableAccount(login(n.upper())) for n in names], workers=4)
    assert statuses(report) == [(n.upper(), Status.CHANGED) for n in names]
    assert report.exit_code == 0
    assert [u.login for u in rig.directory.report("disabled")] == names
    assert sorted(op for op, _ in rig.directory.writes) == ["disable"] * 12


def test_the_report_exit_code_is_the_most_severe_failure(rig: Rig) -> None:
    boss = rig.directory.add_user("boss")
    rig.directory.add_group("Domain Admins", boss)
    rig.directory.add_user("clerk")
    rig.protect(groups=["Domain Admins"])
    report = rig.run(DisableAccount(login("clerk")), DisableAccount(login("ghost")),
                     DisableAccount(login("boss")), DisableAccount(login("clerk")))
    assert [r.status for r in report.results] == [
        Status.CHANGED, Status.FAILED, Status.FAILED, Status.OK]
    assert [r.exit_code for r in report.results] == [0, 2, 4, 0]
    assert report.exit_code == 4 and report.status == "failed"
    assert report.counts == {"ok": 1, "changed": 1, "failed": 2, "skipped": 0}
    ok = rig.run(DisableAccount(login("clerk")))
    assert (ok.exit_code, ok.status) == (0, "ok")


def test_a_bulk_run_over_the_limit_of_disables_needs_force(rig: Rig) -> None:
    names = [f"leaver{i}" for i in range(3)]
    for name in names:
        rig.directory.add_user(name, enabled=False)
    rig.protect(bulk_limit=2)
    with pytest.raises(PolicyRefused, match="3 rows take access away, over the profile's "
                                            "limit of 2"):
        rig.bulk([DisableAccount(login(n)) for n in names])
    assert rig.directory.writes == []
    enables = rig.bulk([EnableAccount(login(n)) for n in names])  # gives access: not counted
    assert [r.status for r in enables.results] == [Status.CHANGED] * 3
    forced = rig.bulk([DisableAccount(login(n)) for n in names], force=True)
    assert [r.status for r in forced.results] == [Status.CHANGED] * 3
    assert not any(rig.directory.entry(n).enabled for n in names)


def test_a_bulk_run_over_the_limit_of_expiries_needs_force(rig: Rig) -> None:
    """An expiry in the past cuts access as a disable does: a run that sets more than
    the limit is refused whole, as a disable is (it went through, rev12c)."""
    names = [f"temp{i}" for i in range(3)]
    for name in names:
        rig.directory.add_user(name)
    rig.protect(bulk_limit=2)
    yesterday = date.today() - timedelta(days=1)
    with pytest.raises(PolicyRefused, match="3 rows take access away"):
        rig.bulk([ExpireAccount(ExpireParams(login=n, on=yesterday)) for n in names])
    assert rig.directory.writes == []
    forced = rig.bulk([ExpireAccount(ExpireParams(login=n, on=yesterday)) for n in names],
                      force=True)
    assert [r.status for r in forced.results] == [Status.CHANGED] * 3
    assert all(rig.directory.entry(n).expires is not None for n in names)


@pytest.mark.parametrize("login", ["a" * 64, "a" * 64 + "@" + "d" * 44 + ".com",
                                   "x@contoso.com", "dotted.name-1"])
def test_a_login_or_a_upn_up_to_entras_lengths_is_taken(login: str) -> None:
    """A UPN may be 113 characters (64 before the @, 48 after): an Entra user of another
    verified domain is named by it (a restore, say)."""
    assert LoginParams(login=login).login == login


@pytest.mark.parametrize(("login", "why"), [
    ("a" * 65, "is 65 characters (at most 64)"),
    ("a" * 65 + "@contoso.com", "is 65 characters before the @ (at most 64)"),
    ("a@" + "d" * 45 + ".com", "has a domain of 49 characters (at most 48)"),
    ("a" * 64 + "@" + "d" * 49, "at most 113 characters"),
])
def test_a_longer_login_or_upn_is_refused_saying_which_part(login: str, why: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as err:
        LoginParams(login=login)
    assert why in str(err.value)
