"""The Jinja2 sandbox playbook templates render in, with bounds on what they may build.

Jinja's sandbox keeps a template away from Python's internals, but not from building
a number or a string so big that the process hangs or runs out of memory:
`{{ 7**999999999 }}` (one bignum power; Jinja even folds it while compiling, so
`playbook validate` hung), `{{ 'a'*10**10 }}`, a filter asked for a width of a
billion, nested loops that never end. Here every arithmetic operator is intercepted
(`call_binop`), which also stops Jinja from folding it at compile time; `~`, the
widening filters and string methods, and every loop are checked before they run; a
value that comes out too big anyway is refused. A refusal is a `TooBig` template
error, so validation and runs report it like any other template problem (exit 2).
"""

from __future__ import annotations

import contextvars
import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from typing import Any

from jinja2 import StrictUndefined, nodes, pass_context
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum

from adminkit.core.secrets import Secret

MAX_SIZE = 1_000_000  # characters of a string, items of a list, that a template may build
MAX_INT_BITS = 1024  # about 308 decimal digits
MAX_STEPS = 1_000_000  # loop iterations in one rendering
# characters one rendering may build in all: a list of a million strings of a million
# characters each is within MAX_SIZE item by item, and a terabyte together
MAX_BUILT = 20 * MAX_SIZE
# a width or precision of a million or more inside a `%` or `{}` format specification
_WIDTH = re.compile(r"%[-#0 +]*(\d{7,}|\d*\.\d{7,})|\{[^{}]*:[^{}]*?(\d{7,})[^{}]*\}")
_NESTED = re.compile(r"\{[^{}]*\{")  # `{0:{1}}`: a width given as an argument


class TooBig(SecurityError):
    """A template asked to build something past the bounds, or to loop past them."""


def refuse(what: str) -> TooBig:
    return TooBig(f"refused: {what} (a template may build at most {MAX_SIZE:,} characters "
                  f"or items, numbers of {MAX_INT_BITS} bits, {MAX_STEPS:,} loop steps)")


class SecretUse(SecurityError):
    """A template tried to look into a secret, or to make it into something else."""


def secret_use(how: str) -> SecretUse:
    return SecretUse(f"refused: {how} a secret; a secret input can only be passed whole "
                     "(`{{ inputs.NAME }}` alone) to a parameter that takes a secret")


class Sealed:
    """A secret as a template sees it: it can be handed on whole and nothing else.
    Its length, truth, text, characters and equality would each tell something of the
    value (or turn it into plain text, `********`, that a field would take as the
    value), so every one of them is refused; `unseal()` gives the `Secret` back."""

    __slots__ = ("secret",)

    def __init__(self, secret: Secret) -> None:
        self.secret = secret

    def _refuse(self, *_: Any, **__: Any) -> Any:
        raise secret_use("using")

    __bool__ = __len__ = __iter__ = __contains__ = __getitem__ = _refuse
    __str__ = __format__ = __int__ = __float__ = __index__ = _refuse
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _refuse
    __add__ = __radd__ = __mul__ = __rmul__ = __mod__ = __rmod__ = _refuse
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        raise secret_use("printing")


def _holds_secret(value: Any, depth: int = 2) -> bool:
    """A secret here, or in a list, tuple or mapping (two levels down: `inputs|dictsort`)."""
    if isinstance(value, Secret | Sealed):
        return True
    if depth <= 0:
        return False
    if isinstance(value, Mapping):
        return any(_holds_secret(v, depth - 1) for v in list(value.values())[:1000])
    if isinstance(value, list | tuple):
        return any(_holds_secret(v, depth - 1) for v in value[:1000])
    return False


def no_secret(how: str, *values: Any) -> None:
    """Refuse a filter, a test, an operator or a call that would be given a secret."""
    if any(_holds_secret(v) for v in values):
        raise secret_use(how)


def seal(value: Any) -> Any:
    return Sealed(value) if isinstance(value, Secret) else value


def unseal(value: Any) -> Any:
    """A template's value as a field gets it: a secret whole, or anything without one."""
    if isinstance(value, Sealed):
        return value.secret
    if _holds_secret(value, depth=8):
        raise secret_use("a list or a mapping holding")
    return value


def _length(value: Any) -> int:
    """Characters or items, whichever is more: a list counts the text of its strings
    (`[s] * n` repeats every character of s, not one item)."""
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, list | tuple):
        return max(len(value), sum(len(i) for i in value if isinstance(i, str | bytes)))
    return 0


def _charge(size: int) -> None:
    """Count `size` built characters against the rendering's budget."""
    budget = _budget.get()
    if budget is not None and size:
        budget[1] -= size
        if budget[1] < 0:
            raise refuse(f"more than {MAX_BUILT:,} characters built in all")


def check_size(value: Any) -> Any:
    """`value` itself, unless it is a number or a string or list past the bounds."""
    if isinstance(value, int) and not isinstance(value, bool) and \
            value.bit_length() > MAX_INT_BITS:
        raise refuse(f"a number of {value.bit_length()} bits")
    if isinstance(value, Sized) and not isinstance(value, Mapping) and \
            len(value) > MAX_SIZE:
        raise refuse(f"a value of {len(value):,} characters or items")
    size = _length(value)
    if size > MAX_SIZE:
        raise refuse(f"a value of {size:,} characters")
    _charge(size)
    return value


def _bits(value: Any) -> int:
    return abs(value).bit_length() if isinstance(value, int) else 0


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse, before computing it, an operation whose result would be past the bounds."""
    if operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0:
        if _bits(left) > 1 and (_bits(left) - 1) * right > MAX_INT_BITS:
            raise refuse(f"{_short(left)} ** {_short(right)}")
    elif operator == "*":
        if isinstance(left, int) and isinstance(right, int):
            if _bits(left) + _bits(right) > MAX_INT_BITS + 1:
                raise refuse(f"{_short(left)} * {_short(right)}")
        else:
            seq, times = (left, right) if isinstance(right, int) else (right, left)
            if isinstance(times, int) and _length(seq) * max(times, 0) > MAX_SIZE:
                raise refuse(f"repeating {_length(seq):,} characters or items "
                             f"{_short(times)} times")
    elif operator == "+":
        if _length(left) + _length(right) > MAX_SIZE:
            raise refuse(f"joining {_length(left):,} and {_length(right):,} characters")
    elif operator == "%" and isinstance(left, str):
        check_format(left, right)


def check_format(text: str, *args: Any, **kwargs: Any) -> None:
    """A `%` or `{}` format whose width or precision is a million or more, written in it
    or given as an argument (`%*d`, `{0:{1}}`)."""
    found = _WIDTH.search(text)
    if found:
        raise refuse(f"a format width of {found.group(1) or found.group(2)}")
    if "*" not in text and not _NESTED.search(text):
        return  # no width taken from the arguments
    values = [*args, *kwargs.values()]
    values += [v for a in args if isinstance(a, tuple | list) for v in a]
    values += [v for a in args if isinstance(a, Mapping) for v in a.values()]
    for value in values:
        if isinstance(value, int) and abs(value) >= MAX_SIZE:
            raise refuse(f"a format with the number {_short(value)} (a width?)")


def _short(value: Any) -> str:
    text = str(value) if _bits(value) <= 64 else f"a {_bits(value)}-bit number"
    return text if len(text) <= 40 else text[:37] + "..."


def _width(width: Any, base: int = 0, times: int = 1) -> None:
    if isinstance(width, int) and base + max(width, 0) * times > MAX_SIZE:
        raise refuse(f"a width of {_short(width)}")
    if isinstance(width, str) and base + len(width) * times > MAX_SIZE:
        raise refuse(f"an indent of {len(width):,} characters on {times:,} lines")


def _replaced_size(text: str, old: Any, new: Any, count: Any = -1) -> int:
    old, new = str(old), str(new)
    found = len(text) + 1 if not old else text.count(old)
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return len(text) + found * max(len(new) - len(old), 0)


def _joined_size(items: list[Any], sep: Any) -> int:
    return sum(len(str(i)) for i in items) + max(len(items) - 1, 0) * len(str(sep))


# -- what a filter or a method would build, checked before it runs --------------------------
def _pre_center(value: Any, width: Any = 80, *_: Any) -> None:
    _width(width)


def _pre_indent(value: Any, width: Any = 4, *_: Any, **__: Any) -> None:
    _width(width, len(str(value)), str(value).count("\n") + 1)


def _pre_replace(value: Any, old: Any, new: Any, count: Any = None, *_: Any) -> None:
    size = _replaced_size(str(value), old, new, -1 if count is None else count)
    if size > MAX_SIZE:
        raise refuse(f"a replacement that makes {size:,} characters")


def _pre_format(value: Any, *args: Any, **kwargs: Any) -> None:
    check_format(str(value), *args, **kwargs)


def _pre_count(value: Any, count: Any = 1, *_: Any) -> None:
    if isinstance(count, int) and count > MAX_SIZE:
        raise refuse(f"{_short(count)} slices or batches")


PRECHECKS: dict[str, Callable[..., None]] = {
    "center": _pre_center, "indent": _pre_indent, "replace": _pre_replace,
    "format": _pre_format, "slice": _pre_count, "batch": _pre_count,
}


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    pre = PRECHECKS.get(name)
    passes = getattr(func, "jinja_pass_arg", None) is not None

    @functools.wraps(func)  # keeps jinja_pass_arg: Jinja still passes the context first
    def guarded(*args: Any, **kwargs: Any) -> Any:
        given = args[1:] if passes else args
        no_secret(f"the filter `{name}` on", *given, *kwargs.values())
        if name == "join" and given:  # a joined list is measured before it is joined
            items = list(given[0])
            sep = given[1] if len(given) > 1 else kwargs.get("d", "")
            if kwargs.get("attribute") is None and len(given) < 3 and \
                    _joined_size(items, sep) > MAX_SIZE:
                raise refuse(f"joining {len(items):,} items")
            args = (*args[:len(args) - len(given)], items, *given[1:])
        elif pre is not None and given:
            pre(*given, **kwargs)
        return check_size(func(*args, **kwargs))

    return guarded


def _guard_test(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    if name in ("defined", "undefined", "none"):  # these do not look at the value
        return func
    passes = getattr(func, "jinja_pass_arg", None) is not None

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        no_secret(f"the test `{name}` on", *(args[1:] if passes else args), *kwargs.values())
        return func(*args, **kwargs)

    return guarded


_STR_WIDTH = {"ljust", "rjust", "center", "zfill"}


def _precheck_call(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
                   ) -> tuple[Any, ...]:
    """Check a call of a string method or a global before it runs; the (possibly
    materialised) arguments to make it with."""
    no_secret("calling a function or a macro with", *args, *kwargs.values())
    target = getattr(obj, "__wrapped__", obj)  # the sandbox wraps str.format
    name = getattr(target, "__name__", "")
    owner = getattr(target, "__self__", None)
    if isinstance(owner, str):
        if name in _STR_WIDTH and args:
            _width(args[0])
        elif name == "expandtabs":
            size = args[0] if args else kwargs.get("tabsize", 8)
            _width(size, len(owner), owner.count("\t") + 1)
        elif name == "replace" and len(args) >= 2:
            _pre_replace(owner, *args)
        elif name == "join" and args:
            items = list(args[0])
            if _joined_size(items, owner) > MAX_SIZE:
                raise refuse(f"joining {len(items):,} items")
            return (items, *args[1:])
        elif name in ("format", "format_map"):
            check_format(owner, *args, **kwargs)
    elif obj is generate_lorem_ipsum:
        count = args[0] if args else kwargs.get("n", 5)
        if isinstance(count, int) and count > 1000:
            raise refuse(f"{_short(count)} paragraphs of lorem ipsum")
    return args


# -- loops and `~` ----------------------------------------------------------------------------
_budget: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "adminkit_template_steps", default=None)  # [loop steps left, characters left]


def fresh_budget() -> contextvars.Token[list[int] | None]:
    """Start counting loop steps and characters built for one rendering;
    `_budget.reset(token)` after it."""
    return _budget.set([MAX_STEPS, MAX_BUILT])


def reset_budget(token: contextvars.Token[list[int] | None]) -> None:
    _budget.reset(token)


@pass_context  # never folded at compile time: it needs a rendering's context
def _counted(context: Context, iterable: Iterable[Any]) -> Iterator[Any]:
    budget = _budget.get() or [MAX_STEPS, MAX_BUILT]
    for item in iterable:
        budget[0] -= 1
        if budget[0] < 0:
            raise refuse("more loop steps than allowed")
        yield item


COUNTED = "_adminkit_counted"


class _Generator(CodeGenerator):
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        """`a ~ b`: joined only once its size is known to be within the bounds."""
        self.write("environment.concat_checked((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class Sandbox(ImmutableSandboxedEnvironment):
    """`inputs.items` is the input named items, not `dict.items`: a mapping's keys come
    before its methods. Anything else (a missing key, `_private`) is Jinja's own lookup."""

    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})
    intercepted_unops = frozenset({"-", "+"})
    code_generator_class = _Generator

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {name: _guard_filter(name, f) for name, f in self.filters.items()}
        self.filters[COUNTED] = _counted
        self.tests = {name: _guard_test(name, f)  # type: ignore[arg-type]
                      for name, f in self.tests.items()}

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        """A secret input passes through a template whole (`{{ inputs.password }}`), never
        opened: `reveal()` would put the value, or a reversed or encoded copy that no
        redaction finds, into a field that is not secret."""
        if isinstance(obj, Secret):
            return False
        return bool(super().is_safe_attribute(obj, attr, value))

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping) and not attribute.startswith("_") and attribute in obj:
            return seal(obj[attribute])
        return seal(super().getattr(obj, attribute))

    def getitem(self, obj: Any, argument: Any) -> Any:
        return seal(super().getitem(obj, argument))

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        no_secret(f"`{operator}` on", left, right)
        check_binop(operator, left, right)
        return check_size(super().call_binop(context, operator, left, right))

    def call_unop(self, context: Context, operator: str, arg: Any) -> Any:
        no_secret(f"`{operator}` on", arg)
        return check_size(super().call_unop(context, operator, arg))

    def call(__self, __context: Context, __obj: Any, *args: Any,
             **kwargs: Any) -> Any:
        args = _precheck_call(__obj, args, kwargs)
        result = super().call(__context, __obj, *args, **kwargs)
        if isinstance(result, Secret):  # `inputs.get('password')`: still whole
            return Sealed(result)
        no_secret("`.items()` or `.values()` of a mapping holding", result)
        return check_size(result)

    def concat_checked(self, parts: tuple[Any, ...]) -> str:
        no_secret("`~` on", *parts)
        texts = [str(p) for p in parts]
        if sum(map(len, texts)) > MAX_SIZE:
            raise refuse(f"joining {sum(map(len, texts)):,} characters with ~")
        _charge(sum(map(len, texts)))
        return "".join(texts)

    def _generate(self, source: nodes.Template, name: str | None, filename: str | None,
                  defer_init: bool = False) -> str:
        """Every `{% for %}` counts its steps against the rendering's budget."""
        for loop in source.find_all(nodes.For):
            if not (isinstance(loop.iter, nodes.Filter) and loop.iter.name == COUNTED):
                loop.iter = nodes.Filter(loop.iter, COUNTED, [], [], None, None,
                                         lineno=loop.iter.lineno)
        return super()._generate(source, name, filename, defer_init)


def make() -> Sandbox:
    return Sandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
