"""account.create against the in-memory directory: the plan, naming, templates, guards,
password delivery, and bulk imports whose logins follow the file's order on any number of
workers. tests/integration/test_account_create.py and test_accounts_cli.py do the same on
the lab's servers."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from adminkit.accounts.actions import CreateAccount, DeleteAccount
from adminkit.accounts.actions.create import CreateParams
from adminkit.accounts.actions.state import expiry_instant
from adminkit.core.action import Plan
from adminkit.core.context import Context
from adminkit.core.errors import ValidationError
from adminkit.core.result import Status
from adminkit.core.run import Run
from adminkit.core.secrets import Secret
from tests.fakes.memdir import bind
from tests.unit.account_rig import KINDS, Rig, raw_text, statuses


@pytest.fixture(params=KINDS)
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Rig:
    return Rig.new(request.param, tmp_path)


def create(rig: Rig, given: str, surname: str, **params: Any) -> CreateAccount:
    deliver = rig.deliver() if params.get("password") is None else None
    return CreateAccount(CreateParams(given_name=given, surname=surname, **params),
                         deliver=deliver)


def test_create_plans_writes_and_delivers_the_password_once(rig: Rig) -> None:
    rig.journaled = True
    done = rig.one(create(rig, "Jan", "Novák", mail="jan.novak@example.test"))
    entry = rig.directory.entry("jnovak")
    ou = rig.cfg.users_ou
    assert [c.line() for c in done.changes] == [
        "create account: jnovak", "displayName = Jan Novák", f"ou = {ou}", "enabled = True",
        "password = (generated)", "must_change_password = True",
        "mail = jan.novak@example.test"]
    where = f"written to {rig.password_dir / 'jnovak.password'} (mode 0600)"
    assert done.summary == f"created account jnovak ({entry.dn}); password {where}"
    assert done.data == {"login": "jnovak", "ou": ou, "dn": entry.dn, "password_delivery": where}
    assert entry.dn == (f"CN=Jan Novák,{ou}" if rig.kind == "ad" else f"uid=jnovak,{ou}")
    assert (entry.given_name, entry.surname, entry.display_name, entry.mail) == (
        "Jan", "Novák", "Jan Novák", "jan.novak@example.test")
    assert entry.enabled and entry.must_change and entry.expires is None
    password = rig.delivered("jnovak")
    assert rig.directory.password_of("jnovak") == password
    assert len(password) >= 16
    assert password not in raw_text(done)
    assert password not in str(done.public())
    assert password.encode() not in rig.journal_bytes()


def test_a_second_run_finds_the_person_and_changes_nothing(rig: Rig) -> None:
    rig.one(create(rig, "Jan", "Novák"))
    first = rig.delivered("jnovak")
    writes = list(rig.directory.writes)
    again = rig.one(create(rig, "jan", "NOVÁK"))  # the same person, however spelt
    dn = rig.directory.entry("jnovak").dn
    assert (again.status, again.target, again.summary) == (
        Status.OK, "jnovak", f"account jnovak already exists ({dn})")
    assert rig.directory.writes == writes
    assert rig.delivered("jnovak") == first == rig.directory.password_of("jnovak")


def test_check_mode_creates_nothing_and_makes_no_password(rig: Rig) -> None:
    would = rig.one(create(rig, "Jan", "Novák"), check=True)
    assert (would.status, would.summary) == (Status.CHANGED, "would create account jnovak "
                                                             "(Jan Novák)")
    assert rig.directory.find_user("jnovak") is None and rig.directory.writes == []
    assert not list(rig.password_dir.iterdir())


def test_a_hostile_name_is_stored_literally_in_an_escaped_dn(rig: Rig) -> None:
    surname = "O'Brien, Jr. (admin)*\\"
    done = rig.one(create(rig, "Conan", surname))
    assert done.target == "cobrienjradmin"
    entry = rig.directory.entry("cobrienjradmin")
    assert entry.surname == surname and entry.display_name == f"Conan {surname}"
    if rig.kind == "ad":
        assert entry.dn == f"CN=Conan O'Brien\\, Jr. (admin)*\\\\,{rig.cfg.users_ou}"
    assert rig.directory.get_user(entry.dn) == entry


def test_another_person_with_the_login_makes_the_next_suffix(rig: Rig) -> None:
    rig.directory.add_user("jnovak", "Jiří", "Novák")
    rig.directory.add_user("jnovak2", "Jana", "Nováková")  # a login of another's shape
    done = rig.one(create(rig, "Jan", "Novák"))
    assert (done.status, done.target) == (Status.CHANGED, "jnovak3")
    assert rig.directory.entry("jnovak3").given_name == "Jan"
    assert rig.directory.entry("jnovak").given_name == "Jiří"


def test_ad_a_group_or_a_upn_takes_a_login_and_slapd_groups_do_not(rig: Rig) -> None:
    rig.directory.add_group("jnovak")
    rig.directory.add_user("other", attributes={"userPrincipalName": "jnovak2@"
                                                + str(rig.cfg.upn_suffix)})
    done = rig.one(create(rig, "Jan", "Novák"))
    assert done.target == ("jnovak3" if rig.kind == "ad" else "jnovak")


def test_a_login_given_and_taken_by_another_is_refused(rig: Rig) -> None:
    dn = rig.directory.add_user("jnovak", "Jiří", "Novák")
    failed = rig.one(create(rig, "Jan", "Novák", login="jnovak"))
    assert (failed.status, failed.exit_code) == (Status.FAILED, 2)
    assert failed.error is not None and failed.error.startswith(f"login jnovak is taken by {dn}")
    assert rig.directory.writes == []


def test_a_template_gives_ou_groups_attributes_home_and_expiry(rig: Rig) -> None:
    hires = rig.directory.add_ou(f"OU=Hires,{rig.cfg.base_dn}")
    rig.directory.add_group("staff")
    rig.template(ou=hires, groups=["staff"], attributes={"title": "New hire ({login})"},
                 home_directory="\\\\fs1\\home\\{login}", expires_after_days=30,
                 must_change=False, naming={"login": "given.surname"})
    done = rig.one(create(rig, "Tereza", "Šablonová"))
    login = "tereza.sablonova"
    assert done.target == login
    assert "group: +staff" in [c.line() for c in done.changes]
    entry = rig.directory.entry(login)
    assert entry.dn.endswith(f",{hires}") and not entry.must_change
    assert entry.expires == expiry_instant(date.today() + timedelta(days=30))
    assert rig.directory.read_attributes(entry, ["title", "homeDirectory"]) == {
        "title": [f"New hire ({login})"], "homeDirectory": [f"\\\\fs1\\home\\{login}"]}
    assert rig.directory.members("staff") == {login}


def test_an_existing_account_gets_the_groups_it_lacks_and_a_new_password(rig: Rig) -> None:
    rig.directory.add_user("jnovak", "Jan", "Novák")
    rig.directory.add_group("staff")
    done = rig.one(create(rig, "Jan", "Novák", groups=["staff"], update_password="always"))
    assert [c.line() for c in done.changes] == ["group: +staff", "password = (generated)"]
    assert done.summary.startswith(f"updated account jnovak ({rig.directory.entry('jnovak').dn})"
                                   "; password written to ")
    assert rig.directory.members("staff") == {"jnovak"}
    assert rig.directory.password_of("jnovak") == rig.delivered("jnovak")
    assert rig.directory.entry("jnovak").must_change  # the template's setting


def test_a_resume_redoes_a_row_done_before_only_for_changes_its_plan_can_read(
        rig: Rig) -> None:
    """`update_password: always` plans a new password whether or not it was set: a bulk
    resume redoes a row journaled as done for a missing account or group, not for that."""
    rig.directory.add_user("jnovak", "Jan", "Novák")
    rig.directory.add_group("staff")

    def plan(action: CreateAccount) -> Plan:
        run = Run(command="resume", profile="mem", check=True)
        return action.plan(bind(Context(run=run, profile=rig.profile()), rig.directory))

    lacking = create(rig, "Jan", "Novák", groups=["staff"], update_password="always")
    assert lacking.still_to_do(plan(lacking))
    rig.directory.add_group("staff2", rig.directory.entry("jnovak").dn)
    member = create(rig, "Jan", "Novák", groups=["staff2"], update_password="always")
    assert [c.field for c in plan(member).changes] == ["password"]
    assert not member.still_to_do(plan(member))
    gone = create(rig, "Eva", "Nová")
    assert gone.still_to_do(plan(gone))


def test_undo_of_a_create_deletes_the_account(rig: Rig) -> None:
    action = create(rig, "Jan", "Novák")
    rig.one(action)
    undo = action.undo()
    assert isinstance(undo, DeleteAccount) and undo.params.hard
    assert rig.one(undo).status is Status.CHANGED
    assert rig.directory.find_user("jnovak") is None


# -- refusals -----------------------------------------------------------------------------------
def _refused(rig: Rig, action: CreateAccount, code: int, text: str) -> None:
    before = rig.directory.state()
    failed = rig.one(action)
    assert (failed.status, failed.exit_code) == (Status.FAILED, code), failed.error
    assert failed.error is not None and text in failed.error
    assert rig.directory.state() == before and rig.directory.writes == []
    assert not rig.password_dir.exists() or not list(rig.password_dir.iterdir())


def test_joining_a_protected_group_on_create_is_refused(rig: Rig) -> None:
    ops = rig.directory.add_group("Server Operators")
    rig.directory.add_group("Domain Admins", ops)
    rig.protect(groups=["Domain Admins"])
    _refused(rig, create(rig, "Jan", "Novák", groups=["Server Operators"]), 4,
             "nested inside the protected group Domain Admins")


def test_a_protected_existing_account_is_not_updated(rig: Rig) -> None:
    rig.directory.add_group("staff")
    rig.directory.add_user("jnovak", "Jan", "Novák")
    rig.protect(accounts=["jnovak"])
    _refused(rig, create(rig, "Jan", "Novák", groups=["staff"]), 4, "protected")


def test_a_missing_group_a_missing_ou_and_a_short_password_are_refused(rig: Rig) -> None:
    _refused(rig, create(rig, "Jan", "Novák", groups=["No-Such-Group"]), 2, "no such group")
    nowhere = f"OU=Nowhere,{rig.cfg.base_dn}"
    _refused(rig, create(rig, "Jan", "Novák", ou=nowhere), 1, "no such entry")
    _refused(rig, create(rig, "Jan", "Novák", password=Secret("Sh0rt!")), 2,
             "shorter than the directory's minimum")
    _refused(rig, CreateAccount(CreateParams(given_name="Jan", surname="Novák")), 2,
             "needs a delivery")


def test_a_password_the_directory_refuses_is_never_in_the_error(rig: Rig) -> None:
    rig.journaled = True
    weak = "jnovak-" + "x" * 10  # holds the login: AD's complexity rule; slapd: fine
    result = rig.one(create(rig, "Jan", "Novák", password=Secret(weak)))
    if rig.kind == "ad":
        assert (result.exit_code, result.error_type) == (2, "ValidationError")
        assert "does not meet the domain's policy" in str(result.error)
    else:
        assert result.status is Status.CHANGED
        assert result.summary.endswith("; password set as given")
    assert weak not in raw_text(result)
    assert weak.encode() not in rig.journal_bytes()


def test_a_group_that_refuses_the_new_member_fails_the_row_but_keeps_the_account(
        rig: Rig) -> None:
    staff = rig.directory.add_group("staff")
    rig.directory.deny_writes(staff)
    failed = rig.one(create(rig, "Jan", "Novák", groups=["staff"]))
    entry = rig.directory.entry("jnovak")
    assert (failed.status, failed.exit_code, failed.error_type) == (
        Status.FAILED, 4, "PolicyRefused")
    assert failed.error is not None and failed.error.startswith(
        f"created account jnovak ({entry.dn}), but could not add it to staff: ")
    assert rig.directory.members("staff") == set()
    assert rig.directory.password_of("jnovak") == rig.delivered("jnovak")  # not lost


# -- bulk imports -------------------------------------------------------------------------------
def test_clashing_logins_get_suffixes_in_file_order_on_every_worker(rig: Rig) -> None:
    """jkolizni exists (Jana): Jiří and Josef get 2 and 3 by their rows, Jana's row is her
    account; thirteen different D. Hromadnás get dhromadna, dhromadna2 ... by row."""
    rig.directory.add_user("jkolizni", "Jana", "Kolizní")
    rig.directory.add_group("staff")
    people = [("Jiří", "Kolizní"), ("Josef", "Kolizní"), ("Jana", "Kolizní")]
    people += [(f"Dávka{chr(97 + i)}", "Hromadná") for i in range(13)]

    def rows() -> list[CreateAccount]:
        return [create(rig, g, s, groups=["staff"]) for g, s in people]

    report = rig.bulk(rows(), workers=4)
    logins = ["jkolizni2", "jkolizni3", "jkolizni", "dhromadna",
              *(f"dhromadna{n}" for n in range(2, 14))]
    assert statuses(report) == [(x, Status.CHANGED) for x in logins], \
        [r.error for r in report.results]
    assert report.results[2].summary.startswith("updated account jkolizni")
    for login, (given, _surname) in zip(logins, people, strict=True):
        assert rig.directory.entry(login).given_name == given
    assert rig.directory.members("staff") == set(logins)
    for login in logins[:2] + logins[3:]:
        assert rig.directory.password_of(login) == rig.delivered(login)

    again = rig.bulk(rows(), workers=3)
    assert statuses(again) == [(x, Status.OK) for x in logins]
    assert rig.directory.find_user("jkolizni4") is None
    assert rig.directory.find_user("dhromadna14") is None


def test_a_row_that_names_its_login_wins_it_even_when_it_comes_second(rig: Rig) -> None:
    def rows() -> list[CreateAccount]:
        return [create(rig, "Karel", "Jmenovec"),
                create(rig, "Karel", "Jmenovec", login="kjmenovec")]

    assert statuses(rig.bulk(rows())) == [("kjmenovec2", Status.CHANGED),
                                          ("kjmenovec", Status.CHANGED)]
    assert statuses(rig.bulk(rows())) == [("kjmenovec2", Status.OK),
                                          ("kjmenovec", Status.OK)]
    if rig.kind == "ad":  # one CN Karel Jmenovec per OU: whoever is written second (on
        # another worker: either) gets his login in his CN
        cns = {rig.directory.entry(x).dn.split(",")[0] for x in ("kjmenovec", "kjmenovec2")}
        assert cns in ({"CN=Karel Jmenovec", "CN=Karel Jmenovec (kjmenovec)"},
                       {"CN=Karel Jmenovec", "CN=Karel Jmenovec (kjmenovec2)"})
    assert rig.directory.find_user("kjmenovec3") is None


def test_in_one_run_a_row_that_cannot_be_planned_fails_alone(rig: Rig) -> None:
    """(A bulk run's pre-flight would refuse the whole file; a run of several actions,
    a playbook's, goes on.)"""
    rig.directory.add_group("staff")
    report = rig.run(create(rig, "Anna", "Nováková", groups=["staff"]),
                     create(rig, "Bořek", "Bílý", groups=["No-Such-Group"]),
                     create(rig, "Cyril", "Číž", groups=["staff"]), workers=2)
    assert [r.status for r in report.results] == [Status.CHANGED, Status.FAILED,
                                                  Status.CHANGED]
    assert report.results[1].target == "Bořek Bílý" and report.exit_code == 2
    assert rig.directory.members("staff") == {"anovakova", "cciz"}
    assert rig.directory.find_user("bbily") is None


def test_a_row_that_cannot_be_written_leaves_the_rest_of_its_batch_whole(rig: Rig) -> None:
    rig.directory.add_group("staff")
    nowhere = f"OU=Nowhere,{rig.cfg.base_dn}"  # planned fine; the directory refuses the add
    report = rig.bulk([create(rig, "Anna", "Nováková", groups=["staff"]),
                       create(rig, "Bořek", "Bílý", groups=["staff"], ou=nowhere),
                       create(rig, "Cyril", "Číž", groups=["staff"])], workers=1)
    assert statuses(report) == [("anovakova", Status.CHANGED), ("bbily", Status.FAILED),
                                ("cciz", Status.CHANGED)]
    assert (report.results[1].exit_code, report.exit_code) == (1, 1)
    assert "no such entry" in str(report.results[1].error)
    assert rig.directory.members("staff") == {"anovakova", "cciz"}
    assert rig.directory.find_user("bbily") is None
    assert not (rig.password_dir / "bbily.password").exists()


def test_one_person_twice_in_an_import_is_refused_before_writing(rig: Rig) -> None:
    with pytest.raises(ValidationError, match=r"row 3: the same person as row 1"):
        rig.bulk([create(rig, "Jan", "Novák"), create(rig, "Jana", "Nováková"),
                  create(rig, "JAN", "novák")])
    assert rig.directory.writes == [] and not list(rig.password_dir.iterdir())
