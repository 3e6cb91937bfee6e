"""What `playbook validate` can tell of a template by reading it, before any run.

The sandbox refuses these at run time too; reading them out of the template lets
validation name them with file:line:col first: `_private` attributes, macros that
call themselves, and constant expressions past the sandbox's bounds (computed here
under the same checks, since the sandbox no longer lets Jinja fold them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jinja2 import nodes

from adminkit.playbook.sandbox import COUNTED, Sandbox, TooBig, check_binop, check_size


class _NotConst(Exception):
    pass


_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "/": lambda a, b: a / b, "//": lambda a, b: a // b, "%": lambda a, b: a % b,
    "**": lambda a, b: a**b}


def _const(env: Sandbox, node: nodes.Node) -> Any:
    """The value of a constant expression, computed under the same bounds as a run."""
    if isinstance(node, nodes.Const):
        return node.value
    if isinstance(node, nodes.List):
        return [_const(env, item) for item in node.items]
    if isinstance(node, nodes.Tuple):  # a tuple, as at run time: `'%s-%s' % ('a', 'b')`
        return tuple(_const(env, item) for item in node.items)
    if isinstance(node, nodes.BinExpr) and node.operator in _BINOPS:
        left, right = _const(env, node.left), _const(env, node.right)
        check_binop(node.operator, left, right)
        return check_size(_BINOPS[node.operator](left, right))
    if isinstance(node, nodes.Neg | nodes.Pos):
        value = _const(env, node.node)
        return -value if isinstance(node, nodes.Neg) else +value
    if isinstance(node, nodes.Concat):
        return env.concat_checked(tuple(_const(env, n) for n in node.nodes))
    if isinstance(node, nodes.Filter) and node.node is not None and not node.dyn_args and \
            not node.dyn_kwargs and node.name in env.filters and node.name != COUNTED:
        func = env.filters[node.name]
        passes = getattr(func, "jinja_pass_arg", None)
        first: tuple[Any, ...] = ()
        if passes is not None:
            if passes.name == "eval_context":
                first = (nodes.EvalContext(env),)
            elif passes.name == "environment":
                first = (env,)
            else:
                raise _NotConst
        args = [_const(env, a) for a in node.args]
        kwargs = {str(k.key): _const(env, k.value) for k in node.kwargs}
        return func(*first, _const(env, node.node), *args, **kwargs)
    raise _NotConst


def _constant_problems(env: Sandbox, node: nodes.Node, found: list[str]) -> None:
    if isinstance(node, nodes.Expr) and not isinstance(node, nodes.Const | nodes.Name):
        try:
            _const(env, node)
            return  # computable, within the bounds
        except _NotConst:
            pass
        except TooBig as exc:
            found.append(str(exc.message))
            return
        except (ArithmeticError, TypeError, ValueError, LookupError) as exc:
            found.append(f"cannot be computed: {type(exc).__name__}: {exc}")
            return
        except Exception:  # noqa: BLE001, S110 - a filter's own failure shows at run time
            pass
    for child in node.iter_child_nodes():
        _constant_problems(env, child, found)


def _private(ast: nodes.Template) -> list[str]:
    names: list[str] = []
    for node in ast.find_all(nodes.Getattr):
        names.append(node.attr)
    for item in ast.find_all(nodes.Getitem):
        if isinstance(item.arg, nodes.Const) and isinstance(item.arg.value, str):
            names.append(item.arg.value)
    for flt in ast.find_all(nodes.Filter):
        if flt.name == "attr" and flt.args and isinstance(flt.args[0], nodes.Const):
            names.append(str(flt.args[0].value))
    return [f"refused: {name!r} is not reachable from a template (names starting with _ "
            "are Python's internals)" for name in dict.fromkeys(names) if name.startswith("_")]


def _recursion(ast: nodes.Template) -> list[str]:
    macros = {m.name: m for m in ast.find_all(nodes.Macro)}
    calls = {name: {c.node.name for c in m.find_all(nodes.Call)
                    if isinstance(c.node, nodes.Name) and c.node.name in macros}
             for name, m in macros.items()}
    found = []
    for start in macros:
        seen, todo = set(), list(calls[start])
        while todo:
            name = todo.pop()
            if name == start:
                found.append(f"refused: macro {start!r} calls itself (recursion)")
                break
            if name not in seen:
                seen.add(name)
                todo.extend(calls[name])
    return found


def static_problems(env: Sandbox, ast: nodes.Template) -> list[str]:
    """What a template would be refused for at run time, found by reading it: private
    attributes, recursive macros, constant expressions past the bounds."""
    found = _private(ast) + _recursion(ast)
    _constant_problems(env, ast, found)
    return found


def secret_misuse(ast: nodes.Template, secrets: set[str], *, expression: bool) -> str | None:
    """A secret input used other than whole, which a run refuses (`Sealed`): the
    template must be `{{ inputs.NAME }}` alone (or a choice between such), never in
    text, a condition, a filter, a test or an operator."""
    whole: set[int] = set()
    body = ast.body
    if not expression and len(body) == 1 and isinstance(body[0], nodes.Output) and \
            len(body[0].nodes) == 1 and not isinstance(body[0].nodes[0], nodes.TemplateData):
        todo: list[nodes.Expr | None] = [body[0].nodes[0]]
        while todo:
            expr = todo.pop()
            if isinstance(expr, nodes.CondExpr):
                todo += [expr.expr1, expr.expr2]
            elif expr is not None:
                whole.add(id(expr))
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        assert isinstance(node, nodes.Getattr | nodes.Getitem)
        if not (isinstance(node.node, nodes.Name) and node.node.name == "inputs"):
            continue
        key = node.arg if isinstance(node, nodes.Getitem) else None
        name = node.attr if isinstance(node, nodes.Getattr) else \
            key.value if isinstance(key, nodes.Const) else None
        if name in secrets and id(node) not in whole:
            return (f"refused: the secret input {name!r} used other than whole; a secret "
                    "can only be passed as `{{ inputs." + str(name) + " }}` alone to a "
                    "parameter that takes a secret (no filter, test, operator or text "
                    "around it)")
    return None
