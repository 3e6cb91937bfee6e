"""The lab Graph fake's OData `$filter`: parsed into a tree, evaluated against an entity.

A real parser (not a regular expression), so a value that smuggles filter syntax
(`' or 1 eq 1`) either stays inside its string literal or fails to parse, as on Graph;
the fake records each request's tree, and tests read it back to prove that no query
widened. The subset is what Graph supports on users and groups: `eq`, `ne`, `ge`, `le`,
`gt`, `lt`, `in`, `startswith`, `endswith`, `and`, `or`, `not`, string literals with
`''` for a quote, `true`/`false`/`null` and ISO date-times. `ne`, `not` and `endswith`
are advanced queries (ConsistencyLevel: eventual and `$count=true`, else 400).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

ADVANCED = frozenset({"ne", "not", "endswith"})
_TOKEN = re.compile(r"""\s*(?:
    (?P<str>'(?:[^']|'')*')
  | (?P<dt>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z)
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_/.]*)
  | (?P<punct>[(),])
)""", re.VERBOSE)


class FilterError(ValueError):
    """The clause does not parse, or uses what Graph does not support here."""


@dataclass(frozen=True)
class Node:
    op: str  # eq ne gt ge lt le in startswith endswith and or not
    args: tuple[Any, ...]  # property names (Prop), literals, or child Nodes


@dataclass(frozen=True)
class Prop:
    path: str


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise FilterError(f"Syntax error at position {pos} in '{text}'.")
        pos = m.end()
        kind = m.lastgroup
        value = m.group(kind or "")
        if kind == "str":
            out.append(("lit", value[1:-1].replace("''", "'")))
        elif kind == "dt":
            out.append(("lit", datetime.fromisoformat(value.replace("Z", "+00:00"))))
        elif kind == "num":
            out.append(("lit", float(value) if "." in value else int(value)))
        elif kind == "name":
            lowered = value.lower()
            if lowered in ("true", "false"):
                out.append(("lit", lowered == "true"))
            elif lowered == "null":
                out.append(("lit", None))
            else:
                out.append(("name", value))
        else:
            out.append((value, value))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.ops: set[str] = set()

    def peek(self) -> tuple[str, Any] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, kind: str | None = None) -> tuple[str, Any]:
        tok = self.peek()
        if tok is None or (kind is not None and tok[0] != kind):
            raise FilterError("Syntax error: unexpected end or token in the filter clause.")
        self.i += 1
        return tok

    def word(self, *words: str) -> str | None:
        tok = self.peek()
        if tok and tok[0] == "name" and str(tok[1]).lower() in words:
            self.i += 1
            return str(tok[1]).lower()
        return None

    def parse(self) -> Node:
        node = self.or_()
        if self.peek() is not None:
            raise FilterError("Syntax error: the filter clause continues after its end.")
        return node

    def or_(self) -> Node:
        node = self.and_()
        while self.word("or"):
            node = Node("or", (node, self.and_()))
        return node

    def and_(self) -> Node:
        node = self.unary()
        while self.word("and"):
            node = Node("and", (node, self.unary()))
        return node

    def unary(self) -> Node:
        if self.word("not"):
            self.ops.add("not")
            return Node("not", (self.unary(),))
        tok = self.peek()
        if tok and tok[0] == "(":
            self.take("(")
            node = self.or_()
            self.take(")")
            return node
        return self.comparison()

    def comparison(self) -> Node:
        name = str(self.take("name")[1])
        fn = name.lower()
        if fn in ("startswith", "endswith"):
            self.ops.add(fn)
            self.take("(")
            prop = Prop(str(self.take("name")[1]))
            self.take(",")
            lit = self.take("lit")[1]
            self.take(")")
            if not isinstance(lit, str):
                raise FilterError(f"{fn} takes a string literal")
            return Node(fn, (prop, lit))
        op = self.word("eq", "ne", "gt", "ge", "lt", "le", "in")
        if op is None:
            raise FilterError(f"Syntax error: an operator was expected after '{name}'.")
        self.ops.add(op)
        if op == "in":
            self.take("(")
            items = [self.take("lit")[1]]
            while (tok := self.peek()) and tok[0] == ",":
                self.take(",")
                items.append(self.take("lit")[1])
            self.take(")")
            return Node("in", (Prop(name), tuple(items)))
        return Node(op, (Prop(name), self.take("lit")[1]))


def parse(text: str) -> tuple[Node, set[str]]:
    """The tree of a `$filter` value and the operators it uses."""
    parser = _Parser(text)
    return parser.parse(), parser.ops


IN_MAX = 15  # values an `in` may hold (Graph's limit on a filter's expressions)


def widest_in(node: Node) -> int:
    """The most values of any `in` in the tree."""
    if node.op == "in":
        return len(node.args[1])
    return max((widest_in(a) for a in node.args if isinstance(a, Node)), default=0)


def props(node: Node) -> set[str]:
    """Every property a filter tree compares."""
    found: set[str] = set()
    for arg in node.args:
        if isinstance(arg, Prop):
            found.add(arg.path)
        elif isinstance(arg, Node):
            found |= props(arg)
    return found


def _value(entity: dict[str, Any], path: str) -> Any:
    value: Any = entity
    for part in path.split("/"):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}T", value):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def matches(node: Node, entity: dict[str, Any]) -> bool:
    """Graph compares strings case-insensitively; a null never orders."""
    op, args = node.op, node.args
    if op == "and":
        return matches(args[0], entity) and matches(args[1], entity)
    if op == "or":
        return matches(args[0], entity) or matches(args[1], entity)
    if op == "not":
        return not matches(args[0], entity)
    have = _fold(_value(entity, args[0].path))
    if op == "in":
        return have in {_fold(v) for v in args[1]}
    want = _fold(args[1])
    if op in ("startswith", "endswith"):
        return isinstance(have, str) and getattr(have, op)(want)
    if op == "eq":
        return bool(have == want)
    if op == "ne":
        return bool(have != want)
    if have is None or want is None:
        return False
    try:
        return bool({"gt": have > want, "ge": have >= want, "lt": have < want,
                     "le": have <= want}[op])
    except TypeError:
        return False
