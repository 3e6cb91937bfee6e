"""A secret input in a playbook template: passed whole to a parameter that takes a
secret, and nothing else. Before, the sandbox refused its attributes (`reveal`) but a
filter, a test or an operator still made it into a plain value (`|string` and text
around it gave "********", which a field took as the value), its length (`|length`,
`|count`, `|wordcount`), its emptiness (`if`), or failed as an internal TypeError.
Each is refused at run time and, where reading the template shows it, by validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from adminkit.core.errors import ConfigError, ValidationError
from adminkit.core.secrets import Secret
from adminkit.playbook.loader import load
from adminkit.playbook.render import evaluate, render_value

PASSWORD = "Mend-Canary-Pw!42"


def variables() -> dict[str, object]:
    return {"inputs": {"pw": Secret(PASSWORD), "name": "jdoe"}, "steps": {}, "ticket": {},
            "profile": {}, "run": {}}


MISUSED = [
    "{{ inputs.pw|length }}", "{{ inputs.pw|count }}", "{{ inputs.pw|wordcount }}",
    "{{ inputs.pw|string }}", "{{ inputs.pw|list|join }}", "{{ inputs.pw|list }}",
    "{{ inputs.pw|first }}", "{{ inputs.pw|last }}", "{{ inputs.pw|reverse }}",
    "{{ inputs.pw|replace('a', 'b') }}", "{{ inputs.pw|join(',') }}",
    "{{ [inputs.pw]|join(',') }}", "{{ inputs.pw|default('x') }}", "{{ inputs.pw|tojson }}",
    "{{ inputs.pw|pprint }}", "{{ inputs.pw|e }}", "{{ inputs.pw|map('upper')|list }}",
    "{{ inputs.pw ~ '' }}", "{{ '' ~ inputs.pw }}", "{{ inputs.pw + 'a' }}",
    "{{ inputs.pw * 2 }}", "{{ '%s' % inputs.pw }}", "{{ '{}'.format(inputs.pw) }}",
    "x{{ inputs.pw }}", "{{ inputs.pw }}{{ inputs.pw }}", "{% set x = inputs.pw %}{{ x }}",
    "{{ inputs.pw[0] }}", "{{ inputs.pw[1:] }}", "{{ inputs['pw'][-1] }}",
    "{% for c in inputs.pw %}{{ c }}{% endfor %}",
    "{{ 'yes' if inputs.pw else 'no' }}", "{{ inputs.pw == 'x' }}", "{{ 'M' in inputs.pw }}",
    "{{ inputs.pw in ['x'] }}", "{{ inputs.pw is string }}", "{{ inputs.pw is eq 'x' }}",
    "{{ inputs.pw is sameas inputs.pw }}", "{{ [inputs.pw] }}", "{{ {'a': inputs.pw} }}",
    "{{ inputs }}", "{{ inputs|dictsort }}", "{{ inputs.values()|list }}",
    "{{ dict(a=inputs.pw) }}", "{{ namespace(a=inputs.pw).a }}",
    "{% macro m(v) %}{{ v }}{% endmacro %}{{ m(inputs.pw) }}",
]


@pytest.mark.parametrize("template", MISUSED)
def test_a_run_refuses_every_use_of_a_secret_but_passing_it_whole(template: str) -> None:
    """test: no filter, test or operator turns the secret into text, its length or a part
    of it; the error says what to do and holds nothing of the value."""
    with pytest.raises(ValidationError) as caught:
        render_value(template, variables())
    message = str(caught.value)
    assert "can only be passed whole" in message, message
    assert PASSWORD not in message and str(len(PASSWORD)) not in message


@pytest.mark.parametrize("condition", ["inputs.pw", "inputs.pw|length > 3", "not inputs.pw",
                                       "inputs.pw and true"])
def test_a_condition_cannot_test_a_secret(condition: str) -> None:
    with pytest.raises(ValidationError, match="can only be passed whole"):
        evaluate(condition, variables())


@pytest.mark.parametrize("template", [
    "{{ inputs.pw }}", "{{ inputs['pw'] }}", " {{ inputs.pw }} ",
    "{{ inputs.pw if inputs.name else inputs.pw }}", "{{ inputs.get('pw') }}"])
def test_a_secret_passed_whole_is_the_secret_itself(template: str) -> None:
    secret = Secret(PASSWORD)
    found = render_value(template, {**variables(), "inputs": {"pw": secret, "name": "jdoe"}})
    assert found is secret


@pytest.mark.parametrize("template", ["{{ inputs.pw is defined }}", "{{ inputs.name|length }}",
                                      "{{ inputs.name ~ '-x' }}"])
def test_what_does_not_look_into_the_secret_still_works(template: str) -> None:
    assert render_value(template, variables()) in (True, 4, "jdoe-x")


BOOK = """\
name: leaky
inputs:
  login: {{type: string}}
  pw: {{type: secret}}
steps:
  - uses: account.unlock
    with:
      login: "{template}"
"""


@pytest.mark.parametrize("template", [
    "{{ inputs.pw|length }}", "len {{ inputs.pw|count }}", "{{ inputs.pw|string }}",
    "{{ inputs.pw ~ '' }}", "x{{ inputs.pw }}", "{{ inputs['pw'][0] }}",
    "{{ 'y' if inputs.pw else 'n' }}"])
def test_validate_refuses_a_secret_used_other_than_whole(tmp_path: Path, template: str) -> None:
    path = tmp_path / "leaky.yaml"
    path.write_text(BOOK.format(template=template.replace('"', '\\"')))
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert "the secret input 'pw' used other than whole" in caught.value.message
    assert "leaky.yaml:8:" in caught.value.message  # the parameter, file:line:col


def test_validate_refuses_a_condition_on_a_secret(tmp_path: Path) -> None:
    path = tmp_path / "leaky.yaml"
    path.write_text(BOOK.format(template="{{ inputs.login }}").replace(
        "    with:\n", "    when: inputs.pw|length > 8\n    with:\n"))
    with pytest.raises(ConfigError, match="the secret input 'pw' used other than whole"):
        load(path)


@pytest.mark.parametrize("template", ["{{ inputs.login }}", "{{ inputs.login|lower }}"])
def test_validate_accepts_templates_that_leave_the_secret_alone(tmp_path: Path,
                                                               template: str) -> None:
    path = tmp_path / "fine.yaml"
    path.write_text(BOOK.format(template=template))
    assert load(path).playbook.name == "leaky"
