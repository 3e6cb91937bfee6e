"""A run: one CLI command, playbook or triggered job, with who, for whom and why."""

from __future__ import annotations

import getpass
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def new_run_id(now: datetime | None = None) -> str:
    """Sortable and short enough to quote on a ticket: R-20261125-134501-3f9a2c."""
    now = now or datetime.now(UTC)
    return f"R-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def current_operator() -> str:
    """Who is acting: ADMINKIT_OPERATOR (set by triggers), else the person behind sudo."""
    explicit = os.environ.get("ADMINKIT_OPERATOR")
    if explicit:
        return _name("ADMINKIT_OPERATOR", explicit)
    user = getpass.getuser()
    sudo_user = _name("SUDO_USER", os.environ.get("SUDO_USER") or "")
    return f"{sudo_user} (as {user})" if sudo_user and sudo_user != user else user


def _name(variable: str, value: str) -> str:
    """An operator's name goes into every journal row and ticket note: a line break or a
    terminal escape there would forge a line of either, and bytes that are not UTF-8
    cannot be journaled at all."""
    from adminkit.core.errors import UsageError

    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"{variable} is not UTF-8 text",
                         hint=f"set {variable} to the operator's login") from None
    if any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in value):
        raise UsageError(f"{variable} {value!r} holds a control character",
                         hint=f"set {variable} to the operator's login") from None
    return value


@dataclass
class Run:
    command: str
    profile: str | None = None
    ticket: str | None = None
    check: bool = False
    operator: str = field(default_factory=current_operator)
    id: str = field(default_factory=new_run_id)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    # what to run, as a resume rebuilds it (action names and parameters, or a playbook
    # and its inputs; never a secret's value): the run row keeps it in the journal
    record: dict[str, Any] = field(default_factory=dict)
    resumed: bool = False

    @property
    def mode(self) -> str:
        return "check" if self.check else "apply"
