"""A schedule's `ticket: new` needs the ticket system's `tickets.new` settings (Jira SM,
Zammad) or its project (Redmine). They were checked only when the schedule first ran (at
night, by a timer): now the profile load refuses them, exit 2, naming the schedule's key
and the setting it needs, in `profile check`, in a run, and in every command that reads
the automation section."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any

import pytest

SCHEDULES = """\
automation:
  schedules:
    - name: nightly
      calendar: daily
      playbook: disable-inactive-accounts
      ticket: rt:1
    - name: weekly
      calendar: weekly
      playbook: disable-inactive-accounts
      ticket: {ticket}
"""


def write(env: Any, tickets: str, ticket: str = "new") -> None:
    (env.profiles / "acme.yaml").write_text(
        textwrap.dedent(tickets) + SCHEDULES.format(ticket=ticket))


JIRA = """\
    tickets:
      kind: jira
      url: https://jira.example
      token: env:ACME_JIRA_TOKEN
    """
ZAMMAD = JIRA.replace("jira", "zammad")
REDMINE = JIRA.replace("kind: jira", "kind: redmine")


@pytest.mark.parametrize(("tickets", "needs"), [
    (JIRA, "tickets.new.service_desk and tickets.new.request_type"),
    (ZAMMAD, "tickets.new.group and tickets.new.customer"),
    (REDMINE, "tickets.queue"),
])
@pytest.mark.parametrize("command", [("profile", "check", "acme"),
                                     ("-p", "acme", "schedule", "list")])
def test_ticket_new_without_what_the_system_needs_is_refused_at_load(
        env: Any, cli: Callable[..., Any], tickets: str, needs: str,
        command: tuple[str, ...]) -> None:
    write(env, tickets)
    r = cli(*command)
    text = r.out + r.err
    assert r.code == 2, text
    assert "acme.yaml:14:7: automation.schedules.1.ticket: `new` opens a ticket in" in text
    assert needs in text and "new:local" in text
    assert "Traceback" not in text


def test_a_run_is_refused_before_it_starts(env: Any, cli: Callable[..., Any]) -> None:
    write(env, JIRA)
    r = cli("-p", "acme", "--check", "account", "unlock", "jnovak")
    assert r.code == 2, r.out + r.err
    assert "automation.schedules.1.ticket" in r.err
    assert not env.journal.exists()


@pytest.mark.parametrize(("tickets", "ticket"), [
    (JIRA, "new:local"),
    (JIRA, "jira:SD-1"),
    (JIRA + "  new: {service_desk: 1, request_type: 10}\n", "new"),
    (ZAMMAD + "  new: {group: Users, customer: ops@example.org}\n", "new"),
    (REDMINE + "  queue: helpdesk\n", "new"),
    ("tickets: {kind: local}\n", "new"),
    ("", "new"),  # no ticket system: the local store
    (JIRA.replace("jira", "servicenow"), "new"),  # needs nothing more
])
def test_ticket_new_with_what_it_needs_loads(env: Any, cli: Callable[..., Any], tickets: str,
                                            ticket: str) -> None:
    write(env, tickets, ticket)
    r = cli("profile", "show", "acme")  # loads it whole, without reaching for the systems
    assert r.code == 0, r.out + r.err
