"""Rules: which ticket a rule takes, its inputs from ticket fields as typed data, and
who may ask. Pure logic: tickets and playbooks as values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from adminkit.automation.rules import decide, find_rule, matches, requester_allowed
from adminkit.automation.settings import AutomationConfig, Rule
from adminkit.core.config import Profile
from adminkit.playbook.loader import load
from adminkit.tickets.base import Ticket, TicketRef

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"


@pytest.fixture(scope="module")
def onboard() -> Any:
    return load(PLAYBOOKS / "onboard-user.yaml").playbook


def ticket(subject: str = "New hire", *, queue: str = "Helpdesk",
           requester: str | None = "boss@example.test", **fields: Any) -> Ticket:
    return Ticket(ref=TicketRef("rt", "12"), subject=subject, status="new", queue=queue,
                  requester=requester, fields=fields)


def rule(**over: Any) -> Rule:
    data: dict[str, Any] = {
        "name": "onboarding", "playbook": "onboard-user",
        "match": {"queue": "Helpdesk", "subject": "^new hire"},
        "inputs": {"deliver": "terminal"},
        "fields": {"given_name": "Given name", "surname": "Surname", "mail": "Mail"},
        "requesters": ["*@example.test"]}
    data.update(over)
    return Rule.model_validate(data)


def good_fields() -> dict[str, Any]:
    return {"Given name": "Jiří", "Surname": "Čermák", "Mail": "jiri@example.test"}


def test_a_matching_ticket_gives_typed_inputs(onboard: Any) -> None:
    d = decide(rule(), ticket(**good_fields()), onboard)
    assert d.runnable
    assert d.inputs == {"deliver": "terminal", "given_name": "Jiří", "surname": "Čermák",
                        "mail": "jiri@example.test"}


def test_match_needs_every_condition() -> None:
    r = rule(match={"queue": "Helpdesk", "subject": "new hire", "type": "onboarding",
                    "fields": {"Request": "account"}})
    assert matches(r, ticket(type="Onboarding", Request="account"))
    assert matches(r, ticket(category="onboarding", Request="account"))
    assert not matches(r, ticket(type="onboarding", Request="printer"))
    assert not matches(r, ticket(queue="General", type="onboarding", Request="account"))
    assert not matches(r, ticket("Printer broken", type="onboarding", Request="account"))


def test_a_rule_names_the_queue_by_its_name_or_by_id_form() -> None:
    """RT names a ticket's queue by id: a rule names it by its name, or by `id:3`; a bare
    number is refused at load (it meant either), and a name never matches an id."""
    r = rule(match={"queue": "helpdesk"})
    by_id = rule(match={"queue": "id:3"})
    read = Ticket(ref=TicketRef("rt", "12"), subject="New hire", status="new",
                  queue="Helpdesk", queue_id="3")
    assert matches(r, read) and matches(by_id, read)
    assert not matches(rule(match={"queue": "help"}), read)
    assert not matches(rule(match={"queue": "name:3"}), read)
    assert not matches(by_id, ticket())  # no id read: `id:` matches nothing
    with pytest.raises(ValueError, match="'3' is ambiguous: write id:3"):
        rule(match={"queue": "3"})


def test_the_first_rule_in_order_wins() -> None:
    first = rule(name="first", match={"subject": "hire"})
    second = rule(name="second", match={"queue": "Helpdesk"})
    assert find_rule([first, second], ticket("New hire")) is first
    assert find_rule([first, second], ticket("Other")) is second
    assert find_rule([first], ticket("Other")) is None


def test_a_missing_field_is_named_and_nothing_runs(onboard: Any) -> None:
    fields = good_fields()
    del fields["Surname"]
    fields["Mail"] = "   "
    d = decide(rule(), ticket(**fields), onboard)
    assert not d.runnable and d.inputs == {}
    assert any("'Surname' is missing" in p for p in d.problems)
    assert any("'Mail' is missing" in p for p in d.problems)


@pytest.mark.parametrize(("value", "why"), [
    ("x" * 1_000_000, "longer than 256 characters"),
    ("Jiří\x07", "control character"),
    ("Jiří\nrm -rf /", "control character"),
])
def test_a_bad_field_is_refused_with_its_reason(onboard: Any, value: str, why: str) -> None:
    d = decide(rule(), ticket(**{**good_fields(), "Given name": value}), onboard)
    assert not d.runnable
    [problem] = d.problems
    assert why in problem and len(problem) < 400  # never the megabyte itself


def test_a_bad_mail_is_refused(onboard: Any) -> None:
    d = decide(rule(), ticket(**{**good_fields(), "Mail": "not-an-address"}), onboard)
    assert d.problems == ["field 'Mail': 'not-an-address' is not an e-mail address"]


@pytest.mark.parametrize("value", ["{{ profile.name }}", "*)(uid=*", "$(id); `id`",
                                   "{% raw %}x", "a,b=c\\+d"])
def test_template_and_metacharacters_stay_data(onboard: Any, value: str) -> None:
    d = decide(rule(), ticket(**{**good_fields(), "Given name": value}), onboard)
    assert d.runnable
    assert d.inputs["given_name"] == value  # as written: nothing rendered or unescaped


def test_requester_must_be_allowed(onboard: Any) -> None:
    d = decide(rule(), ticket(requester="mallory@evil.test", **good_fields()), onboard)
    assert not d.runnable and d.refused is not None and "mallory@evil.test" in d.refused
    d = decide(rule(), ticket(requester=None, **good_fields()), onboard)
    assert d.refused is not None
    assert requester_allowed(rule(requesters=["*"]), "anyone")
    assert requester_allowed(rule(requesters=["Boss@Example.test"]), "boss@example.TEST")
    assert not requester_allowed(rule(requesters=["boss@example.test"]), "boss@example.test.evil")


def test_a_rule_cannot_route_a_ticket_field_into_a_secret(tmp_path: Path) -> None:
    book = tmp_path / "pw.yaml"
    book.write_text("name: pw\ninputs:\n  login: {type: string}\n  password: {type: secret}\n"
                    "steps:\n  - uses: account.unlock\n    with: {login: '{{ inputs.login }}'}\n")
    loaded = load(book).playbook
    d = decide(rule(playbook="pw", inputs={}, fields={"login": "Login", "password": "Login"}),
               ticket(Login="jdoe"), loaded)
    assert d.problems == ["input password is a secret: it is never taken from a ticket"]


def test_a_ticket_never_names_the_csv_file_of_a_for_each(tmp_path: Path) -> None:
    """A requester who names the file a step reads its rows from could point a triggered
    run at any file the service can read (another job's CSV of accounts to disable, a
    secret whose first line comes back in an error): a rule cannot take that input from
    a ticket field, and a CSV path built from `ticket.` is refused; a path the rule
    fixes itself is fine."""
    step = "  - uses: account.unlock\n    with: {login: '{{ item.login }}'}\n"
    book = tmp_path / "bulk.yaml"
    book.write_text("name: bulk\ninputs:\n  file: {type: string}\nsteps:\n" + step
                    + "    for_each: {csv: '/srv/{{ inputs.file }}'}\n")
    loaded = load(book).playbook
    d = decide(rule(playbook="bulk", inputs={}, fields={"file": "File"}),
               ticket(File="../etc/adminkit/token"), loaded)
    assert not d.runnable
    assert d.problems == ["input file names the CSV file a step reads (for_each): a "
                          "ticket never names a file; the rule's inputs may fix it"]
    fixed = decide(rule(playbook="bulk", inputs={"file": "leavers.csv"}, fields={}),
                   ticket(), loaded)
    assert fixed.runnable and fixed.inputs == {"file": "leavers.csv"}

    direct = tmp_path / "direct.yaml"
    direct.write_text("name: direct\nsteps:\n" + step
                      + "    for_each: {csv: \"{{ ticket.fields['File'] }}\"}\n")
    d = decide(rule(playbook="direct", inputs={}, fields={}), ticket(File="/etc/passwd"),
               load(direct).playbook)
    assert d.problems == ["step 1 reads the CSV file a ticket names (for_each: ticket.…): "
                          "a ticket never names a file"]


@pytest.mark.parametrize(("csv", "named_by"), [
    ("{{ steps.lookup.output.path }}", "an earlier step's output names (for_each: steps.…)"),
    ("/srv/{{ steps['lookup'].output }}.csv", "an earlier step's output names "
                                               "(for_each: steps.…)"),
])
def test_a_csv_path_from_an_earlier_steps_output_is_refused(tmp_path: Path, csv: str,
                                                             named_by: str) -> None:
    """A step's output may carry what the ticket gave (a rendered input): a CSV path built
    from it is as good as one the requester names, so a triggered run refuses it."""
    book = tmp_path / "chained.yaml"
    book.write_text("name: chained\ninputs:\n  login: {type: string}\nsteps:\n"
                    "  - uses: account.unlock\n    register: lookup\n"
                    "    with: {login: '{{ inputs.login }}'}\n"
                    "  - uses: account.unlock\n    with: {login: '{{ item.login }}'}\n"
                    f"    for_each: {{csv: \"{csv}\"}}\n")
    d = decide(rule(playbook="chained", inputs={}, fields={"login": "Login"}),
               ticket(Login="../../etc/adminkit/token"), load(book).playbook)
    assert not d.runnable
    assert d.problems == [f"step 2 reads the CSV file {named_by}: in a run a ticket starts, "
                          "only the rule's inputs or the profile name a file"]


def test_inputs_the_rule_does_not_cover_are_named(onboard: Any) -> None:
    d = decide(rule(fields={"given_name": "Given name"}), ticket(**good_fields()), onboard)
    assert d.problems == ["input surname is required and the rule gives it no field"]
    d = decide(rule(fields={**rule().fields, "shoe_size": "Shoe"}), ticket(**good_fields()),
               onboard)
    assert "the rule takes input shoe_size, which onboard-user does not have" in d.problems


def test_settings_refuse_what_cannot_be_meant() -> None:
    with pytest.raises(ValidationError, match="requesters"):
        Rule.model_validate({"name": "r", "playbook": "p"})
    with pytest.raises(ValidationError, match="not a regular expression"):
        rule(match={"subject": "("})
    with pytest.raises(ValidationError, match="both fixed and taken"):
        rule(inputs={"surname": "X"})
    with pytest.raises(ValidationError, match="given twice"):
        AutomationConfig.model_validate({"rules": [rule().model_dump(), rule().model_dump()]})


def test_a_profile_carries_its_rules() -> None:
    profile = Profile.of(name="acme", automation={"rules": [rule().model_dump()],
                                                   "approvers": ["dispatch"]})
    from adminkit.automation.settings import automation_settings

    cfg = automation_settings(profile)
    assert cfg is not None and cfg.rules[0].name == "onboarding" and cfg.approvers == ["dispatch"]


def test_named_groups_of_the_subject_pattern_are_fields(onboard: Any) -> None:
    r = rule(match={"subject": r"^new hire:\s*(?P<given>\S+)?\s*(?P<surname>.*)$"},
             fields={"given_name": "subject:given", "surname": "subject:surname"})
    d = decide(r, ticket("New hire: Jiří Čermák"), onboard)
    assert d.runnable and d.inputs["given_name"] == "Jiří" and d.inputs["surname"] == "Čermák"
    d = decide(r, ticket("New hire: Jiří"), onboard)
    assert d.problems == ["field 'subject:surname' is missing or empty (Surname, as written "
                          "(Čermák))"]
    with pytest.raises(ValidationError, match="no such named group"):
        rule(match={"subject": "new hire"}, fields={"surname": "subject:surname"})


def test_the_readme_automation_example_is_a_valid_profile(onboard: Any) -> None:
    import yaml

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = readme.split("```yaml\nautomation:", 1)[1].split("```", 1)[0]
    profile = Profile.model_validate({"name": "acme", **yaml.safe_load("automation:" + block)})
    from adminkit.automation.settings import automation_settings

    cfg = automation_settings(profile)
    assert cfg is not None and cfg.schedules[0].calendar == "*-*-* 02:30"
    d = decide(cfg.rules[0], ticket("New hire: Jiří Čermák", requester="boss@acme.example",
                                    Mail="jiri@acme.example"), onboard)
    assert d.runnable and d.inputs["surname"] == "Čermák"
