"""A connection check's outcome, as `adminkit profile check` reports it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from adminkit.core.errors import AdminkitError, ExitCode
from adminkit.core.secrets import redact


@dataclass(frozen=True)
class Probe:
    """One thing `profile check` tries: a system, what it is, and the call that tries it."""

    system: str  # directory, tickets, print, host, mail, or a plug-in's own word
    target: str
    call: Callable[[], str]  # returns what it verified; raises on failure


@dataclass(frozen=True)
class Check:
    system: str  # directory, tickets, print, host, mail
    target: str
    ok: bool
    detail: str
    seconds: float
    exit_code: int = 0  # a failure's code, as any other command would exit with it


def run_check(system: str, target: str, probe: Callable[[], str]) -> Check:
    """Run `probe` (returns what it verified); any failure becomes a failed Check."""
    started = time.monotonic()
    code = 0
    try:
        detail, ok = probe(), True
    except AdminkitError as exc:
        detail, ok, code = exc.message, False, int(exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - a check reports every failure, never raises
        detail, ok, code = f"{type(exc).__name__}: {exc}", False, int(ExitCode.CONNECTION)
    return Check(system, target, ok, redact(detail), round(time.monotonic() - started, 3),
                 code)


def exit_code(checks: list[Check]) -> int:
    """0 if every check passed; 2 if any failed for a problem in the profile itself (a
    secret reference that does not resolve, a setting refused), which no retry fixes;
    else 3 (unreachable, or the credentials refused)."""
    codes = {c.exit_code for c in checks if not c.ok}
    if not codes:
        return int(ExitCode.OK)
    return int(ExitCode.USAGE) if ExitCode.USAGE in codes else int(ExitCode.CONNECTION)
