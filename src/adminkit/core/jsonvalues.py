"""JSON as adminkit writes it, in one place: the text of results, spool lines and
journal rows (`encode`), and data made JSON values only (`json_values`) where whatever
a caller put there must not break the write that follows (a failure's journal row)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# json.dumps(value, ensure_ascii=False, default=str), without making an encoder per call:
# anything JSON has no type for is written as its str (a Secret's is the mask)
encode = json.JSONEncoder(ensure_ascii=False, default=str).encode
# the same, leaving out a key JSON cannot have (a tuple) instead of refusing the whole
_encode_lenient = json.JSONEncoder(ensure_ascii=False, default=str, skipkeys=True).encode


def json_values(data: object) -> dict[str, Any]:
    """`data`, a mapping, as plain JSON values, as `encode` would write them (bytes, an
    object, a set: their str; a tuple: a list; a key JSON cannot have: left out); {} for
    anything else, or for what cannot be written at all (a cycle, a str() that raises)."""
    if not isinstance(data, Mapping) or not data:
        return {}
    try:
        kept = json.loads(_encode_lenient(dict(data)))
    except Exception:  # noqa: BLE001 - whatever it holds, the caller's write goes on
        return {}
    return kept if isinstance(kept, dict) else {}


# What one failure may put in its journal row and ticket note: a server's error body
# (50 MB from a hostile or broken one) is cut to these, with a marker saying so
ERROR_CHARS = 4000  # the error's text (its first line is the result's summary)
DATA_CHARS = 16384  # its data (AdminkitError.data), as JSON
CUT_KEY = "_cut"  # the key that says what of the data was left out


def cut_text(text: str, limit: int = ERROR_CHARS) -> str:
    """`text`, or its first `limit` characters and a marker saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]} …[cut: {len(text)} characters, the first {limit} kept]"


def cut_values(data: dict[str, Any], limit: int = DATA_CHARS) -> dict[str, Any]:
    """`data` (JSON values), or as much of it as `limit` characters of JSON hold: a value
    longer than a quarter of it becomes its text cut (`cut_text`), keys that no longer
    fit are left out, and `_cut` says what was done."""
    whole = len(encode(data))
    if whole <= limit:
        return data
    room = limit - 200  # the marker's own room
    kept: dict[str, Any] = {}
    left: list[str] = []
    used = 2
    for key, value in data.items():
        piece = value if isinstance(value, str) else encode(value)
        if len(piece) > limit // 4:
            value = cut_text(piece, limit // 4)
        size = len(encode(key)) + len(encode(value)) + 2
        if used + size > room:
            left.append(key)
            continue
        kept[key], used = value, used + size
    names = ", ".join(left[:5]) + (", …" if len(left) > 5 else "")
    kept[CUT_KEY] = cut_text(f"{whole} characters of JSON cut to at most {limit}"
                             + (f"; {len(left)} key(s) left out: {names}" if left else ""),
                             150)
    return kept
