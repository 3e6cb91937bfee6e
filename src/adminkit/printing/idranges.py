"""Job ids as runs of consecutive ids (`1-1500,1502-2000`): how a purge names exactly
which jobs it cancelled or left, in a few bytes for a queue's usual runs.

The whole list is data (the journal's detail, `-o json`); a text a person reads (an
error, a ticket note, a table) takes `id_ranges_text`: 2,000 scattered ids would be
many KB there, so it names the first runs and counts the rest."""

from __future__ import annotations

from collections.abc import Iterable

TEXT_LIMIT = 200  # characters of runs in a message or a note


def _runs(ids: Iterable[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    ordered = sorted(set(ids))
    start = 0
    for n in range(1, len(ordered) + 1):
        if n == len(ordered) or ordered[n] != ordered[n - 1] + 1:
            runs.append((ordered[start], ordered[n - 1]))
            start = n
    return runs


def _run(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}-{last}"


def id_ranges(ids: Iterable[int]) -> str:
    """Every id once, in order, runs of consecutive ids as `first-last`."""
    return ",".join(_run(first, last) for first, last in _runs(ids))


def id_ranges_text(ids: Iterable[int], limit: int = TEXT_LIMIT) -> str:
    """`id_ranges`, cut after the runs that fit in `limit` characters: then `… and N
    more ids (see the journal)`, the journal's data holding them all."""
    runs = _runs(ids)
    shown: list[str] = []
    size = named = 0
    for first, last in runs:
        text = _run(first, last)
        if shown and size + 1 + len(text) > limit:
            break
        shown.append(text)
        size += len(text) + (1 if len(shown) > 1 else 0)
        named += last - first + 1
    rest = sum(last - first + 1 for first, last in runs) - named
    more = f" … and {rest} more id{'s' if rest != 1 else ''} (see the journal)" if rest else ""
    return ",".join(shown) + more
