"""Job ids as runs of consecutive ids (`1-1500,1502-2000`): how a purge names exactly
which jobs it cancelled or left, in a few bytes for a queue's usual runs."""

from __future__ import annotations

from collections.abc import Iterable


def id_ranges(ids: Iterable[int]) -> str:
    """Every id once, in order, runs of consecutive ids as `first-last`."""
    runs: list[str] = []
    ordered = sorted(set(ids))
    start = 0
    for n in range(1, len(ordered) + 1):
        if n == len(ordered) or ordered[n] != ordered[n - 1] + 1:
            first, last = ordered[start], ordered[n - 1]
            runs.append(str(first) if first == last else f"{first}-{last}")
            start = n
    return ",".join(runs)
