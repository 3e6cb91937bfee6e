"""Generating passwords that fit a directory's policy (`core.delivery` hands them over)."""

from __future__ import annotations

import os
import string

from adminkit.core.secrets import Secret

SYMBOLS = "-_.+!#%"


def generate(length: int = 16) -> Secret:
    """Random, with every character class AD complexity counts, in random positions."""
    length = max(length, 12)
    pools = [string.ascii_uppercase, string.ascii_lowercase, string.digits, SYMBOLS]
    chars = [_pick(pool, 1)[0] for pool in pools]
    chars += _pick("".join(pools), length - len(chars))
    keys = os.urandom(8 * len(chars))  # a uniform shuffle: sort by random 64-bit keys
    order = sorted(range(len(chars)), key=lambda i: keys[8 * i:8 * i + 8])
    return Secret("".join(chars[i] for i in order), fresh=True)


def _pick(pool: str, count: int) -> list[str]:
    """`count` characters of `pool`, uniformly, from the OS's CSPRNG in one or two reads
    (secrets.choice reads it once per character: a bulk import makes thousands)."""
    limit = 256 - 256 % len(pool)  # bytes at or above it would favour the pool's start
    picked: list[str] = []
    while len(picked) < count:
        picked += [pool[b % len(pool)] for b in os.urandom(2 * count + 8) if b < limit]
    return picked[:count]
