"""Playbook templates and inputs: sandboxed, strict, single pass, typed.

The last part runs tiny playbooks of toy actions through the real `PlaybookRun` and
`Runner` (no backend), to pin down how templates behave at run time: `when`,
`register`, values that look like templates, and rollback.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

from adminkit.core.action import Action, Applied, Params, Plan
from adminkit.core.context import Context
from adminkit.core.errors import ValidationError
from adminkit.core.result import Change, Result
from adminkit.core.run import Run
from adminkit.core.runner import Runner
from adminkit.playbook import render
from adminkit.playbook.inputs import resolve_inputs
from adminkit.playbook.model import Playbook

HOSTILE = ["{{ 7*7 }}", "{% raw %}x{% endraw %}", "{% for x in [] %}", "{# note #}",
           "{{ ''.__class__.__mro__ }}", "*)(uid=*", "; rm -rf /", "$(id)", "`id`",
           "a\\,b=c", "{{", "}}{{"]


def variables(**inputs: Any) -> dict[str, Any]:
    return {"inputs": inputs, "ticket": {}, "steps": {}, "profile": {"name": "lab"},
            "run": {"id": "R-1"}}


# -- render_value -----------------------------------------------------------------------

def test_a_single_expression_keeps_its_type() -> None:
    v = variables(groups=["Staff-All", "Helpdesk-Agents"], days=90, on=True, nothing=None)
    assert render.render_value("{{ inputs.groups }}", v) == ["Staff-All", "Helpdesk-Agents"]
    assert render.render_value("  {{ inputs.groups }}\n", v) == ["Staff-All", "Helpdesk-Agents"]
    assert render.render_value("{{ inputs.days }}", v) == 90
    assert render.render_value("{{ inputs.on }}", v) is True
    assert render.render_value("{{ inputs.nothing }}", v) is None
    assert render.render_value("{{ inputs.days * 2 }}", v) == 180


def test_text_around_an_expression_makes_a_string() -> None:
    v = variables(groups=["a", "b"], days=90)
    assert render.render_value("days={{ inputs.days }}", v) == "days=90"
    assert render.render_value("{{ inputs.days }}{{ inputs.days }}", v) == "9090"
    assert render.render_value("{{ inputs.groups | join(',') }}", v) == "a,b"
    assert render.render_value("{% if inputs.days > 1 %}many{% endif %}", v) == "many"


def test_containers_are_walked_and_other_values_pass_through() -> None:
    v = variables(login="jdoe", groups=["g1"])
    value = {"login": "{{ inputs.login }}", "add": "{{ inputs.groups }}", "n": 5,
             "flag": False, "nested": [{"x": "<{{ inputs.login }}>"}, None, 1.5]}
    assert render.render_value(value, v) == {
        "login": "jdoe", "add": ["g1"], "n": 5, "flag": False,
        "nested": [{"x": "<jdoe>"}, None, 1.5]}
    assert render.render_value("plain text", v) == "plain text"
    assert render.render_value(7, v) == 7


def test_the_caller_s_values_are_not_mutated() -> None:
    groups = ["a"]
    v = variables(groups=groups)
    out = render.render_value(["{{ inputs.groups }}"], v)
    assert out == [["a"]] and groups == ["a"]


def test_undefined_in_text_raises_validation_error() -> None:
    with pytest.raises(ValidationError, match="'foo' is undefined"):
        render.render_value("x {{ foo }}", variables())
    with pytest.raises(ValidationError, match="has no attribute 'nope'"):
        render.render_value("x {{ inputs.nope }}", variables())
    with pytest.raises(ValidationError):
        render.render_value("{% for g in nope %}{{ g }}{% endfor %}", variables())


SINGLE_UNDEFINED = [
    pytest.param("{{ foo }}", id="undefined name"),
    pytest.param("{{ inputs.nope }}", id="undefined attribute"),
    pytest.param("{{ ticket.subject }}", id="no ticket given"),
    pytest.param("{{ steps.acct.data.login }}", id="data a failed step never gave"),
]


@pytest.mark.parametrize("template", SINGLE_UNDEFINED)
def test_undefined_in_a_single_expression_raises_validation_error(template: str) -> None:
    v = variables()
    v["steps"]["acct"] = {"status": "failed", "data": {}}
    with pytest.raises(ValidationError):
        render.render_value(template, v)


def test_evaluate_conditions() -> None:
    v = variables(groups=["a"], unlock=False, days=3)
    assert render.evaluate("inputs.groups | length > 0", v) is True
    assert render.evaluate("inputs.unlock", v) is False
    assert render.evaluate("inputs.days is not none and inputs.days > 2", v) is True
    with pytest.raises(ValidationError, match=r"condition 'inputs\.nope'"):
        render.evaluate("inputs.nope", v)
    with pytest.raises(ValidationError):
        render.evaluate("undefined_name == 1", v)


# -- the sandbox ------------------------------------------------------------------------

ESCAPES_THAT_RAISE = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "x{{ ''.__class__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__.os }}",
    "{{ inputs.n.__class__.__subclasses__() }}",
    "{{ (inputs.groups).append('Domain Admins') }}",
    "{{ inputs.groups.pop() }}",
    "{{ inputs.update({'x': 1}) }}",
    "{% set x = inputs.groups.clear() %}{{ x }}",
    "x{{ ''.format.__globals__ }}",
]


@pytest.mark.parametrize("template", ESCAPES_THAT_RAISE)
def test_sandbox_refuses_escapes_and_mutation(template: str) -> None:
    groups = ["Staff-All"]
    v = variables(groups=groups, n=1)
    with pytest.raises(ValidationError, match=r"unsafe|undefined|has no attribute"):
        render.render_value(template, v)
    assert groups == ["Staff-All"]
    assert v["inputs"] == {"groups": ["Staff-All"], "n": 1}


@pytest.mark.parametrize("template", ["{{ ''.__class__ }}", "{{ lipsum.__globals__ }}",
                                      "{{ inputs | attr('__class__') }}",
                                      "{{ ''.format.__globals__ }}"])
def test_sandbox_escape_in_a_single_expression_is_an_error(template: str) -> None:
    with pytest.raises(ValidationError):
        render.render_value(template, variables())


def test_sandbox_never_gives_the_class_hierarchy() -> None:
    """Whatever the form, no escape yields Python objects instead of data."""
    for template in ("{{ ''.__class__ }}", "{{ lipsum.__globals__ }}",
                     "{{ inputs | attr('__class__') }}"):
        try:
            value = render.render_value(template, variables())
        except ValidationError:
            continue
        assert not isinstance(value, type | dict | tuple), (template, value)
        with pytest.raises(Exception, match=r"unsafe|undefined|has no attribute"):
            str(value)  # an Undefined: using it fails


def test_sandbox_limits_are_validation_errors() -> None:
    with pytest.raises(ValidationError):
        render.render_value("{{ range(10**6) | list }}", variables())


# -- one pass: values are data, never templates --------------------------------------------

@pytest.mark.parametrize("value", HOSTILE)
def test_a_value_that_looks_like_a_template_renders_literally(value: str) -> None:
    v = variables(name=value)
    v["ticket"] = {"subject": value, "fields": {"note": value}}
    assert render.render_value("{{ inputs.name }}", v) == value
    assert render.render_value("{{ ticket.subject }}", v) == value
    assert render.render_value("{{ ticket.fields['note'] }}", v) == value
    assert render.render_value("[{{ ticket.subject }}]", v) == f"[{value}]"
    assert render.render_value({"values": {"description": ["{{ ticket.subject }}"]}}, v) == \
        {"values": {"description": [value]}}
    assert render.render_value("{{ inputs.name | upper }}", v) == value.upper()
    assert render.evaluate("inputs.name == ticket.subject", v) is True


@pytest.mark.parametrize("name", ["items", "values", "keys"])
def test_an_input_named_like_a_dict_method_is_the_input(name: str) -> None:
    v = variables(**{name: ["Staff-All"]})
    assert render.render_value(f"{{{{ inputs.{name} }}}}", v) == ["Staff-All"]



def test_data_keys_come_before_dict_methods_but_nothing_else_changes() -> None:
    v = variables(login="jdoe")
    v["ticket"] = {"fields": {"get": "{{ 7*7 }}", "copy": ["x"]}}
    v["steps"] = {"acct": {"data": {"update": "yes", "pop": 1}}}
    assert render.render_value("{{ ticket.fields.get }}", v) == "{{ 7*7 }}"  # single pass
    assert render.render_value("{{ ticket.fields.copy }}", v) == ["x"]
    assert render.render_value("{{ steps.acct.data.update }}-{{ steps.acct.data.pop }}",
                               v) == "yes-1"
    assert render.evaluate("steps.acct.data.update == 'yes'", v) is True
    assert render.render_value("{{ inputs.keys() | list }}", v) == ["login"]  # not a key
    with pytest.raises(ValidationError, match="has no attribute 'nope'"):  # still strict
        render.render_value("{{ inputs.nope }}", v)
    with pytest.raises(ValidationError, match="unsafe"):
        render.render_value("{{ ticket.fields.update({'get': 1}) }}", v)
    with pytest.raises(ValidationError, match="unsafe"):
        render.render_value("{{ ticket.__class__ }}", v)


def test_no_autoescaping_of_data() -> None:
    v = variables(name="<b>&'\"")
    assert render.render_value("x {{ inputs.name }}", v) == "x <b>&'\""


# -- helpers the loader uses ------------------------------------------------------------------

def test_is_template() -> None:
    assert render.is_template("{{ x }}") and render.is_template("{% if %}")
    assert render.is_template("{# c #}")
    assert not render.is_template("plain { text } with braces")
    assert not render.is_template("100% sure")


def test_variables_used_and_syntax_error() -> None:
    assert render.variables_used("{{ inputs.a }} {{ steps.b.data }} {{ item }}") == {
        "inputs", "steps", "item"}
    assert render.variables_used("{% set x = 1 %}{{ x }}") == set()
    assert render.variables_used("inputs.a and ticket.id", expression=True) == {
        "inputs", "ticket"}
    assert render.syntax_error("{{ ok }}") is None
    assert render.syntax_error("{{ broken ") is not None
    assert render.syntax_error("inputs.x ==", expression=True) is not None
    assert render.syntax_error("inputs.x == 1", expression=True) is None


# -- inputs ------------------------------------------------------------------------------------

def book(inputs: dict[str, Any]) -> Playbook:
    return Playbook.model_validate({"name": "inputs", "inputs": inputs,
                                    "steps": [{"uses": "account.unlock",
                                               "with": {"login": "x"}}]})


@pytest.mark.parametrize(("spec", "raw", "expected"), [
    ({"type": "int"}, "42", 42),
    ({"type": "int"}, "-3", -3),
    ({"type": "int"}, 7, 7),
    ({"type": "bool"}, "yes", True),
    ({"type": "bool"}, "ON", True),
    ({"type": "bool"}, "1", True),
    ({"type": "bool"}, "false", False),
    ({"type": "bool"}, "no", False),
    ({"type": "bool"}, False, False),
    ({"type": "date"}, "2026-01-31", "2026-01-31"),
    ({"type": "email"}, "jana.novak@example.test", "jana.novak@example.test"),
    ({"type": "enum", "choices": ["a", "b"]}, "b", "b"),
    ({"type": "list"}, "Staff-All, Helpdesk-Agents,,", ["Staff-All", "Helpdesk-Agents"]),
    ({"type": "list"}, ["x", "y"], ["x", "y"]),
    ({"type": "list"}, "", []),
    ({"type": "string"}, "Jiří Čermák", "Jiří Čermák"),
    ({"type": "string"}, "{{ 7*7 }}", "{{ 7*7 }}"),
    ({"type": "string", "pattern": "[a-z]+"}, "jdoe", "jdoe"),
    ({"type": "list", "pattern": "[A-Z][a-z-]+"}, "Staff, Ops", ["Staff", "Ops"]),
])
def test_inputs_are_converted(spec: dict[str, Any], raw: Any, expected: Any) -> None:
    assert resolve_inputs(book({"x": spec}), {"x": raw}) == {"x": expected}


@pytest.mark.parametrize(("spec", "raw", "phrase"), [
    ({"type": "int"}, "4.2", "'4.2' is not a whole number"),
    ({"type": "int"}, "ninety", "is not a whole number"),
    ({"type": "bool"}, "maybe", "'maybe' is not true or false"),
    ({"type": "date"}, "31.1.2026", "is not a date (YYYY-MM-DD)"),
    ({"type": "date"}, "2026-02-30", "is not a date"),
    ({"type": "email"}, "not-an-address", "is not an e-mail address"),
    ({"type": "email"}, "a@b.c, evil@x.y", "is not an e-mail address"),
    ({"type": "email"}, "a@b", "is not an e-mail address"),
    ({"type": "enum", "choices": ["a", "b"]}, "c", "'c' is not one of a, b"),
    ({"type": "string", "pattern": "[a-z]+"}, "jdoe1", "does not match [a-z]+"),
    ({"type": "string", "pattern": "[a-z]+"}, "x*)(uid=*", "does not match"),
    ({"type": "list", "pattern": "[A-Z][a-z]+"}, "Staff, ops", "'ops' does not match"),
    ({"type": "string"}, "line\nbreak", "contains a control character"),
    ({"type": "string"}, "nul\x00byte", "contains a control character"),
    ({"type": "string"}, "tab\there", "contains a control character"),
    ({"type": "list"}, "ok, bad\x1b[31m", "contains a control character"),
    ({"type": "email"}, "a@b.c\r\nBcc: x@y.z", "contains a control character"),
    ({"type": "string", "max_length": 5}, "toolong", "longer than 5 characters"),
])
def test_bad_inputs_are_refused(spec: dict[str, Any], raw: Any, phrase: str) -> None:
    with pytest.raises(ValidationError) as info:
        resolve_inputs(book({"x": spec}), {"x": raw})
    message = info.value.message
    assert message.startswith("input x: ") and phrase in message, message


def test_required_default_and_optional() -> None:
    b = book({"login": {}, "days": {"type": "int", "required": False, "default": 90},
              "mail": {"type": "email", "required": False},
              "groups": {"type": "list", "required": False, "default": []}})
    assert resolve_inputs(b, {"login": "jdoe"}) == {
        "login": "jdoe", "days": 90, "mail": None, "groups": []}
    with pytest.raises(ValidationError, match=r"input login is required \(string\)"):
        resolve_inputs(b, {})


def test_unknown_input_and_every_problem_at_once() -> None:
    b = book({"login": {"description": "the login"}, "days": {"type": "int"}})
    with pytest.raises(ValidationError) as info:
        resolve_inputs(b, {"days": "x", "nope": "1", "also": "2"})
    message = info.value.message
    assert "unknown input 'also'" in message and "unknown input 'nope'" in message
    assert "input login is required (the login)" in message
    assert "input days: 'x' is not a whole number" in message
    assert info.value.hint == "inputs of inputs: login (string), days (int)"



def test_defaults_are_converted_like_given_values() -> None:
    b = book({"groups": {"type": "list", "default": "Staff, Ops"},
              "until": {"type": "date", "default": "2026-01-31"},
              "days": {"type": "int", "default": "90"}})
    assert resolve_inputs(b, {}) == {"groups": ["Staff", "Ops"], "until": "2026-01-31",
                                     "days": 90}
    with pytest.raises(ValidationError, match="input days: 'abc' is not a whole number"):
        resolve_inputs(book({"days": {"type": "int", "default": "abc"}}), {})


def test_required_with_a_default_is_not_required() -> None:
    b = book({"deliver": {"default": "mail", "pattern": "mail|file:.+"}})
    assert resolve_inputs(b, {}) == {"deliver": "mail"}
    assert resolve_inputs(b, {"deliver": "file:/tmp/x"}) == {"deliver": "file:/tmp/x"}
    with pytest.raises(ValidationError, match="does not match"):
        resolve_inputs(b, {"deliver": "terminal"})


# -- templates at run time: a tiny playbook of toy actions through the real engine --------

class ToyParams(Params):
    key: str
    note: str = ""
    fail: bool = False


LOG: list[tuple[str, ...]] = []


class Make(Action[ToyParams]):
    """toy.make: 'creates' a thing; its undo is toy.unmake."""

    name = "toy.make"
    params_model: ClassVar[type[Params]] = ToyParams

    def target(self) -> str:
        return self.params.key

    def plan(self, ctx: Context) -> Plan:
        if self.params.fail:
            raise ValidationError(f"{self.params.key} cannot be made")
        return Plan([Change(op="create", field="thing", after=self.params.key)],
                    summary=f"make {self.params.key}",
                    data={"key": self.params.key, "note": self.params.note})

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        LOG.append(("make", self.params.key, self.params.note))
        return Applied()

    def undo(self) -> Action[Any] | None:
        return Unmake(ToyParams(key=self.params.key))

    @classmethod
    def batch_problems(cls, actions: Sequence[Action[Any]], labels: Sequence[str]) -> list[str]:
        seen: dict[str, str] = {}
        problems = []
        for action, label in zip(actions, labels, strict=True):
            key = action.target()
            if key in seen:
                problems.append(f"{label}: {key} again (first at {seen[key]})")
            seen.setdefault(key, label)
        return problems


class Unmake(Make):
    name = "toy.unmake"

    def plan(self, ctx: Context) -> Plan:
        return Plan([Change(op="delete", field="thing", before=self.params.key)],
                    summary=f"unmake {self.params.key}")

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        LOG.append(("unmake", self.params.key))
        return Applied()


@pytest.fixture
def toys(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    from adminkit.core import domains

    monkeypatch.setitem(domains.actions(), "toy.make", Make)
    LOG.clear()
    return LOG


def run_book(tmp_path: Path, text: str, *, ticket: dict[str, Any] | None = None,
             inputs: dict[str, Any] | None = None, check: bool = False) -> list[Result]:
    from adminkit.playbook.execute import PlaybookRun
    from adminkit.playbook.loader import load

    path = tmp_path / "toy.yaml"
    path.write_text(textwrap.dedent(text))
    loaded = load(path)
    values = resolve_inputs(loaded.playbook, inputs or {})
    run = Run(command="run toy", check=check)
    runner = Runner(Context(run=run), [])
    play = PlaybookRun(loaded, values, ticket=ticket, profile_name=None, run_id=run.id)
    return runner.execute(play.actions(runner)).results


def test_ticket_values_reach_the_action_literally(tmp_path: Path, toys: list[Any]) -> None:
    ticket = {"id": "7", "subject": "{{ 7*7 }} {% for x in [] %}", "fields": {"cf": "$(id)"}}
    results = run_book(tmp_path, """\
        name: toy
        steps:
          - uses: toy.make
            with: {key: "{{ ticket.subject }}", note: "cf={{ ticket.fields['cf'] }}"}
        """, ticket=ticket)
    assert [r.status.value for r in results] == ["changed"]
    assert toys == [("make", "{{ 7*7 }} {% for x in [] %}", "cf=$(id)")]


def test_register_then_use_and_loop(tmp_path: Path, toys: list[Any]) -> None:
    results = run_book(tmp_path, """\
        name: toy
        inputs:
          names: {type: list}
        steps:
          - uses: toy.make
            with: {key: first}
            register: one
          - uses: toy.make
            loop: "{{ inputs.names }}"
            with: {key: "{{ item }}", note: "after {{ steps.one.data.key }}"}
            register: many
          - uses: toy.make
            when: steps.many.changed and steps.many.results | length == 2
            with: {key: "{{ steps.many.results[1].target }}-{{ steps.one.status }}"}
        """, inputs={"names": "k1,k2"})
    assert [r.status.value for r in results] == ["changed"] * 4
    assert toys == [("make", "first", ""), ("make", "k1", "after first"),
                    ("make", "k2", "after first"), ("make", "k2-changed", "")]


def test_rollback_undoes_in_reverse_order(tmp_path: Path, toys: list[Any]) -> None:
    results = run_book(tmp_path, """\
        name: toy
        steps:
          - uses: toy.make
            with: {key: a}
          - uses: toy.make
            with: {key: b}
          - uses: toy.make
            with: {key: c, fail: true}
            on_error: rollback
          - uses: toy.make
            with: {key: never}
        """)
    assert [(r.action, r.status.value) for r in results] == [
        ("toy.make", "changed"), ("toy.make", "changed"), ("toy.make", "failed"),
        ("undo toy.make", "changed"), ("undo toy.make", "changed")]
    assert [r.target for r in results[3:]] == ["b", "a"]
    assert all(r.summary.startswith("undo: unmake ") for r in results[3:])
    assert toys == [("make", "a", ""), ("make", "b", ""), ("unmake", "b"), ("unmake", "a")]


def test_check_run_rolls_back_nothing(tmp_path: Path, toys: list[Any]) -> None:
    results = run_book(tmp_path, """\
        name: toy
        steps:
          - uses: toy.make
            with: {key: a}
          - uses: toy.make
            with: {key: c, fail: true}
            on_error: rollback
        """, check=True)
    assert [(r.action, r.status.value) for r in results] == [
        ("toy.make", "changed"), ("toy.make", "failed")]
    assert toys == []


def test_a_condition_failing_at_run_time_fails_its_step_and_rolls_back(
        tmp_path: Path, toys: list[Any]) -> None:
    results = run_book(tmp_path, """\
        name: toy
        steps:
          - uses: toy.make
            with: {key: a}
            register: a
          - uses: toy.make
            when: steps.a.data.missing == 1
            with: {key: b}
            on_error: rollback
        """)
    assert [(r.action, r.status.value) for r in results] == [
        ("toy.make", "changed"), ("toy.make", "failed"), ("undo toy.make", "changed")]
    assert toys == [("make", "a", ""), ("unmake", "a")]


def test_a_skipped_registered_step_says_skipped(tmp_path: Path, toys: list[Any]) -> None:
    results = run_book(tmp_path, """\
        name: toy
        steps:
          - uses: toy.make
            when: 1 == 2
            with: {key: a}
            register: a
          - uses: toy.make
            with: {key: "after-{{ steps.a.status }}"}
        """)
    assert results[0].status.value == "skipped"
    assert results[-1].status.value == "changed", results[-1].error
    assert results[-1].target == "after-skipped"


def test_rollback_ignores_a_check_only_step(tmp_path: Path, toys: list[Any]) -> None:
    results = run_book(tmp_path, """\
        name: toy
        steps:
          - uses: toy.make
            with: {key: dry}
            check: true
          - uses: toy.make
            with: {key: c, fail: true}
            on_error: rollback
        """)
    assert toys == []  # the check-only step really changed nothing
    assert [(r.action, r.status.value) for r in results] == [
        ("toy.make", "changed"), ("toy.make", "failed")]


def test_a_loop_gets_the_bulk_checks_of_its_action(tmp_path: Path, toys: list[Any]) -> None:
    """The same thing twice in a loop is refused before any item runs, as a bulk
    command refuses it (the action class's batch_problems)."""
    results = run_book(tmp_path, """\
        name: toy
        steps:
          - uses: toy.make
            loop: [a, b, a]
            with: {key: "{{ item }}"}
        """)
    [result] = results
    assert result.failed
    assert "item 3: a again (first at" in (result.error or "")
    assert toys == []  # nothing was made
