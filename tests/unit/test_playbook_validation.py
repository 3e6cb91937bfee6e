"""Playbook validation: every mistake is reported as FILE:LINE:COL with a telling phrase.

Each case writes a small broken playbook and computes the expected position from the
text itself (`where(text, needle)`), so a test cannot drift from the file it wrote.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adminkit.core.errors import ConfigError
from adminkit.playbook.loader import load

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted((REPO / "playbooks").glob("*.yaml"))


def where(text: str, needle: str, occurrence: int = 1) -> tuple[int, int]:
    """1-based line and column of the `occurrence`-th `needle` in `text`."""
    index = -1
    for _ in range(occurrence):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


def write(tmp_path: Path, text: str, name: str = "book.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load(path)
    return info.value.message


# (id, playbook text, needle the problem must point at, which occurrence, phrase)
CASES: list[tuple[str, str, str, int, str]] = [
    ("bad yaml syntax", """\
name: broken
steps:
  - uses: account.unlock: now
    with: {login: jdoe}
""", ": now", 1, "not valid YAML: mapping values are not allowed here"),
    ("bad yaml flow mapping", """\
name: broken
steps:
  - uses: account.unlock
    with: {login: jdoe]
""", "]", 1, "not valid YAML: expected ',' or '}'"),
    ("tab indentation", """\
name: broken
steps:
  - uses: account.unlock
\twith: {login: jdoe}
""", "\t", 1, "not valid YAML: found character '\\t' that cannot start any token"),
    ("duplicate key", """\
name: dup
steps:
  - uses: account.unlock
    with: {login: jdoe}
    with: {login: other}
""", "with", 2, "duplicate key 'with'"),
    ("duplicate top-level key", """\
name: one
steps:
  - uses: account.unlock
    with: {login: jdoe}
name: two
""", "name", 2, "duplicate key 'name'"),
    ("unknown top-level key", """\
name: typo
descripton: misspelt
steps:
  - uses: account.unlock
    with: {login: jdoe}
""", "descripton", 1, "descripton: unknown key"),
    ("unknown step key", """\
name: typo
steps:
  - uses: account.unlock
    wiht: {login: jdoe}
""", "wiht", 1, "steps.0.wiht: unknown key"),
    ("on_error of the wrong kind", """\
name: sometimes
steps:
  - uses: account.unlock
    with: {login: jdoe}
    on_error: sometimes
""", "on_error", 1, "steps.0.on_error: Input should be 'stop', 'continue' or 'rollback'"),
    ("steps is not a list", """\
name: five
steps: 5
""", "steps", 1, "steps: Input should be a valid list"),
    ("steps is empty", """\
name: empty
steps: []
""", "steps", 1, "steps: List should have at least 1 item"),
    ("missing steps", """\
name: nothing
description: no steps at all
""", "name", 1, "steps: Field required"),
    ("missing name", """\
description: nameless
steps:
  - uses: account.unlock
    with: {login: jdoe}
""", "description", 1, "name: Field required"),
    ("bad playbook name", """\
name: Not A Slug
steps:
  - uses: account.unlock
    with: {login: jdoe}
""", "name", 1, "name: String should match pattern"),
    ("unknown action", """\
name: frob
steps:
  - uses: account.unlock
    with: {login: jdoe}
  - uses: account.frobnicate
    with: {login: jdoe}
""", "uses", 2, "unknown action 'account.frobnicate' (known: account.create"),
    ("unknown action parameter", """\
name: colour
steps:
  - uses: account.unlock
    with: {login: jdoe, colour: red}
""", "colour:", 1, "account.unlock has no parameter 'colour' (it takes: login)"),
    ("missing required action parameter", """\
name: needs-login
steps:
  - uses: account.groups
    with:
      add: [Staff-All]
""", "uses", 1, "account.groups needs login"),
    ("literal parameter of the wrong type", """\
name: maybe
steps:
  - uses: account.password
    with:
      login: jdoe
      must_change: maybe
""", "must_change", 1, "account.password must_change: Input should be a valid boolean"),
    ("literal list given as a string", """\
name: groups
steps:
  - uses: account.groups
    with: {login: jdoe, add: Staff-All}
""", "add", 1, "account.groups add: Input should be a valid list"),
    ("literal outside a Literal's choices", """\
name: report
steps:
  - uses: account.report
    with: {kind: everything}
""", "kind", 1, "account.report kind: Input should be 'inactive'"),
    ("template syntax error", """\
name: syntax
inputs:
  login: {}
steps:
  - uses: account.unlock
    with:
      login: "{{ inputs.login "
""", "login", 2, "template syntax: unexpected end of template"),
    ("template syntax error in a statement", """\
name: syntax
steps:
  - uses: account.unlock
    with:
      login: "{% if %}x{% endif %}"
""", "login", 1, "template syntax: Expected an expression"),
    ("unclosed template comment", """\
name: syntax
steps:
  - uses: account.unlock
    with: {login: "jdoe{# note"}
""", "login", 1, "template syntax: Missing end of comment tag"),
    ("when is not an expression", """\
name: when
inputs:
  x: {type: int}
steps:
  - uses: account.unlock
    when: inputs.x ==
    with: {login: jdoe}
""", "when:", 1, "template syntax"),
    ("undefined variable", """\
name: undefined
steps:
  - uses: account.unlock
    with:
      login: "{{ foo }}"
""", "login", 1, "undefined variable 'foo' (use inputs., ticket., steps., profile. or item)"),
    ("undefined variable deep in a value", """\
name: undefined
steps:
  - uses: account.set
    with:
      login: jdoe
      values:
        description:
          - fine
          - "{{ nope }}"
""", '"{{ nope }}"', 1, "undefined variable 'nope'"),
    ("undefined input", """\
name: undefined-input
inputs:
  login: {}
steps:
  - uses: account.unlock
    with:
      login: "{{ inputs.nope }}"
""", "login", 2, "undefined input 'nope' (inputs: login)"),
    ("undefined input by subscript", """\
name: undefined-input
inputs:
  login: {}
steps:
  - uses: account.unlock
    with:
      login: "{{ inputs['nope'] }}"
""", "login", 2, "undefined input 'nope'"),
    ("undefined input in a condition", """\
name: undefined-input
steps:
  - uses: account.unlock
    when: inputs.ghost
    with: {login: jdoe}
""", "when", 1, "undefined input 'ghost' (inputs: none)"),
    ("steps.X used before it is registered", """\
name: order
steps:
  - uses: account.unlock
    with:
      login: "{{ steps.later.data.login }}"
  - uses: account.unlock
    with: {login: jdoe}
    register: later
""", "login", 1, "steps.later is not registered by an earlier step"),
    ("a step using its own registered result", """\
name: selfish
steps:
  - uses: account.unlock
    register: me
    with:
      login: "{{ steps.me.data.login }}"
""", "login", 1, "steps.me is not registered by an earlier step"),
    ("item outside a loop", """\
name: no-loop
steps:
  - uses: account.unlock
    with:
      login: "{{ item }}"
""", "login", 1, "`item` is only defined in a step with loop or for_each"),
    ("item in the loop expression itself", """\
name: no-loop
steps:
  - uses: account.unlock
    loop: "{{ item }}"
    with:
      login: "{{ item }}"
""", "loop:", 1, "`item` is only defined in a step with loop or for_each"),
    ("duplicate register", """\
name: twice
steps:
  - uses: account.unlock
    with: {login: a}
    register: acct
  - uses: account.unlock
    with: {login: b}
    register: acct
""", "register", 2, "'acct' is already registered by an earlier step"),
    ("register name not an identifier", """\
name: reg
steps:
  - uses: account.unlock
    with: {login: a}
    register: Bad-Name
""", "register", 1, "steps.0.register: String should match pattern"),
    ("enum input without choices", """\
name: enum
inputs:
  colour: {type: enum}
steps:
  - uses: account.unlock
    with: {login: jdoe}
""", "type", 1, "input colour: an enum needs choices"),
    ("enum input with an empty choice list", """\
name: enum
inputs:
  colour: {type: enum, choices: []}
steps:
  - uses: account.unlock
    with: {login: jdoe}
""", "choices", 1, "an enum needs at least one choice"),
    ("bad input pattern", """\
name: pattern
inputs:
  login: {pattern: "[a-"}
steps:
  - uses: account.unlock
    with: {login: "{{ inputs.login }}"}
""", "pattern:", 1, "bad pattern: unterminated character set"),
    ("unknown input type", """\
name: types
inputs:
  n: {type: number}
steps:
  - uses: account.unlock
    with: {login: jdoe}
""", "type:", 1, "inputs.n.type: Input should be 'string', 'int'"),
    ("loop and for_each together", """\
name: both
steps:
  - uses: account.unlock
    loop: [a, b]
    for_each: {csv: rows.csv}
    with: {login: "{{ item }}"}
""", "loop", 1, "give loop or for_each, not both"),
    ("with is not a mapping", """\
name: with-list
steps:
  - uses: account.unlock
    with: [login]
""", "with:", 1, "steps.0.with: Input should be a valid dictionary"),
]


@pytest.mark.parametrize(("text", "needle", "occurrence", "phrase"),
                         [pytest.param(t, n, o, p, id=i) for i, t, n, o, p in CASES])
def test_mistake_points_to_file_line_col(tmp_path: Path, text: str, needle: str,
                                         occurrence: int, phrase: str) -> None:
    path = write(tmp_path, text)
    line, col = where(text, needle, occurrence)
    message = problems_of(path)
    assert f"{path}:{line}:{col}: " in message, message
    assert phrase in message, message
    # the phrase is on the line that carries the position
    [hit] = [ln for ln in message.splitlines() if f"{path}:{line}:{col}: " in ln and phrase in ln]
    assert hit


def test_at_least_ten_kinds_are_covered() -> None:
    assert len({phrase.split(":")[0] for _, _, _, _, phrase in CASES}) >= 10


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = textwrap.dedent("""\
        name: many
        inputs:
          login: {}
        steps:
          - uses: account.frobnicate
            with: {login: jdoe}
          - uses: account.unlock
            with:
              login: "{{ inputs.nope }}"
              colour: red
          - uses: account.unlock
            when: item == 'x'
            with: {login: "{{ steps.ghost.data.login }}"}
        """)
    path = write(tmp_path, text)
    message = problems_of(path)
    assert message.startswith(f"{path}: 5 problem(s)")
    expected = [
        (where(text, "uses", 1), "unknown action 'account.frobnicate'"),
        (where(text, "login", 3), "undefined input 'nope'"),
        (where(text, "colour"), "has no parameter 'colour'"),
        (where(text, "when"), "`item` is only defined"),
        (where(text, "login", 4), "steps.ghost is not registered"),
    ]
    for (line, col), phrase in expected:
        assert any(f"{path}:{line}:{col}: " in ln and phrase in ln
                   for ln in message.splitlines()), (line, col, phrase, message)


def test_schema_and_checker_problems_are_reported_together(tmp_path: Path) -> None:
    text = textwrap.dedent("""\
        name: both-phases
        steps:
          - uses: account.unlock
            with: {login: jdoe}
            on_error: sometimes
          - uses: account.frobnicate
            with: {login: jdoe}
        """)
    path = write(tmp_path, text)
    message = problems_of(path)
    assert f"{path}:{where(text, 'on_error')[0]}:" in message
    assert "unknown action 'account.frobnicate'" in message


def test_a_list_is_not_a_playbook(tmp_path: Path) -> None:
    path = write(tmp_path, "- uses: account.unlock\n")
    assert f"{path}:1:1: a playbook is a mapping" in problems_of(path)


def test_an_empty_file_needs_name_and_steps(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    message = problems_of(path)
    assert f"{path}:1:1: name: Field required" in message
    assert f"{path}:1:1: steps: Field required" in message


def test_a_valid_playbook_loads(tmp_path: Path) -> None:
    text = textwrap.dedent("""\
        name: fine
        inputs:
          login: {type: string, pattern: "[a-z][a-z0-9.]*"}
          groups: {type: list, required: false, default: []}
        steps:
          - uses: account.create
            with: {given_name: A, surname: B, deliver: "file:/tmp/x"}
            register: acct
          - uses: account.groups
            when: inputs.groups | length > 0 and steps.acct.changed
            with: {login: "{{ steps.acct.data.login }}", add: "{{ inputs.groups }}"}
            on_error: rollback
          - uses: account.unlock
            loop: "{{ inputs.groups }}"
            with: {login: "{{ item }}-{{ profile.name }}-{{ run.id }}-{{ ticket.id }}"}
            on_error: continue
          - uses: account.disable
            for_each: {csv: "/tmp/{{ inputs.login }}.csv"}
            with: {login: "{% set who = item.login %}{{ who }}"}
        """)
    loaded = load(write(tmp_path, text))
    assert [s.uses for s in loaded.playbook.steps] == [
        "account.create", "account.groups", "account.unlock", "account.disable"]
    assert loaded.playbook.steps[0].register_ == "acct"


def test_a_cached_playbook_is_parsed_once_per_content(tmp_path: Path) -> None:
    """serve loads the rule's playbook for every trigger: the same bytes give the same
    parsed playbook; an edit is seen at once, and a broken edit is refused as by load."""
    from adminkit.playbook.loader import load_cached

    path = write(tmp_path, "name: one\nsteps:\n  - uses: account.unlock\n"
                           "    with: {login: x}\n")
    first = load_cached(path)
    assert load_cached(path) is first
    assert first.source.digest == load(path).source.digest
    path.write_text("name: two\nsteps:\n  - uses: account.unlock\n    with: {login: y}\n")
    second = load_cached(path)
    assert second.playbook.name == "two" and second.source.digest == load(path).source.digest
    path.write_text("name: three\nsteps: {not: a list}\n")
    with pytest.raises(ConfigError):
        load_cached(path)
    path.write_text("name: two\nsteps:\n  - uses: account.unlock\n    with: {login: y}\n")
    assert load_cached(path) is second  # the broken one was never kept


# -- the limits of the YAML reader (adminkit.core.yamlsource) --------------------------

def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 7):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    path = write(tmp_path, "\n".join(lines) + "\nname: bomb\nsteps: []\n")
    message = problems_of(path)
    assert f"{path}:" in message and "(alias expansion?)" in message


def test_huge_file_is_refused(tmp_path: Path) -> None:
    from adminkit.core.yamlsource import MAX_BYTES

    path = write(tmp_path, "name: huge\ndescription: '" + "a" * MAX_BYTES + "'\nsteps: []\n")
    assert f"{path}: file is larger than {MAX_BYTES} bytes" in problems_of(path)


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    text = "name: deep\nsteps: " + "[" * 40 + "]" * 40 + "\n"
    path = write(tmp_path, text)
    assert "nested deeper than 32 levels" in problems_of(path)


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert "cannot read" in problems_of(missing)


# -- regressions: each of these once marked a defect in src/ ----------------------------

def test_unknown_filter_is_a_positioned_problem(tmp_path: Path) -> None:
    text = textwrap.dedent("""\
        name: filter
        inputs:
          login: {}
        steps:
          - uses: account.unlock
            with:
              login: "{{ inputs.login | frobnicate }}"
        """)
    path = write(tmp_path, text)
    line, col = where(text, "login", 2)
    message = problems_of(path)
    assert f"{path}:{line}:{col}: " in message and "frobnicate" in message


def test_unknown_test_in_when_is_a_positioned_problem(tmp_path: Path) -> None:
    text = textwrap.dedent("""\
        name: jinja-test
        inputs:
          login: {}
        steps:
          - uses: account.unlock
            when: inputs.login is frobbed
            with: {login: "{{ inputs.login }}"}
        """)
    path = write(tmp_path, text)
    line, col = where(text, "when")
    message = problems_of(path)
    assert f"{path}:{line}:{col}: " in message and "frobbed" in message


LITERAL_CONSTRAINTS = [
    pytest.param("account.report", "{kind: inactive, days: 0}", "days",
                 "greater than or equal to 1", id="report days below ge=1"),
    pytest.param("account.unlock", "{login: ''}", "login", "at least 1 character",
                 id="empty login (min_length)"),
    pytest.param("account.create",
                 "{given_name: A, surname: B, mail: not-an-address, deliver: mail}", "mail",
                 "should match pattern", id="mail not matching the pattern"),
    pytest.param("account.move", "{login: ' jdoe', ou: 'OU=Staff'}", "login",
                 "leading or trailing spaces", id="login with a leading space (validator)"),
]


@pytest.mark.parametrize(("uses", "with_", "key", "phrase"), LITERAL_CONSTRAINTS)
def test_literal_parameter_constraints_are_checked(tmp_path: Path, uses: str, with_: str,
                                                   key: str, phrase: str) -> None:
    text = f"name: literal\nsteps:\n  - uses: {uses}\n    with: {with_}\n"
    path = write(tmp_path, text)
    line, col = where(text, key + ":")
    message = problems_of(path)
    assert f"{path}:{line}:{col}: " in message and phrase in message


def test_input_default_of_the_wrong_type(tmp_path: Path) -> None:
    text = textwrap.dedent("""\
        name: defaults
        inputs:
          days: {type: int, required: false, default: abc}
        steps:
          - uses: account.report
            with: {kind: inactive, days: "{{ inputs.days }}"}
        """)
    path = write(tmp_path, text)
    line, col = where(text, "default:")  # not "defaults" in the name
    message = problems_of(path)
    assert f"{path}:{line}:{col}: input days default: 'abc' is not a whole number" in message


def test_bad_input_name_points_at_the_name(tmp_path: Path) -> None:
    text = "name: names\ninputs:\n  Bad: {}\nsteps:\n  - uses: account.unlock\n" \
           "    with: {login: jdoe}\n"
    path = write(tmp_path, text)
    line, col = where(text, "Bad")
    message = problems_of(path)
    assert "input names must be lower_case identifiers: Bad" in message
    assert f"{path}:{line}:{col}: " in message



def test_a_part_that_fails_the_schema_is_not_checked_but_its_name_counts(
        tmp_path: Path) -> None:
    text = textwrap.dedent("""\
        name: parts
        inputs:
          Bad: {type: int, default: abc}
          login: {type: sometype}
        steps:
          - uses: account.frobnicate
            on_error: sometimes
            register: first
          - uses: account.unlock
            with: {login: "{{ inputs.login }}-{{ steps.first.data.login }}"}
        """)
    path = write(tmp_path, text)
    message = problems_of(path)
    assert message.startswith(f"{path}: 3 problem(s)"), message
    assert "input names must be lower_case identifiers: Bad" in message
    for needle, phrase in (("Bad", "inputs.Bad: "),
                           ("type: sometype", "inputs.login.type: Input should be"),
                           ("on_error", "steps.0.on_error: Input should be")):
        line, col = where(text, needle)
        assert f"{path}:{line}:{col}: {phrase}" in message, (needle, message)


@pytest.mark.parametrize(("spec", "phrase"), [
    ("{type: date, default: 31.1.2026}", "is not a date"),
    ("{type: enum, choices: [a, b], default: c}", "'c' is not one of a, b"),
    ("{type: list, pattern: '[a-z]+', default: [ok, Ops]}", "'Ops' does not match"),
    ("{type: bool, default: maybe}", "is not true or false"),
])
def test_input_defaults_are_checked_against_the_type(tmp_path: Path, spec: str,
                                                     phrase: str) -> None:
    text = f"name: defaults\ninputs:\n  x: {spec}\nsteps:\n  - uses: account.unlock\n" \
           "    with: {login: jdoe}\n"
    path = write(tmp_path, text)
    line, col = where(text, "default:")
    message = problems_of(path)
    assert f"{path}:{line}:{col}: input x default: " in message and phrase in message


def test_good_defaults_and_inputs_named_like_dict_methods_load(tmp_path: Path) -> None:
    text = textwrap.dedent("""\
        name: fine-defaults
        inputs:
          items: {type: list, required: false, default: "Staff, Ops"}
          keys: {type: date, required: false, default: 2026-01-31}
          values: {type: bool, required: false, default: yes}
        steps:
          - uses: account.unlock
            loop: "{{ inputs.items }}"
            when: inputs.values and inputs['keys']
            with: {login: "{{ item }}"}
        """)
    assert list(load(write(tmp_path, text)).playbook.inputs) == ["items", "keys", "values"]


# -- the CLI ---------------------------------------------------------------------------

def test_cli_validate_exits_2_with_positions_and_no_traceback(
        tmp_path: Path, cli: Callable[..., Any]) -> None:
    text = textwrap.dedent("""\
        name: cli
        steps:
          - uses: account.unlock
            with: {login: jdoe, colour: red}
          - uses: account.frobnicate
            with: {login: jdoe}
        """)
    path = write(tmp_path, text)
    r = cli("playbook", "validate", str(path))
    assert r.code == 2, r
    for needle, phrase in (("uses: account.frob", "unknown action 'account.frobnicate'"),
                           ("colour:", "has no parameter 'colour'")):
        line, col = where(text, needle)
        assert any(f"{path}:{line}:{col}: " in ln and phrase in ln
                   for ln in r.err.splitlines()), (needle, r.err)
    assert "Traceback" not in r.err + r.out
    assert "valid (" not in r.out


def test_cli_validate_a_yaml_error_exits_2(tmp_path: Path, cli: Callable[..., Any]) -> None:
    text = "name: x\nsteps:\n  - uses: account.unlock: now\n"
    path = write(tmp_path, text)
    r = cli("playbook", "validate", str(path))
    line, col = where(text, ": now")
    assert r.code == 2 and f"{path}:{line}:{col}: not valid YAML" in r.err
    assert "Traceback" not in r.err


def test_cli_validate_a_missing_file_exits_2(tmp_path: Path, cli: Callable[..., Any]) -> None:
    r = cli("playbook", "validate", str(tmp_path / "ghost.yaml"))
    assert r.code == 2 and "no playbook file" in r.err


def test_cli_validate_unknown_filter_exits_2(tmp_path: Path, cli: Callable[..., Any]) -> None:
    text = "name: x\nsteps:\n  - uses: account.unlock\n    with: {login: \"{{ 'a' | nope }}\"}\n"
    path = write(tmp_path, text)
    r = cli("playbook", "validate", str(path))
    line, col = where(text, "login")
    assert r.code == 2 and f"{path}:{line}:{col}: " in r.err


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_playbook_validates(path: Path, cli: Callable[..., Any]) -> None:
    loaded = load(path)
    assert loaded.playbook.name == path.stem
    r = cli("playbook", "validate", path.stem)  # by name, through the search path
    assert r.code == 0, r.err
    assert f"valid ({len(loaded.playbook.steps)} steps)" in r.out


def test_the_six_playbooks_are_shipped() -> None:
    assert {p.stem for p in SHIPPED} >= {
        "onboard-user", "offboard-user", "reset-password", "unlock-account",
        "disable-inactive-accounts", "bulk-onboard"}


def test_cli_list_shows_every_shipped_playbook_as_valid(cli: Callable[..., Any]) -> None:
    r = cli("-o", "json", "playbook", "list")
    assert r.code == 0, r.err
    rows = {row["name"]: row for row in json.loads(r.out)}
    for path in SHIPPED:
        assert path.stem in rows
        assert not rows[path.stem]["description"].startswith("INVALID")
    assert rows["onboard-user"]["inputs"].startswith("given_name, surname, mail?")


def test_cli_list_marks_an_invalid_own_playbook(env: Any, cli: Callable[..., Any]) -> None:
    own = env.config / "playbooks"
    own.mkdir()
    (own / "broken.yaml").write_text("name: broken\nsteps: 5\n")
    r = cli("-o", "json", "playbook", "list")
    assert r.code == 0, r.err
    rows = {row["name"]: row for row in json.loads(r.out)}
    assert rows["broken"]["description"].startswith("INVALID")


def test_cli_schema_is_json_schema_with_the_step_fields(cli: Callable[..., Any]) -> None:
    r = cli("playbook", "schema")
    assert r.code == 0, r.err
    schema = json.loads(r.out)
    assert schema["type"] == "object"
    assert set(schema["required"]) == {"name", "steps"}
    assert schema["additionalProperties"] is False
    step = schema["$defs"]["Step"]
    assert {"name", "uses", "with", "when", "loop", "for_each", "register", "on_error",
            "check", "tags"} <= set(step["properties"])
    assert step["required"] == ["uses"]
    assert step["properties"]["on_error"]["enum"] == ["stop", "continue", "rollback"]
    assert step["additionalProperties"] is False
    assert set(schema["$defs"]["InputSpec"]["properties"]["type"]["enum"]) == {
        "string", "int", "bool", "date", "email", "enum", "list", "secret"}


def test_cli_show_prints_the_file(cli: Callable[..., Any]) -> None:
    r = cli("playbook", "show", "unlock-account")
    assert r.code == 0
    assert r.out == (REPO / "playbooks" / "unlock-account.yaml").read_text()


# -- inputs and approval are checked before anything runs ---------------------------------------

@pytest.mark.parametrize(("args", "phrase"), [
    (["-i", "surname=Čermák"], "input given_name is required"),
    (["-i", "given_name=Jiří", "-i", "surname=Čermák", "-i", "colour=red"],
     "unknown input 'colour'"),
    (["-i", "given_name=Jiří", "-i", "surname=Čermák", "-i", "mail=not-an-address"],
     "input mail: 'not-an-address' is not an e-mail address"),
    (["-i", "given_name=Jiří", "-i", "surname=Čermák", "-i", "deliver=carrier-pigeon"],
     "input deliver: 'carrier-pigeon' does not match"),
    (["-i", "given_name"], "--input 'given_name': expected NAME=VALUE"),
])
def test_cli_run_refuses_bad_inputs_before_anything(env: Any, cli: Callable[..., Any],
                                                    args: list[str], phrase: str) -> None:
    r = cli("run", "onboard-user", *args)
    assert r.code == 2, r
    assert phrase in r.err
    assert "Traceback" not in r.err
    assert not env.journal.exists()  # no run was even started


def test_cli_run_inputs_file(env: Any, tmp_path: Path, cli: Callable[..., Any]) -> None:
    inputs = write(tmp_path, "given_name: Jiří\nsurname: Čermák\ngroups: [a, \"b\\nc\"]\n",
                   "inputs.yaml")
    r = cli("run", "onboard-user", "--inputs", str(inputs))
    assert r.code == 2 and "input groups: contains a control character" in r.err
    inputs.write_text("- not a mapping\n")
    r = cli("run", "onboard-user", "--inputs", str(inputs))
    assert r.code == 2 and "inputs must be a mapping" in r.err


def test_cli_run_requires_approval(env: Any, tmp_path: Path, cli: Callable[..., Any]) -> None:
    path = write(tmp_path, textwrap.dedent("""\
        name: guarded
        requires_approval: true
        inputs:
          login: {}
        steps:
          - uses: account.disable
            with: {login: "{{ inputs.login }}"}
        """))
    r = cli("run", str(path), "-i", "login=jdoe")
    assert r.code == 4, r
    assert "playbook guarded requires approval" in r.err and "--approved-by" in r.err
    assert not env.journal.exists()
