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
