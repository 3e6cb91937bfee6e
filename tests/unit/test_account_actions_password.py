"""account.password against the in-memory directory: the reset, its delivery, and that the
password reaches no result, summary, error or journal line."""

from __future__ import annotations

from pathlib import Path

import pytest

from adminkit.accounts.actions import ResetPassword
from adminkit.accounts.actions.password import PasswordParams
from adminkit.accounts.directory import PasswordPolicy
from adminkit.core.context import Context
from adminkit.core.delivery import delivery
from adminkit.core.result import Status
from adminkit.core.run import Run
from adminkit.core.secrets import Secret
from tests.fakes.memdir import MemDirectory, bind, config
from tests.unit.account_rig import KINDS, Rig, raw_text


@pytest.fixture(params=KINDS)
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Rig:
    rig = Rig.new(request.param, tmp_path)
    rig.journaled = True
    rig.directory.add_user("petr", "Petr", "Heslový")
    return rig


def reset(rig: Rig, login: str = "petr", **params: object) -> ResetPassword:
    deliver = rig.deliver() if params.get("password") is None else None
    return ResetPassword(PasswordParams(login=login, **params),
                         deliver=deliver)


def test_a_generated_password_goes_to_the_file_and_nowhere_else(rig: Rig) -> None:
    old = rig.directory.password_of("petr")
    done = rig.one(reset(rig))
    assert [c.line() for c in done.changes] == ["password = (generated)",
                                                "must_change_password: False -> True"]
    where = f"written to {rig.password_dir / 'petr.password'} (mode 0600)"
    assert done.summary == f"reset the password of petr; password {where}"
    assert done.data == {"password_delivery": where}
    new = rig.delivered("petr")
    assert new != old and rig.directory.password_of("petr") == new
    assert rig.directory.entry("petr").must_change
    assert new not in raw_text(done) and new not in str(done.public())
    assert new.encode() not in rig.journal_bytes()

    again = rig.one(reset(rig))  # a password cannot be read back: always a change
    assert again.status is Status.CHANGED
    assert rig.delivered("petr") not in (new, old)


def test_a_resume_never_takes_a_planned_reset_for_a_row_left_undone(rig: Rig) -> None:
    """Every plan resets the password, done or not: a bulk resume that took it for a row
    journaled as done but not done would reset it again, taking back what it delivered."""
    action = reset(rig)
    run = Run(command="resume", profile="mem", check=True)
    plan = action.plan(bind(Context(run=run, profile=rig.profile()), rig.directory))
    assert plan and not action.still_to_do(plan)


def test_a_given_password_is_set_as_given_without_must_change(rig: Rig) -> None:
    given = "Given-Pw.12345-x"
    done = rig.one(reset(rig, password=Secret(given), must_change=False))
    assert [c.line() for c in done.changes] == ["password = (given)",
                                                "must_change_password: False -> False"]
    assert done.summary == "reset the password of petr; password set as given"
    assert rig.directory.password_of("petr") == given
    assert not rig.directory.entry("petr").must_change
    assert given not in raw_text(done) and given.encode() not in rig.journal_bytes()


def test_a_short_password_or_no_delivery_is_refused_before_writing(rig: Rig) -> None:
    report = rig.run(reset(rig, password=Secret("Sh0rt!")),
                     ResetPassword(PasswordParams(login="petr")))
    short, undelivered = report.results
    assert short.exit_code == 2 and "shorter than the directory's minimum" in str(short.error)
    assert undelivered.exit_code == 2 and "needs a delivery" in str(undelivered.error)
    assert "Sh0rt!" not in raw_text(short)
    assert rig.directory.writes == [] and rig.directory.password_of("petr") != "Sh0rt!"


def test_the_directory_refusing_a_password_never_echoes_it(tmp_path: Path) -> None:
    rig = Rig.new("ad", tmp_path)
    rig.journaled = True
    rig.directory.add_user("petr")
    weak = "alllowercaseletters"  # long enough, one class of characters only
    failed = rig.one(reset(rig, password=Secret(weak)))
    assert (failed.exit_code, failed.error_type) == (2, "ValidationError")
    assert "does not meet the domain's policy" in str(failed.error)
    assert weak not in raw_text(failed) and weak.encode() not in rig.journal_bytes()
    assert rig.directory.password_of("petr") != weak


def test_a_generated_password_is_as_long_as_the_directory_requires(tmp_path: Path) -> None:
    rig = Rig(MemDirectory(config("ad"), policy=PasswordPolicy(min_length=30)), tmp_path)
    rig.directory.add_user("petr", password="A-much-longer-start-password.1")
    rig.one(reset(rig))
    assert len(rig.delivered("petr")) == 30  # over the profile's 16


def test_bulk_resets_deliver_each_account_its_own_password(rig: Rig) -> None:
    logins = [f"user{i}" for i in range(10)]
    for login in logins:
        rig.directory.add_user(login)
    report = rig.bulk([reset(rig, login) for login in logins], workers=4)
    assert [r.status for r in report.results] == [Status.CHANGED] * 10
    delivered = [rig.delivered(login) for login in logins]
    assert delivered == [rig.directory.password_of(login) for login in logins]
    assert len(set(delivered)) == 10
    journal = rig.journal_bytes()
    assert not [p for p in delivered if p.encode() in journal]


def test_a_delivery_that_cannot_work_fails_the_row_before_any_write(rig: Rig) -> None:
    """The delivery target is checked in the plan, and the password is handed over
    before it is set: a target that cannot hold it leaves the account as it was."""
    nowhere = rig.tmp / "no-such-folder" / "petr.password"
    before = rig.directory.password_of("petr")
    action = ResetPassword(PasswordParams(login="petr"), deliver=delivery(f"file:{nowhere}"))
    failed = rig.one(action)
    assert (failed.status, failed.exit_code) == (Status.FAILED, 2)
    assert "cannot deliver into" in (failed.error or "")
    assert rig.directory.writes == []
    assert rig.directory.password_of("petr") == before
