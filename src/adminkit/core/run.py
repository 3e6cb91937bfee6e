"""A run: one CLI command, playbook or triggered job, with who, for whom and why."""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def new_run_id(now: datetime | None = None) -> str:
    """Sortable and short enough to quote on a ticket: R-20261125-134501-3f9a2c."""
    now = now or datetime.now(UTC)
    return f"R-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def current_operator(claim: str | None = None) -> str:
    """Who is acting, as the journal and the ticket notes record it: the name the run is
    claimed for (`claim`: a trigger's `watch rt for jdoe@acme`, `schedule nightly`; else
    ADMINKIT_OPERATOR), and the OS login of the process, which no variable changes:

    - `alice`: the login alice, nothing else claimed (or ADMINKIT_OPERATOR=alice);
    - `alice (as root)`: alice through sudo (SUDO_USER=alice), nothing else claimed;
    - `jnovak (login alice)`: ADMINKIT_OPERATOR=jnovak, set by the login alice;
    - `jnovak (login alice as root)`: the same through sudo;
    - `watch rt for x@acme (login adminkit)`: a trigger, run by the service login adminkit.

    The last parenthesis is always adminkit's own: it is left out only where the claimed
    name is exactly the login. `operator_names` reads the parts back."""
    if claim is None:
        explicit = os.environ.get("ADMINKIT_OPERATOR")
        claim = _name("ADMINKIT_OPERATOR", explicit) if explicit else None
    real = os_login()
    sudo_user = _name("SUDO_USER", os.environ.get("SUDO_USER") or "")
    if sudo_user and not _LOGIN.fullmatch(sudo_user):
        from adminkit.core.errors import UsageError

        raise UsageError(f"SUDO_USER {sudo_user!r} is not a login name",
                         hint="run adminkit through sudo, which sets it")
    person, acting = (sudo_user, real) if sudo_user and sudo_user != real else (real, None)
    claim = claim or person
    if claim == person:
        return f"{claim} (as {acting})" if acting else claim
    return f"{claim} (login {person}{f' as {acting}' if acting else ''})"


def os_login() -> str:
    """The login of the process's real uid (never LOGNAME or USER, which anyone sets);
    `#UID` for a uid without a passwd entry, or a name the operator's form cannot hold."""
    import pwd

    uid = os.getuid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:  # a container's bare --user, a deleted account's leftover process
        return f"#{uid}"
    return name if _LOGIN.fullmatch(name) else f"#{uid}"


_LOGIN = re.compile(r"[^\s()\x00-\x1f\x7f-\x9f]+")
# what current_operator appends: ` (login L)`, ` (login L as U)` or ` (as U)`
_SUFFIX = re.compile(r" \((?:login (?P<login>[^\s()]+)(?: as (?P<acting>[^\s()]+))?"
                     r"|as (?P<as_only>[^\s()]+))\)\Z")


@dataclass(frozen=True)
class OperatorNames:
    claim: str  # the name claimed (ADMINKIT_OPERATOR, a trigger's), else the login
    login: str | None  # the OS login (the person behind sudo); None: not recorded apart
    acting: str | None  # the account sudo made it (root), if any
    suffix: str  # the recorded text after the claim: ` (login alice as root)`, or ""


def operator_names(recorded: str) -> OperatorNames:
    """The parts of an operator as `current_operator` records it. A recorded text
    without adminkit's parenthesis (claim and login were one, or an older journal's row)
    is the claim alone."""
    found = _SUFFIX.search(recorded)
    if found is None:
        return OperatorNames(recorded, None, None, "")
    claim = recorded[:found.start()]
    if found["as_only"]:
        return OperatorNames(claim, claim, found["as_only"], found[0])
    return OperatorNames(claim, found["login"], found["acting"], found[0])


def operator_is(recorded: str | None, wanted: str) -> bool:
    """Whether `--operator WANTED` takes a row by `recorded`: the whole text, the name
    claimed, or the OS login (alice's runs through sudo too)."""
    if recorded is None:
        return False
    if recorded == wanted:
        return True
    names = operator_names(recorded)
    return wanted in (names.claim, names.login)


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
