"""Generating passwords that fit a directory's policy (`core.delivery` hands them over)."""

from __future__ import annotations

import os
import string
import threading

from adminkit.core.secrets import Secret

SYMBOLS = "-_.+!#%"


def generate(length: int = 16) -> Secret:
    """Random, with every character class AD complexity counts, in random positions."""
    length = max(length, 12)
    pools = [string.ascii_uppercase, string.ascii_lowercase, string.digits, SYMBOLS]
    # what the picks below read comes from this thread's pool of the OS's CSPRNG: each
    # read gives the GIL up, and a bulk import's busy threads can keep it a while
    source = _pool()
    chars = [_pick(pool, 1, source)[0] for pool in pools]
    chars += _pick("".join(pools), length - len(chars), source)
    keys = source.take(8 * len(chars))  # a uniform shuffle: sort by random 64-bit keys
    order = sorted(range(len(chars)), key=lambda i: keys[8 * i:8 * i + 8])
    return Secret("".join(chars[i] for i in order), fresh=True)


POOL = 8192  # bytes read from the CSPRNG at once: some 40 passwords of 16


class _Source:
    """Bytes of the OS's CSPRNG, each handed out once; read again when they run out.
    `pid`: the process that read them (a forked child never uses its parent's)."""

    def __init__(self, size: int) -> None:
        self.data = os.urandom(size)
        self.at = 0
        self.pid = os.getpid()

    def take(self, count: int) -> bytes:
        if self.at + count > len(self.data):
            self.data, self.at = os.urandom(max(count, len(self.data), 64)), 0
        taken = self.data[self.at:self.at + count]
        self.at += count
        return taken


def _pick(pool: str, count: int, source: _Source | None = None) -> list[str]:
    """`count` characters of `pool`, uniformly, from the OS's CSPRNG in one or two reads
    (secrets.choice reads it once per character: a bulk import makes thousands)."""
    limit = 256 - 256 % len(pool)  # bytes at or above it would favour the pool's start
    picked: list[str] = []
    while len(picked) < count:
        data = source.take(2 * count + 8) if source else os.urandom(2 * count + 8)
        picked += [pool[b % len(pool)] for b in data if b < limit]
    return picked[:count]


_LOCAL = threading.local()


def _pool() -> _Source:
    """This thread's pool of CSPRNG bytes (a bulk import's rows: one read per ~40
    passwords, not one each). Bytes are handed out once and never shared by threads; a
    pool read before a fork is dropped in the child (parent and child would otherwise
    hand out the same bytes: the same passwords)."""
    source: _Source | None = getattr(_LOCAL, "source", None)
    if source is None or source.pid != os.getpid():
        source = _LOCAL.source = _Source(POOL)
    return source


def _drop_in_child() -> None:
    """A forked child never keeps its parent's pool: the PID check above alone is fooled
    when the parent has exited and a descendant got its PID back (PID reuse), and would
    hand out the bytes the parent already did."""
    _LOCAL.source = None


os.register_at_fork(after_in_child=_drop_in_child)
