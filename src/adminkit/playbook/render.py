"""Templating in a sandbox. A rendered value is always data for an action's parameter.

Templates come from the reviewed playbook only. Values from people, CSV rows and
tickets enter as variables and are never rendered again, so `{{ … }}` inside a
ticket field stays literal text. Undefined names are errors, not empty strings.
A string that is exactly one `{{ expression }}` keeps the expression's type (a
list of groups stays a list).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from adminkit.core.errors import ValidationError

SINGLE = re.compile(r"^\s*\{\{(?P<expr>.*)\}\}\s*$", re.DOTALL)
ROOTS = ("inputs", "ticket", "steps", "profile", "item", "run")


@lru_cache(maxsize=1)
def environment() -> Any:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Sandbox(ImmutableSandboxedEnvironment):
        """`inputs.items` is the input named items, not `dict.items`: a mapping's keys come
        before its methods. Anything else (a missing key, `_private`) is Jinja's own lookup."""

        def getattr(self, obj: Any, attribute: str) -> Any:
            if isinstance(obj, Mapping) and not attribute.startswith("_") and attribute in obj:
                return obj[attribute]
            return super().getattr(obj, attribute)

    return Sandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


def is_template(value: str) -> bool:
    return "{{" in value or "{%" in value or "{#" in value


def render_value(value: Any, variables: dict[str, Any]) -> Any:
    """Render strings inside `value` (dicts and lists walked); other values pass through."""
    if isinstance(value, str):
        return _render_string(value, variables)
    if isinstance(value, dict):
        return {k: render_value(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, variables) for v in value]
    return value


def _render_string(text: str, variables: dict[str, Any]) -> Any:
    if not is_template(text):
        return text
    from jinja2 import TemplateError, Undefined

    env = environment()
    try:
        single = SINGLE.match(text)
        if single and "}}" not in single.group("expr") and "{{" not in single.group("expr"):
            value = env.compile_expression(single.group("expr"), undefined_to_none=False)(
                **variables)
            if isinstance(value, Undefined):  # an expression hands back Undefined unraised
                value._fail_with_undefined_error()
            return value
        return env.from_string(text).render(**variables)
    except (TemplateError, OverflowError) as exc:
        raise ValidationError(f"template {text!r}: {exc}") from None


def evaluate(condition: str, variables: dict[str, Any]) -> bool:
    from jinja2 import TemplateError, Undefined

    try:
        value = environment().compile_expression(condition, undefined_to_none=False)(
            **variables)
        if isinstance(value, Undefined):
            value._fail_with_undefined_error()
        return bool(value)
    except (TemplateError, OverflowError) as exc:
        raise ValidationError(f"condition {condition!r}: {exc}") from None


def variables_used(text: str, *, expression: bool = False) -> set[str]:
    """Top-level names a template (or a bare expression) refers to; for validation."""
    from jinja2 import meta

    env = environment()
    source = "{{ " + text + " }}" if expression else text
    return set(meta.find_undeclared_variables(env.parse(source)))


def syntax_error(text: str, *, expression: bool = False) -> str | None:
    """Parse and compile: compiling also catches unknown filters and tests."""
    from jinja2 import TemplateError

    try:
        environment().compile("{{ " + text + " }}" if expression else text)
    except TemplateError as exc:
        return exc.message or "syntax error"
    return None
