"""What an action returns. Check mode, diffs, the journal and ticket notes all read this."""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_serializer

from adminkit.core import secrets
from adminkit.core.jsonvalues import encode


class Status(StrEnum):
    OK = "ok"  # nothing to do: the target already was as asked
    CHANGED = "changed"  # changed (or, in check mode, would change)
    FAILED = "failed"
    SKIPPED = "skipped"  # not run: a condition, a resume, an earlier failure

    @property
    def done(self) -> bool:
        """Finished for good: a resumed run does not repeat it."""
        return self in (Status.OK, Status.CHANGED)


class Change(BaseModel):
    """One planned change: `field` of the target goes from `before` to `after`.

    `op` is `set`, `add`, `remove`, `create`, `delete`, `move` or `run`. Values may
    be Secrets; they serialize masked.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True, defer_build=True)

    op: str
    field: str
    before: Any = None
    after: Any = None

    @field_serializer("before", "after")
    def _masked(self, value: Any) -> Any:
        return secrets.mask_secrets(value)

    def line(self) -> str:
        """A one-line, human form for terminals and ticket notes."""
        dumped = self.model_dump(mode="json")
        before, after = dumped["before"], dumped["after"]
        if self.op == "set" and before is None:
            return f"{self.field} = {_short(after)}"
        if self.op == "set":
            return f"{self.field}: {_short(before)} -> {_short(after)}"
        if self.op in ("add", "remove"):
            sign = "+" if self.op == "add" else "-"
            return f"{self.field}: {sign}{_short(after if self.op == 'add' else before)}"
        value = after if after is not None else before
        return f"{self.op} {self.field}" + (f": {_short(value)}" if value is not None else "")


@functools.lru_cache(maxsize=256)
def shared_change(op: str, field: str, after: str | bool | int | None = None) -> Change:
    """One `Change` for every row that plans the same (a bulk import's OU, groups,
    password marker): a change is frozen, and 20,000 rows need not hold 20,000 copies.
    Its scrubbed JSON form is made once too (`Result.public`)."""
    change = Change(op=op, field=field, after=after)
    with _SHARED_LOCK:
        if len(_SHARED) >= 4 * 256:  # changes the cache above let go of: forget them
            _SHARED.clear()
        _SHARED[id(change)] = (change, None)
    return change


# id -> a shared change (kept, so its id is not reused) and its public form with the
# secrets generation it was made at
_SHARED: dict[int, tuple[Change, tuple[int, dict[str, Any]] | None]] = {}
_SHARED_LOCK = threading.Lock()


def _public_changes(changes: list[Change], now: int) -> list[dict[str, Any]]:
    """The scrubbed JSON form of each change; a shared change's is made once per
    secrets generation and shared (read-only, like `Result.public`)."""
    out = []
    for change in changes:
        known = _SHARED.get(id(change))
        if known is None or known[0] is not change:
            out.append(secrets.redact_obj(change.model_dump(mode="json")))
            continue
        made = known[1]
        if made is None or made[0] != now:
            made = (now, secrets.redact_obj(change.model_dump(mode="json")))
            _SHARED[id(change)] = (change, made)
        out.append(made[1])
    return out


_FIELD_SETS: dict[frozenset[str], set[str]] = {}


def share_fields_set(model: BaseModel) -> None:
    """Give `model` the one shared copy of its record of the fields given. pydantic keeps
    a set per instance (200-700 bytes): a 20,000-row import holds 100,000 models, most
    with one of a few such sets. Only pydantic writes to it, when a field of a mutable
    model is assigned: `Result` takes its own copy first; other models are frozen."""
    own = model.__pydantic_fields_set__
    shared = _FIELD_SETS.setdefault(frozenset(own), set(own))
    object.__setattr__(model, "__pydantic_fields_set__", shared)


def _is_shared(fields: set[str]) -> bool:
    return _FIELD_SETS.get(frozenset(fields)) is fields


def row_change(op: str, field: str, after: Any = None) -> Change:
    """A `Change` of one row of a bulk run (its login, its name): one of thousands."""
    change = Change(op=op, field=field, after=after)
    share_fields_set(change)
    return change


def _short(value: Any, limit: int = 80) -> str:
    text = "(none)" if value is None or value == [] else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Result(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True, defer_build=True)

    action: str
    target: str
    status: Status
    summary: str
    changes: list[Change] = Field(default_factory=list)
    data: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    error_type: str | None = None
    exit_code: int = 0
    check: bool = False
    duration: float = 0.0

    _public: tuple[int, dict[str, Any]] | None = PrivateAttr(default=None)
    # JSON texts of parts of that public form, by name, made from that very dict
    _json: tuple[dict[str, Any], dict[str, str]] | None = PrivateAttr(default=None)

    @field_serializer("data")
    def _masked(self, value: dict[str, Any]) -> Any:
        return secrets.mask_secrets(value)

    def __setattr__(self, name: str, value: Any) -> None:
        fields = self.__pydantic_fields_set__
        if name not in fields and name in Result.model_fields and _is_shared(fields):
            # pydantic is about to add the name: never to the shared set
            object.__setattr__(self, "__pydantic_fields_set__", set(fields))
        super().__setattr__(name, value)
        if name not in ("_public", "_json"):
            self._public = None

    def model_copy(self, *, update: Mapping[str, Any] | None = None,
                   deep: bool = False) -> Result:
        copied = super().model_copy(update=update, deep=deep)
        copied._public = None
        return copied

    def public(self, *, keep: bool = True) -> dict[str, Any]:
        """The JSON form with every known secret scrubbed, as the journal, the output and
        notes show it. Made once, and again only if a secret became known since (a bulk
        run has thousands of results). Treat as read-only. `keep=False`: not kept for a
        later call (the journal and the output of a bulk run, which each read it once,
        and between which the run's new passwords make it stale anyway)."""
        now = secrets.generation()
        if self._public is not None and self._public[0] == now:
            return self._public[1]
        rest = secrets.redact_obj(self.model_dump(mode="json", exclude={"changes"}))
        public: dict[str, Any] = {
            name: _public_changes(self.changes, now) if name == "changes" else rest[name]
            for name in Result.model_fields}
        self._public = (now, public) if keep else None
        return public

    def public_json(self, name: str) -> str:
        """`public()[name]` as JSON text, encoded once: a bulk run's journal row stores
        it and its spool line splices it in (`public_line`)."""
        public = self.public()
        made = self._json
        if made is None or made[0] is not public:
            made = self._json = (public, {})
        text = made[1].get(name)
        if text is None:
            text = made[1][name] = encode(public[name])
        return text

    def public_line(self) -> str:
        """`public()` as one JSON text, in its order, splicing in the parts that
        `public_json` encoded already."""
        public = self.public()
        made = self._json
        done = made[1] if made is not None and made[0] is public else {}
        if not done:
            return encode(public)
        parts: list[str] = []
        run: dict[str, Any] = {}
        for name, value in public.items():
            text = done.get(name)
            if text is None:
                run[name] = value
                continue
            if run:
                parts.append(encode(run)[1:-1])
                run = {}
            parts.append(f"{encode(name)}: {text}")
        if run:
            parts.append(encode(run)[1:-1])
        return "{" + ", ".join(parts) + "}"

    @property
    def changed(self) -> bool:
        return self.status is Status.CHANGED

    @property
    def failed(self) -> bool:
        return self.status is Status.FAILED
