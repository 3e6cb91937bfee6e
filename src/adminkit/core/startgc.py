"""Garbage collection held back while a cold command starts.

Start-up (imports, pydantic building validators, the profile) allocates a few hundred
thousand objects that live to the end of the process; the collector's young and middle
passes over them find next to nothing and cost a cold run 10-60 ms. `hold()` makes those
passes rare while the command starts; `settle()`, once its profile is loaded, freezes
what exists (no later collection walks it again) and brings the usual thresholds back,
so that cycles made by the command's work are collected as always. A command that never
settles still collects, less often. The warm process's children never hold: their
parent froze its imports already (cli/warmstart.py).
"""

from __future__ import annotations

import gc

HELD_THRESHOLD = 100_000  # young objects between passes while held; not off (see above)

_usual: tuple[int, int, int] | None = None


def hold() -> None:
    """Collect rarely from now until `settle()`."""
    global _usual  # one process-wide state, as the collector's own
    if _usual is None:
        _usual = gc.get_threshold()
        gc.set_threshold(HELD_THRESHOLD, *_usual[1:])


def settle() -> None:
    """Freeze what start-up made and collect as usual again (nothing if not held)."""
    global _usual
    if _usual is not None:
        gc.freeze()
        gc.set_threshold(*_usual)
        _usual = None
