"""Second review of issue 12, templates: what a playbook template could still do with a
secret input or build past the sandbox's bounds, and what `validate` got wrong."""

from __future__ import annotations

import pytest

from adminkit.core.errors import ValidationError
from adminkit.core.secrets import Secret
from adminkit.playbook.render import render_value, syntax_error

PASSWORD = "Rev12-Canary-Pw!"

OPENED = [
    pytest.param("{{ inputs.pw.reveal() }}", id="reveal"),
    pytest.param("note: {{ inputs.pw.reveal() }}", id="reveal-in-text"),
    pytest.param("{{ inputs.pw.reveal()[::-1] }}", id="reversed"),
    pytest.param("{{ inputs.pw.reveal()|reverse }}", id="reverse-filter"),
    pytest.param("{{ inputs.pw.reveal()|list|join('.') }}", id="spelt-out"),
    pytest.param("{{ inputs.pw|attr('reveal') }}", id="attr-filter"),
    pytest.param("{{ (inputs.pw.reveal() ~ 'x')[:-1] }}", id="concat-slice"),
]


@pytest.mark.parametrize("template", OPENED)
def test_a_template_cannot_open_a_secret_input(template: str) -> None:
    """A secret input goes through a template whole; the value itself, or a reversed or
    spelt-out copy that redaction cannot recognise, never lands in a plain field."""
    variables = {"inputs": {"pw": Secret(PASSWORD)}}
    try:
        value = render_value(template, variables)
    except ValidationError:
        return
    text = str(value)
    assert PASSWORD not in text and PASSWORD[::-1] not in text, text
    assert ".".join(PASSWORD) not in text, text
    assert "reveal" not in text, text  # not even the bound method's repr


def test_a_secret_input_still_passes_whole() -> None:
    secret = Secret(PASSWORD)
    assert render_value("{{ inputs.pw }}", {"inputs": {"pw": secret}}) is secret
    # inside text it was the plain value "x********", which a field took as given: now
    # refused (a secret passes only whole; tests/unit/test_mendinput_secret_templates.py)
    with pytest.raises(ValidationError, match="can only be passed whole"):
        render_value("x{{ inputs.pw }}", {"inputs": {"pw": secret}})


@pytest.mark.parametrize("template", [
    "{{ '%s-%s' % ('a', 'b') }}",
    "{{ '%s' % ('a',) }}",
    "{{ '%d items' % (3,) }}",
])
def test_validate_accepts_percent_with_a_tuple(template: str) -> None:
    """`validate` computed a constant tuple as a list: `'%s-%s' % ('a', 'b')` was refused
    ("not enough arguments for format string") though every run renders it."""
    assert render_value(template, {}) is not None
    assert syntax_error(template) is None


# -- many values each within the bounds, too big together -------------------------------------
_CHILD = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from adminkit.core.errors import ValidationError
from adminkit.playbook.render import render_value
try:
    value = render_value(sys.argv[1], {"inputs": {"n": 999999}})
except ValidationError as exc:
    print(exc)
else:
    print("rendered", type(value).__name__)
"""

AGGREGATE = [
    pytest.param("{{ [('a' * 999999)] * 999999 }}", id="list-of-big-strings"),
    pytest.param("x{{ [('a' * inputs.n)] * inputs.n }}", id="printed-list-of-big-strings"),
    pytest.param("{{ ([('a' * 999999)] * 999999)|unique|list|length }}", id="unique"),
    pytest.param("{{ ('a' * 999999)|list|map('center', inputs.n)|list|length }}",
                 id="map-center"),
    pytest.param("{% set ns = namespace(l=[]) %}{% for i in range(99999) %}"
                 "{% set ns.l = ns.l + ['a' * inputs.n] %}{% endfor %}{{ ns.l|length }}",
                 id="namespace-growing-list"),
]


@pytest.mark.parametrize("template", AGGREGATE)
def test_many_values_too_big_together_are_refused(template: str) -> None:
    """Every string and list was measured alone: a million references to one string of
    a million characters passed, then printing, `unique` or `map` built a terabyte (out
    of memory, or minutes of CPU). Refused by the sandbox, not by the memory ceiling the
    child runs under."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", _CHILD, template], capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "refused:" in proc.stdout and "out of memory" not in proc.stdout, proc.stdout


@pytest.mark.parametrize(("template", "expected"), [
    pytest.param("{{ ('a' * 999999)|list|length }}", 999999, id="a-million-letters"),
    pytest.param("{{ (['ab'] * 1000)|join(',')|length }}", 2999, id="joined"),
    pytest.param("{% for i in range(9) %}{{ 'x' * 100000 }}{% endfor %}", None,
                 id="loop-output-under-the-bound"),
])
def test_ordinary_big_values_still_render(template: str, expected: object) -> None:
    value = render_value(template, {})
    if expected is not None:
        assert value == expected
