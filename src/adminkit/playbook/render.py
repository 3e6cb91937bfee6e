"""Templating in a sandbox. A rendered value is always data for an action's parameter.

Templates come from the reviewed playbook only. Values from people, CSV rows and
tickets enter as variables and are never rendered again, so `{{ … }}` inside a
ticket field stays literal text. Undefined names are errors, not empty strings.
A string that is exactly one `{{ expression }}` keeps the expression's type (a
list of groups stays a list).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from adminkit.core.errors import ValidationError

SINGLE = re.compile(r"^\s*\{\{(?P<expr>.*)\}\}\s*\Z", re.DOTALL)
ROOTS = ("inputs", "ticket", "steps", "profile", "item", "run")


# Python's own limits and failures a template can reach: an int too long to print, a
# recursive macro, a filter given the wrong kind of value. All are the template's fault.
FAILURES: tuple[type[BaseException], ...] = (
    OverflowError, ArithmeticError, ValueError, TypeError, LookupError, RecursionError,
    MemoryError)


def _errors(template_error: type[Exception]) -> tuple[type[BaseException], ...]:
    return (template_error, *FAILURES)


@lru_cache(maxsize=1)
def environment() -> Any:
    from adminkit.playbook.sandbox import make

    return make()


def is_template(value: str) -> bool:
    return "{{" in value or "{%" in value or "{#" in value


def render_value(value: Any, variables: dict[str, Any], where: str = "") -> Any:
    """Render strings inside `value` (dicts and lists walked); other values pass through.
    `where` ("file:line:col: ") starts any error's message."""
    if isinstance(value, str):
        return _render_string(value, variables, where)
    if isinstance(value, dict):
        return {k: render_value(v, variables, where) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, variables, where) for v in value]
    return value


def _render_string(text: str, variables: dict[str, Any], where: str = "") -> Any:
    if not is_template(text):
        return text
    from jinja2 import TemplateError, Undefined

    from adminkit.playbook import sandbox

    env = environment()
    token = sandbox.fresh_budget()
    try:
        single = SINGLE.match(text)
        if single and "}}" not in single.group("expr") and "{{" not in single.group("expr"):
            value = env.compile_expression(single.group("expr"), undefined_to_none=False)(
                **variables)
            if isinstance(value, Undefined):  # an expression hands back Undefined unraised
                value._fail_with_undefined_error()
            return sandbox.check_size(sandbox.unseal(value))
        return _joined(env.from_string(text).generate(**variables))
    except _errors(TemplateError) as exc:
        raise ValidationError(f"{where}template {_cut(text)!r}: {_why(exc)}") from None
    finally:
        sandbox.reset_budget(token)


def _joined(parts: Any) -> str:
    """A template's output, refused once it grows past the bound instead of at the end."""
    from adminkit.playbook import sandbox

    out, size = [], 0
    for part in parts:
        size += len(part)
        if size > sandbox.MAX_SIZE:
            raise sandbox.refuse("output longer than allowed")
        out.append(part)
    return "".join(out)


def _why(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "refused: recursion too deep"
    if isinstance(exc, MemoryError):
        return "refused: out of memory"
    from jinja2 import TemplateError

    if isinstance(exc, TemplateError):
        return str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


def _cut(text: str) -> str:
    return text if len(text) <= 200 else text[:197] + "..."


def evaluate(condition: str, variables: dict[str, Any], where: str = "") -> bool:
    from jinja2 import TemplateError, Undefined

    from adminkit.playbook import sandbox

    token = sandbox.fresh_budget()
    try:
        value = environment().compile_expression(condition, undefined_to_none=False)(
            **variables)
        if isinstance(value, Undefined):
            value._fail_with_undefined_error()
        sandbox.no_secret("the truth of", value)
        return bool(value)
    except _errors(TemplateError) as exc:
        raise ValidationError(f"{where}condition {_cut(condition)!r}: {_why(exc)}") from None
    finally:
        sandbox.reset_budget(token)


def variables_used(text: str, *, expression: bool = False) -> set[str]:
    """Top-level names a template (or a bare expression) refers to; for validation."""
    from jinja2 import meta

    env = environment()
    source = "{{ " + text + " }}" if expression else text
    return set(meta.find_undeclared_variables(env.parse(source)))


def attributes_used(text: str, *, expression: bool = False) -> list[tuple[str, str]]:
    """(root, attribute) pairs such as ("inputs", "surname") a template (or a bare
    expression) reads: `inputs.surname` and `inputs["surname"]`; for validation."""
    from jinja2 import nodes

    ast = environment().parse("{{ " + text + " }}" if expression else text)
    pairs = []
    for node in ast.find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name):
            pairs.append((node.node.name, node.attr))
    for node in ast.find_all(nodes.Getitem):
        if isinstance(node.node, nodes.Name) and isinstance(node.arg, nodes.Const) and \
                isinstance(node.arg.value, str):
            pairs.append((node.node.name, node.arg.value))
    return pairs


def syntax_error(text: str, *, expression: bool = False) -> str | None:
    """Parse and compile (which also catches unknown filters and tests), then what the
    sandbox would refuse at run time that reading the template already shows."""
    from jinja2 import TemplateError

    from adminkit.playbook.templatecheck import static_problems

    env = environment()
    source = "{{ " + text + " }}" if expression else text
    try:
        problems = static_problems(env, env.parse(source))
        if problems:
            return "; ".join(problems)
        env.compile(source)
    except TemplateError as exc:
        return exc.message or "syntax error"
    except FAILURES as exc:
        return _why(exc)
    return None


def secret_misuse(text: str, secrets: set[str], *, expression: bool = False) -> str | None:
    """Why a template that names a secret input would be refused at run time, if it would
    (`templatecheck.secret_misuse`)."""
    from adminkit.playbook.templatecheck import secret_misuse as check

    return check(environment().parse("{{ " + text + " }}" if expression else text), secrets,
                 expression=expression)
