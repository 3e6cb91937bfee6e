"""The `Secret` type and the references that resolve to one.

Masking follows the value, not the place it is used: a `Secret` prints as `********`
in repr, str, f-strings, `%` formatting, JSON and pydantic dumps, so a secret that
travels through a loop, a log call or an exception argument stays hidden. As a
second line of defence every secret value ever created in this process is
remembered, and `redact()` scrubs such values from free text (a server's error
message that echoes what it was sent, say) before it reaches output, the journal
or a ticket note.
"""

from __future__ import annotations

import getpass
import hmac
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adminkit.core.errors import SecretError

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler
    from pydantic_core import CoreSchema

MASK = "********"
MAX_SECRET_FILE = 64 << 10  # a password, token or key; nothing bigger is a secret file
_MIN_REDACT = 4  # shorter values would scrub ordinary words

_known: set[str] = set()
_known_lock = threading.Lock()
_by_length: tuple[str, ...] = ()  # _known, longest first, while there are few
_shortest = 0  # the shortest known value's length: shorter text cannot hold any
# With many values (a bulk import generates a password per row) trying each on each text
# is quadratic. Then short values are still tried one by one, and long ones are found
# through an index of every _GRAM characters they contain: a text is looked up only
# every _STEP characters, since any long value inside it covers one such piece whole.
_FEW = 64
_LONG, _GRAM = 16, 4
_STEP = _LONG - _GRAM + 1
_short: tuple[str, ...] = ()  # known values shorter than _LONG
# hash of a piece -> the long value containing it (a tuple of them if several; a hash
# that collides only costs a look): 13 entries per 16-character password, so no tuple
# and no key string each (a 20,000-row import: some 20 MiB less)
_by_gram: dict[int, str | tuple[str, ...]] = {}
_generation = 0  # grows with every new value that earlier text could hold (not fresh ones)
# fresh values made inside `forgotten_after()`, to forget when it ends
_scope: ContextVar[list[str] | None] = ContextVar("adminkit_secret_scope", default=None)


def generation() -> int:
    """How many values are known; text scrubbed when this was lower may need it again."""
    return _generation


def _remember(value: str, *, fresh: bool = False) -> None:
    global _by_length, _shortest, _short, _generation
    with _known_lock:
        if value in _known:
            return
        _known.add(value)
        if not fresh:
            _generation += 1
        elif (scope := _scope.get()) is not None:
            scope.append(value)
        _shortest = min(_shortest or len(value), len(value))
        if len(value) < _LONG:
            _short = (*_short, value)
        else:
            for key in {hash(value[i:i + _GRAM]) for i in range(len(value) - _GRAM + 1)}:
                had = _by_gram.get(key)
                _by_gram[key] = value if had is None else (
                    (had, value) if isinstance(had, str) else (*had, value))
        if len(_known) <= _FEW:
            _by_length = tuple(sorted(_known, key=len, reverse=True))


@contextmanager
def forgotten_after() -> Iterator[None]:
    """Fresh values (generated passwords) made inside are no longer looked for by
    `redact` once it ends. For a unit of bulk work whose every text is scrubbed and
    written (journal, spooled report) before the end, and then let go of: a run of
    20,000 rows does not index 20,000 passwords to the end. Values known before are
    kept; a value known again later is remembered again."""
    made: list[str] = []
    token = _scope.set(made)
    try:
        yield
    finally:
        _scope.reset(token)
        for value in made:
            _forget(value)


# what is left of each forgotten value: its hash, by its length. A server's error text
# (the one place another row's text comes from outside) is still scanned for them
# (`redact_error`): a few MiB for 20,000 passwords instead of their index.
_forgotten: dict[int, set[int]] = {}


def _forget(value: str) -> None:
    global _by_length, _short
    with _known_lock:
        if value not in _known:
            return
        _known.discard(value)
        _forgotten.setdefault(len(value), set()).add(hash(value))
        if len(value) < _LONG:
            _short = tuple(v for v in _short if v != value)
        else:
            for key in {hash(value[i:i + _GRAM]) for i in range(len(value) - _GRAM + 1)}:
                had = _by_gram.get(key)
                if had == value:
                    del _by_gram[key]
                elif isinstance(had, tuple):
                    rest = tuple(v for v in had if v != value)
                    _by_gram[key] = rest[0] if len(rest) == 1 else rest
        if len(_known) <= _FEW:
            _by_length = tuple(sorted(_known, key=len, reverse=True))


class Secret:
    """A credential. `reveal()` is the only way to get the value back."""

    __slots__ = ("__value",)

    def __init__(self, value: str, *, fresh: bool = False) -> None:
        """`fresh`: a random value made just now (a generated password). No text made
        before can hold it, so text scrubbed earlier need not be scrubbed again."""
        if isinstance(value, Secret):
            value = value.reveal()
        self.__value = value
        if len(value) >= _MIN_REDACT:
            _remember(value, fresh=fresh)

    def reveal(self) -> str:
        return self.__value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return format(MASK, spec)

    def __bool__(self) -> bool:
        return bool(self.__value)

    def __len__(self) -> int:
        return len(self.__value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self.__value.encode(), other.reveal().encode())

    def __hash__(self) -> int:
        return hash((Secret, len(self.__value)))

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        from pydantic_core import core_schema

        return core_schema.no_info_plain_validator_function(
            lambda v: v if isinstance(v, Secret) else Secret(str(v)),
            serialization=core_schema.plain_serializer_function_ser_schema(lambda _v: MASK),
        )


def redact(text: str) -> str:
    """Replace every known secret value inside `text` with the mask."""
    if not _shortest or len(text) < _shortest:
        return text
    found = _by_length if len(_known) <= _FEW else _found_in(text)
    for value in found:
        if value in text:
            text = text.replace(value, MASK)
    return text


def redact_error(text: str) -> str:
    """`redact`, and the values `forgotten_after` let go of are still found: an error a
    server sends for one row may echo what an earlier row set (a password since
    forgotten). Slower than `redact` (every substring of each forgotten length is
    hashed), so kept for error texts, which are few."""
    text = redact(text)
    for length, hashes in list(_forgotten.items()):
        i = 0
        while i <= len(text) - length:
            if hash(text[i:i + length]) in hashes:
                text = text[:i] + MASK + text[i + length:]
                i += len(MASK)
            else:
                i += 1
    return text


def _found_in(text: str) -> list[str]:
    """The known values inside `text`, longest first."""
    found = {value for value in _short if value in text}
    index = _by_gram
    candidates: set[str] = set()  # each looked for once: a text of one repeated piece
    for i in range(0, len(text) - _GRAM + 1, _STEP):  # would match at every position
        hit = index.get(hash(text[i:i + _GRAM]))
        if hit is None:
            continue
        if isinstance(hit, str):
            candidates.add(hit)
        else:
            candidates.update(hit)
    found.update(v for v in candidates if v in text)
    return sorted(found, key=len, reverse=True)


def mask_secrets(obj: Any) -> Any:
    """Secrets anywhere in nested dicts, lists and tuples become the mask; nothing else changes."""
    if isinstance(obj, Secret):
        return MASK
    if isinstance(obj, dict):
        return {k: mask_secrets(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(mask_secrets(v) for v in obj)
    return obj


_PLAIN = (int, float, bool, type(None))


def redact_obj(obj: Any) -> Any:
    """`redact` through nested dicts, lists and tuples; Secrets become the mask.

    Runs over every result of a bulk run: the common leaves (short strings, numbers)
    are answered without a call.
    """
    kind = type(obj)
    if kind is str:
        return obj if len(obj) < _shortest or not _shortest else redact(obj)
    if kind in _PLAIN:
        return obj
    if isinstance(obj, Secret):
        return MASK
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {redact_obj(k): redact_obj(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [redact_obj(v) for v in obj]
    return obj


SCHEMES = ("env", "file", "keyring", "prompt")


def check_reference(ref: str) -> str:
    """Validate the form of a reference without resolving it (used by profile validation)."""
    scheme, _, rest = ref.partition(":")
    if ref == "prompt":
        return ref
    if scheme not in SCHEMES or not rest:
        raise ValueError(
            "a secret must be a reference: env:NAME, file:/path, keyring:service/user or prompt"
            " (never the value itself)"
        )
    if scheme == "file" and not os.path.isabs(rest):
        raise ValueError("file: needs an absolute path")
    if scheme == "keyring" and "/" not in rest:
        raise ValueError("keyring: needs service/user")
    return ref


def resolve(ref: str, *, label: str = "secret") -> Secret:
    """Turn `env:NAME`, `file:/path`, `keyring:service/user` or `prompt` into a Secret."""
    check_reference(ref)
    scheme, _, rest = ref.partition(":")
    if scheme == "env":
        value = os.environ.get(rest)
        if value is None:
            raise SecretError(f"{label}: environment variable {rest} is not set",
                              hint=f"export {rest}=... before running adminkit")
        return Secret(value)
    if scheme == "file":
        return Secret(_read_secret_file(Path(rest), label))
    if scheme == "keyring":
        return Secret(_from_keyring(rest, label))
    return Secret(_prompt(label))


class Current(Secret):
    """A secret read from its reference again each time it is revealed: a connection
    opened anew in the middle of a long run (a serve worker's, one a firewall dropped)
    binds with what the store holds now, not with what it held when the run began (the
    password may have been rotated since)."""

    __slots__ = ("_label", "_ref")

    def __init__(self, ref: str, *, label: str) -> None:
        super().__init__(resolve(ref, label=label).reveal())  # a missing one fails now
        self._ref, self._label = ref, label

    def reveal(self) -> str:
        return Secret.reveal(resolve(self._ref, label=self._label))


def current(ref: str, *, label: str = "secret") -> Secret:
    """`resolve`, but each reveal reads the store again (`Current`); `prompt` is asked
    once, as nobody may be there to ask again."""
    return resolve(ref, label=label) if ref == "prompt" else Current(ref, label=label)


def _read_secret_file(path: Path, label: str) -> str:
    from adminkit.core.files import read_small

    raw = read_small(path, MAX_SECRET_FILE, error=SecretError, private=True, what=label)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretError(f"{label}: {path} is not UTF-8 text") from None
    return text.rstrip("\r\n")


def _from_keyring(rest: str, label: str) -> str:
    service, _, user = rest.partition("/")
    try:
        import keyring
        import keyring.errors
    except ImportError:
        raise SecretError(f"{label}: keyring: references need the keyring package",
                          hint="pip install 'adminkit[keyring]'") from None
    try:
        value = keyring.get_password(service, user)
    except keyring.errors.KeyringError as exc:
        raise SecretError(f"{label}: the keyring failed: {type(exc).__name__}") from None
    if value is None:
        raise SecretError(f"{label}: no keyring entry for service {service!r}, user {user!r}",
                          hint=f"keyring set {service} {user}")
    return str(value)


def _prompt(label: str) -> str:
    if not sys.stdin.isatty():
        raise SecretError(f"{label}: the profile asks to prompt, but there is no terminal",
                          hint="use env:, file: or keyring: for unattended runs")
    value = getpass.getpass(f"{label}: ")
    if not value:
        raise SecretError(f"{label}: nothing entered")
    return value
