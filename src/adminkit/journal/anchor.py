"""Anchors: the journal's head (row number and hash) written where its host cannot undo it.

The key stops a forger without it; an anchor stops everyone else too, the key's
holder and root included, as far back as the anchor: a rewritten journal no longer
has the anchored hash at the anchored row. Anchors go into ticket notes and to syslog
(which a site forwards off the host); `adminkit journal verify --anchor` checks them.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
from dataclasses import dataclass

SYSLOG_ENV = "ADMINKIT_SYSLOG"  # a syslog socket path, or "off"; default /dev/log if present
SYSLOG_DEFAULT = "/dev/log"
_LOG_USER_NOTICE = 1 * 8 + 5
_PATTERN = re.compile(r"journal head (\d+):([0-9a-f]{64})\b")


@dataclass(frozen=True)
class Anchor:
    seq: int
    digest: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.digest}"


def line(seq: int, digest: str) -> str:
    """The text that carries an anchor, in a note or a log line."""
    return f"journal head {seq}:{digest}"


def parse(text: str) -> Anchor:
    """`SEQ:HASH` as `verify --anchor` takes it."""
    seq, sep, digest = text.strip().partition(":")
    digest = digest.lower()
    if not sep or not seq.isdigit() or not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise ValueError(f"{text!r} is not SEQ:HASH (a row number and 64 hex digits)")
    return Anchor(int(seq), digest)


def find(text: str) -> list[Anchor]:
    """Every anchor line in a text: a syslog file, a ticket's notes, an export."""
    return [Anchor(int(m[1]), m[2]) for m in _PATTERN.finditer(text)]


def to_syslog(seq: int, digest: str, *, run_id: str, journal: str) -> bool:
    """Send the anchor to the local syslog if there is one; never fails the caller."""
    address = os.environ.get(SYSLOG_ENV) or SYSLOG_DEFAULT
    if address == "off" or not os.path.exists(address):
        return False
    message = (f"<{_LOG_USER_NOTICE}>adminkit[{os.getpid()}]: {line(seq, digest)} "
               f"run {run_id} journal {journal}")
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.connect(address)
        s.send(message.encode("utf-8", "replace"))
        return True
    return False
