"""A connection check's outcome, as `adminkit profile check` reports it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from adminkit.core.errors import AdminkitError
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


def run_check(system: str, target: str, probe: Callable[[], str]) -> Check:
    """Run `probe` (returns what it verified); any failure becomes a failed Check."""
    started = time.monotonic()
    try:
        detail, ok = probe(), True
    except AdminkitError as exc:
        detail, ok = exc.message, False
    except Exception as exc:  # noqa: BLE001 - a check reports every failure, never raises
        detail, ok = f"{type(exc).__name__}: {exc}", False
    return Check(system, target, ok, redact(detail), round(time.monotonic() - started, 3))
