"""Load YAML safely, remembering where each value came from.

Profiles (and later playbooks) are validated after loading; the error then needs
the file, line and column of the offending value. The loader builds plain Python
data from the node graph and records a position for every path. It refuses
oversized files, deep nesting and alias expansion beyond a bound ("billion laughs").
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from adminkit.core.errors import ConfigError

MAX_BYTES = 1 << 20
MAX_DEPTH = 32
MAX_NODES = 100_000

PathKey = tuple[str | int, ...]


@dataclass
class Sourced:
    """Data loaded from a YAML file, with `where(path)` for error messages."""

    file: Path
    data: Any
    positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    digest: str = ""  # SHA-256 of the file's bytes: a resume tells an edited file

    def where(self, path: Sequence[str | int]) -> str:
        """`file:line:col` of the deepest known node along `path`."""
        key = tuple(path)
        while key and key not in self.positions:
            key = key[:-1]
        line, col = self.positions.get(key, (1, 1))
        return f"{self.file}:{line}:{col}"


def load(path: Path) -> Sourced:
    from adminkit.core.files import read_small

    return loads(read_small(path, MAX_BYTES, error=ConfigError), path)


def loads(raw: bytes | str, path: Path) -> Sourced:
    if len(raw) > MAX_BYTES:
        raise ConfigError(f"{path}: file is larger than {MAX_BYTES} bytes")
    node: Any = _UNREAD if _lenient(raw) else _fast_compose(raw)
    try:
        if node is _UNREAD:  # an error (or no libyaml): the pure-Python parser words it
            node = yaml.compose(raw, Loader=yaml.SafeLoader)
    except RecursionError:  # the pure-Python parser recurses per nesting level
        raise ConfigError(f"{path}: nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # "\U00110000": PyYAML's chr() of an escape past Unicode
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: not valid YAML: {problem}") from None
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    result = Sourced(path, None, digest=hashlib.sha256(data).hexdigest())
    if node is None:
        result.data = {}
        return result
    builder = _Builder(result, path)
    result.data = builder.build(node, (), 0)
    return result


_UNREAD = object()

# What libyaml reads where the pure-Python parser refuses it, or reads it otherwise (found
# by running both on the same texts: tests/unit/test_yamlsource_parsers.py): a tab as
# white space (`a:<TAB>b`), a byte-order mark past the start, a `#` right after a block
# scalar's `|` or `>`, an indented `...` or `---`, a `?` before white space or the end
# of a flow collection. A text with
# any of them is read by the pure-Python parser alone, so a file gives one result
# whichever parser is installed (and the rare file that has them is read more slowly).
_LENIENT = (  # (what the text must hold for the pattern to be worth a search, pattern)
    (("\t",), r"\t"), (("\ufeff",), r"(?<!^)\ufeff"),
    (("#",), r"#(?<=[|>]#)|#(?<=[|>][0-9+-]#)|#(?<=[|>][0-9+-]{2}#)"),  # `#` first: fast
    (("...", "---"), r"\n[ ]+(?:\.\.\.|---)"), (("?",), r"\?(?=[\s\]},]|\Z)"),
)
_LENIENT_TEXT = tuple((needles, re.compile(pattern)) for needles, pattern in _LENIENT)
_LENIENT_BYTES = tuple((tuple(n.encode() for n in needles),
                        re.compile(pattern.replace("\\ufeff", "\\xef\\xbb\\xbf").encode()))
                       for needles, pattern in _LENIENT)


def _lenient(raw: bytes | str) -> bool:
    """Whether `raw` holds what libyaml alone would read (a search only where the text
    holds the characters it needs: a profile is read on every command)."""
    checks: Any = _LENIENT_TEXT if isinstance(raw, str) else _LENIENT_BYTES
    return any(any(n in raw for n in needles) and pattern.search(raw)
               for needles, pattern in checks)


def _fast_compose(raw: bytes | str) -> Any:
    """The node graph from libyaml's parser (C: a tenth of the pure-Python one's time, on
    every command that reads a profile), or `_UNREAD` where PyYAML was built without it
    or the text has an error: errors keep the pure-Python parser's words and positions."""
    loader = getattr(yaml, "CSafeLoader", None)
    if loader is None:
        return _UNREAD
    try:
        return yaml.compose(raw, Loader=loader)
    except (yaml.YAMLError, UnicodeError):  # libyaml also refuses nesting past its own
        return _UNREAD  # limit (1000); a lone surrogate in a str cannot reach it


class _Builder:
    def __init__(self, out: Sourced, path: Path) -> None:
        self.out = out
        self.path = path
        self.nodes = 0
        self.constructor = yaml.SafeLoader("")

    def fail(self, node: yaml.Node, problem: str) -> ConfigError:
        m = node.start_mark
        return ConfigError(f"{self.path}:{m.line + 1}:{m.column + 1}: {problem}")

    def build(self, node: yaml.Node, key: PathKey, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.fail(node, f"more than {MAX_NODES} values (alias expansion?)")
        if depth > MAX_DEPTH:
            raise self.fail(node, f"nested deeper than {MAX_DEPTH} levels")
        self.out.positions.setdefault(key, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            try:  # a merge key (`<<`) of a scalar, say
                self.constructor.flatten_mapping(node)
            except yaml.YAMLError as exc:
                raise self.fail(node,
                                f"cannot merge here: {getattr(exc, 'problem', exc)}") from None
            result: dict[Any, Any] = {}
            for k_node, v_node in node.value:
                k = self.build(k_node, key, depth + 1)
                if not isinstance(k, str | int | bool | float) or k is None:
                    raise self.fail(k_node, "mapping keys must be plain values")
                if k in result:
                    raise self.fail(k_node, f"duplicate key {k!r}")
                sk = k if isinstance(k, str) else str(k)
                self.out.positions[(*key, sk)] = (k_node.start_mark.line + 1,
                                                  k_node.start_mark.column + 1)
                result[k] = self.build(v_node, (*key, sk), depth + 1)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(v, (*key, i), depth + 1) for i, v in enumerate(node.value)]
        try:
            return self.constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError) as exc:
            problem = getattr(exc, "problem", None) or (str(exc).splitlines() or [""])[0] \
                or f"not a valid {node.tag.rpartition(':')[2]}"
            raise self.fail(node, f"cannot read this value: {problem}") from None
        except (LookupError, ArithmeticError, AttributeError):  # `!!int `, `!!bool `,
            # `!!timestamp x`: PyYAML's constructors fail inside on such text
            raise self.fail(node, "cannot read this value: not a valid "
                                  f"{node.tag.rpartition(':')[2]}") from None
