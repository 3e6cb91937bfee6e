"""Garbage collection held back while a cold command starts.

Start-up (imports, pydantic building validators, the profile) allocates a few hundred
thousand objects that live to the end of the process; the collector's young and middle
passes over them find next to nothing and cost a cold run 10-60 ms. `hold()` makes those
passes rare while the command starts; `settle()`, once its profile is loaded, freezes
what exists (no later collection walks it again) and brings the usual thresholds back,
so that cycles made by the command's work are collected as always. A command that never
settles still collects, less often. The warm process's children never hold: their
parent froze its imports already (cli/warmstart.py).

At exit a held command freezes everything once more: the interpreter's shutdown runs
full collections over every object still tracked (a fleet run's paramiko modules,
its hosts' connections and results), 15-35 ms of CPU that find nothing worth doing in
a process about to end. Cycles are then not collected at exit (Python never promised to
finalize them there); what must reach a disk is closed by the command itself.
"""

from __future__ import annotations

import atexit
import gc

HELD_THRESHOLD = 100_000  # young objects between passes while held; not off (see above)

_usual: tuple[int, int, int] | None = None
_frozen_at_exit = False


def hold() -> None:
    """Collect rarely from now until `settle()`; freeze everything at exit."""
    global _usual, _frozen_at_exit  # one process-wide state, as the collector's own
    if _usual is None:
        _usual = gc.get_threshold()
        gc.set_threshold(HELD_THRESHOLD, *_usual[1:])
    if not _frozen_at_exit:  # registered first, so it runs after the other exit handlers
        atexit.register(gc.freeze)
        _frozen_at_exit = True


def settle() -> None:
    """Freeze what start-up made and collect as usual again (nothing if not held)."""
    global _usual
    if _usual is not None:
        gc.freeze()
        gc.set_threshold(*_usual)
        _usual = None
