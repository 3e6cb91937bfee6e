"""Hostile values adminkit quotes in a note (a target, a changed value, a summary taken
from a ticket) stay text: they add no line of their own to the note, and become no
markup in the ticket system's format (Jira wiki, ServiceNow's journal `[code]`).

Against the protocol-level fakes with the real httpx client; the Jira fake reads a
comment's wiki text as Jira does (`shown`, `markup`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adminkit.core.result import Change, Result, Status
from adminkit.core.run import Run
from adminkit.core.runner import RunReport
from adminkit.tickets.glpi import Glpi
from adminkit.tickets.jira import Jira
from adminkit.tickets.notes import action_note, run_note
from adminkit.tickets.redmine import Redmine
from adminkit.tickets.servicenow import ServiceNow
from tests.fakes.glpi import FakeGlpi
from tests.fakes.glpi import tags as glpi_tags
from tests.fakes.jira import FakeJira, markup
from tests.fakes.redmine import FakeRedmine
from tests.fakes.redmine import markup as redmine_markup
from tests.fakes.servicenow import FakeServiceNow
from tests.fakes.ticketfake import profile_for

FORGED = "changed: account.disable ceo by root (profile prod)"
WIKI = "[~admin] *urgent* [click|https://evil.example/x] !https://evil.example/p.png! {noformat}"
CODE = "[code]<img src=x onerror=alert(1)>[/code] [ CODE ]<b>x</b>[/Code]"


def hostile_result(value: str = "Jan") -> Result:
    return Result(action="account.create", target=f"jdoe\n{FORGED}", status=Status.CHANGED,
                  summary="created\r\nok: nothing else\u202etxt.exe",
                  changes=[Change(op="set", field="displayName", after=f"{value}\nok: x")],
                  error=None)


def test_a_value_with_a_line_break_or_an_override_adds_no_line_to_a_note() -> None:
    run = Run(command="account create 'jdoe\nok: all'", profile="acme",
              operator="tester\nok: root")
    note = action_note(run, 0, hostile_result())
    assert len(note.splitlines()) == 3, note  # the head, the status, one change
    assert not any(line.startswith(("changed:", "ok:")) for line in note.splitlines()[2:])
    assert "\u202e" not in note and "\r" not in note
    assert f"jdoe\\n{FORGED}" in note and "created\\x0d\\nok: nothing else\\u202etxt.exe" in note
    report = RunReport(run, results=[hostile_result()])
    whole = run_note(run, report)
    assert len(whole.splitlines()) == 3, whole  # the head, the action and status, its change
    assert "account create 'jdoe\\nok: all' by tester\\nok: root" in whole.splitlines()[0]


@pytest.fixture
def jira_fake() -> Iterator[FakeJira]:
    with FakeJira(pat="jira-pat-7") as fake:
        fake.issue("HD-12", "Please block jdoe")
        yield fake


def test_a_jira_note_quoting_wiki_markup_and_a_mention_is_no_markup_in_jira(
        jira_fake: FakeJira, monkeypatch: pytest.MonkeyPatch) -> None:
    jira = Jira(profile_for(jira_fake, monkeypatch))
    try:
        text = action_note(Run(command="account create", profile="acme", operator="tester"),
                           0, hostile_result(WIKI))
        jira.add_note("HD-12", text)
        [comment] = jira_fake.issues["HD-12"].comments
        assert markup(comment.body) == ""  # no mention, no link, no image, no bold
        [note] = jira_fake.notes("HD-12")
        assert note.text == text.replace("[~", "[ ~").replace("{noformat", "{ noformat")
        assert "*urgent* [click|https://evil.example/x] !https://evil.example/p.png!" \
            in note.text
        [shown] = jira.notes("HD-12")  # `ticket show` and approvals read it as shown
        assert shown["body"] == note.text
    finally:
        jira.close()


@pytest.fixture
def snow_fake() -> Iterator[FakeServiceNow]:
    with FakeServiceNow(token="snow-oauth-token-9") as fake:
        fake.record("INC0012345", "Please block jdoe", caller="Anna Example")
        yield fake


def test_a_servicenow_work_note_quoting_code_tags_holds_no_html(
        snow_fake: FakeServiceNow, monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    snow = ServiceNow(profile_for(snow_fake, monkeypatch))
    try:
        text = action_note(Run(command="account create", profile="acme", operator="tester"),
                           0, hostile_result(CODE))
        remote = snow.add_note("INC0012345", text)
        [note] = snow_fake.notes("INC0012345")
        assert not re.search(r"\[/?code\]", note.text, re.IGNORECASE), note.text
        assert "<img src=x onerror=alert(1)>" in note.text  # shown as text, not run
        assert snow.find_note("INC0012345", text.split(" ", 1)[0]) == remote == note.id
    finally:
        snow.close()


TEXTILE = ('@admin "click":https://evil.example/x !https://evil.example/p.png! *urgent* '
           '<b>bold</b> </pre> *after the block* <PRE>')


@pytest.fixture
def redmine_fake() -> Iterator[FakeRedmine]:
    with FakeRedmine() as fake:
        yield fake


def test_a_redmine_note_quoting_textile_html_and_a_mention_is_no_markup_in_redmine(
        redmine_fake: FakeRedmine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Redmine 5's Textile shows a <pre> block's content as text, HTML escaped (checked
    with its RedCloth3), and looks for no @mention in it; a `</pre>` inside ended it."""
    redmine = Redmine(profile_for(redmine_fake, monkeypatch))
    try:
        issue = redmine_fake.add_issue()
        text = action_note(Run(command="account create", profile="acme", operator="tester"),
                           0, hostile_result(TEXTILE))
        remote = redmine.add_note(str(issue), text)
        [journal] = redmine_fake.notes_of(issue)
        assert redmine_markup(journal["notes"]) == ""  # no mention, link, image, bold
        [note] = redmine_fake.notes(str(issue))
        assert note.text == text.replace("</pre>", "< /pre>").replace("<PRE>", "< PRE>")
        assert '@admin "click":https://evil.example/x !https://evil.example/p.png!' in note.text
        [shown] = redmine.notes(str(issue))  # `ticket show` and approvals read it as shown
        assert shown["body"] == note.text
        assert redmine.find_note(str(issue), text.split(" ", 1)[0]) == remote == note.id
    finally:
        redmine.close()


HTML = ('<img src=https://evil.example/p.png> <a href="https://evil.example">click</a> '
        '<span data-user-mention="true" data-user-id="2">@glpi</span> <b>x</b> </pre>')


@pytest.fixture
def glpi_fake() -> Iterator[FakeGlpi]:
    with FakeGlpi() as fake:
        yield fake


def test_a_glpi_followup_quoting_html_and_a_mention_is_no_html_in_glpi(
        glpi_fake: FakeGlpi, monkeypatch: pytest.MonkeyPatch) -> None:
    """GLPI 10 reads content holding one of its rich-text tags as HTML (an image every
    reader's browser fetches, a link, a user mention GLPI notifies); other content is
    escaped plain text. A follow-up is one escaped <pre> block: HTML with one tag."""
    glpi = Glpi(profile_for(glpi_fake, monkeypatch))
    try:
        ticket = glpi_fake.add_ticket()
        text = action_note(Run(command="account create", profile="acme", operator="tester"),
                           0, hostile_result(HTML))
        remote = glpi.add_note(str(ticket), text)
        [followup] = glpi_fake.followups_of(ticket)
        assert glpi_tags(followup["content"]) == ["pre"]
        [note] = glpi_fake.notes(str(ticket))
        assert note.text == text  # shown as it was written, lines and spaces kept
        [shown] = glpi.notes(str(ticket))  # `ticket show` reads it as shown
        assert shown["body"] == text
        assert glpi.find_note(str(ticket), text.split(" ", 1)[0]) == remote == note.id
    finally:
        glpi.close()
