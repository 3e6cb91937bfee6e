"""What an action returns. Check mode, diffs, the journal and ticket notes all read this."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from adminkit.core.secrets import mask_secrets


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

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    op: str
    field: str
    before: Any = None
    after: Any = None

    @field_serializer("before", "after")
    def _masked(self, value: Any) -> Any:
        return mask_secrets(value)

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


def _short(value: Any, limit: int = 80) -> str:
    text = "(none)" if value is None or value == [] else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Result(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

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

    @field_serializer("data")
    def _masked(self, value: dict[str, Any]) -> Any:
        return mask_secrets(value)

    @property
    def changed(self) -> bool:
        return self.status is Status.CHANGED

    @property
    def failed(self) -> bool:
        return self.status is Status.FAILED
