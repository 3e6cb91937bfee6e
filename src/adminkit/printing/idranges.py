"""Job ids as runs of consecutive ids (`1-1500,1502-2000`): how a purge names exactly
which jobs it cancelled or left, in a few bytes for a queue's usual runs.

The whole list is data (the journal's detail, `-o json`); a text a person reads (an
error, a ticket note, a table) takes `id_ranges_text`: 2,000 scattered ids would be
many KB there, so it names the first runs and counts the rest. `parse_id_ranges`
reads such a list back (a resumed purge's chosen jobs, from its intent row)."""

from __future__ import annotations

import re
from collections.abc import Iterable

TEXT_LIMIT = 200  # characters of runs in a message or a note
MAX_PARSED = 100_000  # ids a list read back may name: more is refused, never expanded
LARGEST_ID = 2**31 - 1  # IPP's job-id range (1 to 2**31-1)
_RUN = re.compile(r"([1-9][0-9]{0,9})(?:-([1-9][0-9]{0,9}))?")


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


def parse_id_ranges(text: object, limit: int = MAX_PARSED) -> list[int]:
    """The ids of a list `id_ranges` wrote, in order. Strict: ValueError unless `text` is
    exactly such a list (runs going up, none touching the one before, ids 1 to 2**31-1,
    no space, sign or leading zero) of at most `limit` ids, counted before any run is
    expanded. Read from the journal, whose chain a resume verifies; checked all the same."""
    if not isinstance(text, str):
        raise ValueError(f"is a {type(text).__name__}, not a list of job ids")
    if len(text) > limit * (len(str(LARGEST_ID)) * 2 + 2):
        raise ValueError(f"is {len(text)} characters long: more than {limit} ids")
    ids: list[int] = []
    if not text:
        return ids
    for piece in text.split(","):
        found = _RUN.fullmatch(piece)
        if found is None:
            raise ValueError(f"has {piece[:24]!r} where an id or a run first-last belongs")
        first = int(found[1])
        last = int(found[2]) if found[2] else first
        if last > LARGEST_ID:
            raise ValueError(f"has {last}, above the largest job id {LARGEST_ID}")
        if found[2] and last <= first:
            raise ValueError(f"has the run {piece!r}, which does not go up")
        if ids and first <= ids[-1] + 1:
            raise ValueError(f"has {piece!r} after {ids[-1]}: the runs are not in order "
                             "or not apart")
        if len(ids) + last - first + 1 > limit:
            raise ValueError(f"names more than {limit} ids")
        ids.extend(range(first, last + 1))
    return ids
