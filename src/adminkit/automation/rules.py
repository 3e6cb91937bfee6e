"""Which rule takes a ticket, and the playbook inputs its fields give: pure logic.

A ticket field's value is data. It becomes a playbook input only through that input's
type (`playbook.inputs.convert`: length, control characters, pattern, e-mail, choices),
and it is never rendered as a template (the renderer hands variables over as values).
A ticket that a rule takes but whose fields are missing or bad gets a note naming
each problem, and no run; so does a requester the rule does not allow.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from adminkit.automation.settings import BUILT_IN_FIELDS, SUBJECT_GROUP, Rule
from adminkit.playbook.inputs import convert
from adminkit.playbook.model import Playbook
from adminkit.tickets.base import USER_ID_KINDS, Ticket

CONTROL = re.compile(r"[\x00-\x1f\x7f]")
TYPE_FIELDS = ("type", "category", "tracker")  # a rule's `type`: Redmine calls it tracker
MAX_PROBLEM = 200  # a problem quotes the ticket's value: never a whole megabyte of it


@dataclass(frozen=True)
class Decision:
    """What to do with a ticket a rule took."""

    rule: Rule
    inputs: dict[str, Any] = field(default_factory=dict)  # typed values, ready to run
    problems: list[str] = field(default_factory=list)  # fields missing or bad: no run
    refused: str | None = None  # the requester may not ask for this: no run

    @property
    def runnable(self) -> bool:
        return not self.problems and self.refused is None


def field_value(ticket: Ticket, name: str, rule: Rule | None = None) -> Any:
    """A built-in field (id, subject, queue, requester, status), a named group of the
    rule's subject pattern (`subject:NAME`), or a custom field."""
    if name.startswith(SUBJECT_GROUP):
        found = re.search(rule.match.subject, ticket.subject or "", re.IGNORECASE) \
            if rule is not None and rule.match.subject else None
        return found.groupdict().get(name.removeprefix(SUBJECT_GROUP)) if found else None
    if name in BUILT_IN_FIELDS:
        return ticket.ref.id if name == "id" else getattr(ticket, name)
    return ticket.fields.get(name)


def _same(value: Any, wanted: str) -> bool:
    if isinstance(value, list):
        return any(_same(v, wanted) for v in value)
    return value is not None and str(value).strip().casefold() == wanted.strip().casefold()


def matches(rule: Rule, ticket: Ticket) -> bool:
    m = rule.match
    if m.queue is not None and not ticket.in_queue([m.queue]):
        return False
    if m.type is not None and not any(_same(ticket.fields.get(name), m.type)
                                      for name in TYPE_FIELDS):
        return False
    if m.subject is not None and not re.search(m.subject, ticket.subject or "", re.IGNORECASE):
        return False
    return all(_same(ticket.fields.get(name), value) for name, value in m.fields.items())


def find_rule(rules: Sequence[Rule], ticket: Ticket) -> Rule | None:
    """The first rule, in the profile's order, that takes the ticket."""
    return next((rule for rule in rules if matches(rule, ticket)), None)


def identity(name: str | None, ident: str | None, kind: str | None = None) -> str:
    """Who someone is for a check (rule requesters, approvers, four eyes): on a system
    that gives stable user ids (`USER_ID_KINDS`: `redmine:9`, `jira:ACCOUNTID`,
    `zammad:12`, `snow:SYSID`), that id and nothing else, since names there are each
    user's to edit (or shared);
    elsewhere the id if given, else the name (RT's login, unique). A name is only
    ever shown."""
    if kind in USER_ID_KINDS:
        return (ident or "").strip()
    return (ident or name or "").strip()


def requester_allowed(rule: Rule, requester: str | None,
                      requester_id: str | None = None, kind: str | None = None) -> bool:
    who = identity(requester, requester_id, kind)
    if not who or CONTROL.search(who):
        return False
    who = who.casefold()
    return any(fnmatch.fnmatchcase(who, pattern.strip().casefold())
               for pattern in rule.requesters)


def _cut(text: str) -> str:
    """A value quoted in a note: control characters shown as `?` (no forged lines)."""
    text = CONTROL.sub("?", text)
    return text if len(text) <= MAX_PROBLEM else text[:MAX_PROBLEM] + "…"


def _present(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, (list, dict, str)):
        return bool(value.strip() if isinstance(value, str) else value)
    return True


#: Template roots whose values a ticket may have chosen without the rule knowing: a
#: step's output can carry an input the ticket gave, and so can a row of another CSV.
UNTRACED = {"steps": "an earlier step's output", "item": "a CSV row"}


def _files_from_ticket(rule: Rule, playbook: Playbook) -> list[str]:
    """A step's CSV file (`for_each`) named by the ticket, directly or through an input
    a rule field gives: the requester would choose any file the service can read (the
    rows of another job, a secret's first line quoted in an error). Never allowed."""
    from adminkit.playbook import render

    problems: list[str] = []
    named: set[str] = set()
    for number, step in enumerate(playbook.steps, 1):
        if step.for_each is None or not render.is_template(step.for_each.csv):
            continue
        text = step.for_each.csv
        used = render.variables_used(text)
        if "ticket" in used:
            problems.append(f"step {number} reads the CSV file a ticket names (for_each: "
                            "ticket.…): a ticket never names a file")
        for root in sorted(used & UNTRACED.keys()):  # what they hold may have come from the ticket
            problems.append(f"step {number} reads the CSV file {UNTRACED[root]} names "
                            f"(for_each: {root}.…): in a run a ticket starts, only the "
                            "rule's inputs or the profile name a file")
        named |= {attr for root, attr in render.attributes_used(text)
                  if root == "inputs" and attr in rule.fields}
    return problems + [f"input {name} names the CSV file a step reads (for_each): a ticket "
                       "never names a file; the rule's inputs may fix it"
                       for name in sorted(named)]


def decide(rule: Rule, ticket: Ticket, playbook: Playbook) -> Decision:
    """The rule's inputs for this ticket, every problem with them, and whether the
    requester may ask. Nothing here reads a system or renders a template."""
    if not requester_allowed(rule, ticket.requester, ticket.requester_id,
                             ticket.ref.kind):
        who = ticket.requester or "(no requester)"
        if ticket.requester_id:
            who = f"{who} ({ticket.requester_id})"
        return Decision(rule, refused=f"{_cut(who)} may not ask for {rule.name} "
                                      f"(playbook {playbook.name})")
    problems: list[str] = []
    values: dict[str, Any] = {}
    for name, raw in rule.inputs.items():
        spec = playbook.inputs.get(name)
        if spec is None:
            problems.append(f"the rule fixes input {name}, which {playbook.name} does not have")
        elif spec.type == "secret":
            problems.append(f"input {name} is a secret: a rule never gives one")
        else:
            try:
                values[name] = convert(spec, raw)
            except ValueError as exc:
                problems.append(f"the rule's input {name}: {_cut(str(exc))}")
    for name, source in rule.fields.items():
        spec = playbook.inputs.get(name)
        if spec is None:
            problems.append(f"the rule takes input {name}, which {playbook.name} does not have")
            continue
        if spec.type == "secret":
            problems.append(f"input {name} is a secret: it is never taken from a ticket")
            continue
        value = field_value(ticket, source, rule)
        if not _present(value):
            what = f" ({spec.description})" if spec.description else ""
            problems.append(f"field {source!r} is missing or empty{what}")
            continue
        if isinstance(value, (dict, bool, int, float)) and spec.type in ("string", "email",
                                                                          "enum", "list"):
            value = str(value)
        try:
            values[name] = convert(spec, value)
        except ValueError as exc:
            problems.append(f"field {source!r}: {_cut(str(exc))}")
    problems.extend(_files_from_ticket(rule, playbook))
    given = set(rule.inputs) | set(rule.fields)
    for name, spec in playbook.inputs.items():
        if name not in given and spec.required and spec.default is None:
            problems.append(f"input {name} is required and the rule gives it no field")
    return Decision(rule, inputs=values if not problems else {}, problems=problems)
