"""The print server protocol every backend implements, and what it reports.

Actions and commands talk to a `PrintServer` only; which kind of server is behind it
(CUPS over IPP, a Windows print server over WinRM) is the backend's business. Names
and job ids are checked here, before any server is contacted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import unquote, unquote_plus, urlsplit, urlunsplit

from adminkit.core.errors import ConnectionFailed
from adminkit.core.secrets import MASK

# What cupsd's validate_name() refuses: control characters, space, DEL, / \ ? ' " #,
# and 128 characters or more. Windows printer names are stricter about \ and , only.
_BAD_NAME = re.compile(r"[\x00-\x20\x7f/\\?'\"#,]")
MAX_NAME = 127


def check_printer_name(name: str) -> str:
    """A queue name a print server would accept; raises ValueError saying why not."""
    if not name:
        raise ValueError("is empty")
    if len(name) > MAX_NAME:
        raise ValueError(f"is {len(name)} characters long (at most {MAX_NAME})")
    bad = _BAD_NAME.search(name)
    if bad:
        what = "a space" if bad.group() == " " else repr(bad.group())
        raise ValueError(f"contains {what}, which print servers refuse in a queue name")
    return name


def same_queue(a: str, b: str) -> bool:
    """One queue: CUPS and Windows find a queue's name regardless of ASCII case
    (`FRONT-DESK` is front-desk), so a comparison of names must too."""
    return a.encode().lower() == b.encode().lower()


# A query, fragment or `;` parameter whose name (percent-decoded, any case) says it holds
# a credential: `?password=`, `&pass=`, `;pwd=`, `?api_key=`, `?access_token=`, `?p%61ss=`
_CREDENTIAL_KEY = re.compile(r"pass|pwd|^pw$|secret|token|key|auth|cred|^sig$|signature",
                             re.IGNORECASE)
_PIECES = re.compile(r"([&;])")


def _decoded(text: str) -> str:
    """Percent-decoded until it stops changing (`p%2561ss` is `pass` to a lax server)."""
    for _ in range(4):
        text, before = unquote_plus(text), text
        if text == before:
            break
    return text


def _mask_pieces(text: str, found: list[str]) -> str:
    """`a=1&pass=x;token=y` with the credentials' values masked (and added to `found`).
    A piece whose decoded name itself holds `=` or `:` (`pass%3Dx`) is masked whole."""
    out = []
    for piece in _PIECES.split(text):
        key, sep, value = piece.partition("=")
        name = _decoded(key)
        if piece in ("&", ";") or not _CREDENTIAL_KEY.search(name):
            out.append(piece)
        elif "=" in name or ":" in name:
            found.append(piece)
            out.append(MASK)
        elif sep:
            if value:
                found.append(value)
            out.append(f"{key}={MASK}")
        else:  # `?pass` alone: a flag, nothing to hide
            out.append(piece)
    return "".join(out)


def _split_uri(uri: str) -> tuple[str, list[str]]:
    """The URI with every credential masked, and the credentials as written in it."""
    found: list[str] = []
    try:
        parts = urlsplit(uri)
    except ValueError:
        return MASK, [uri]
    netloc = parts.netloc
    userinfo, at, host = netloc.rpartition("@")
    if at:
        user, colon, password = userinfo.partition(":")
        if colon:
            found.append(password)
            netloc = f"{user}:{MASK}@{host}"
        elif ":" in _decoded(user):  # `user%3Apass@host`: the server decodes it to user:pass
            found.append(user)
            netloc = f"{MASK}@{host}"
    segments = parts.path.split("/")
    for i, segment in enumerate(segments):  # `/share;password=x`
        head, semi, params = segment.partition(";")
        if semi:
            segments[i] = head + semi + _mask_pieces(params, found)
    masked = parts._replace(netloc=netloc, path="/".join(segments),
                            query=_mask_pieces(parts.query, found),
                            fragment=_mask_pieces(parts.fragment, found))
    return (urlunsplit(masked) if found else uri), found


def mask_uri(uri: str | None) -> str | None:
    """A device URI with every credential in it replaced by the mask: the password of its
    user part, and the values of query, fragment and `;` parameters named like one
    (`?password=`, `&pass=`, `?token=`, also percent-encoded). User names stay."""
    if not uri:
        return uri
    return _split_uri(uri)[0]


def uri_credentials(uri: str) -> list[str]:
    """The credentials written in a device URI (empty: none), as written and decoded."""
    found = [v for v in _split_uri(uri)[1] if v]
    decoded = [_decoded(v) for v in found]
    # `user%3Apass` and `pass%3Dvalue` were taken whole: their value alone is secret too
    tails = [re.split("[:=]", v, maxsplit=1)[-1] for v in decoded]
    return [v for v in dict.fromkeys([*found, *(unquote(v) for v in found), *decoded,
                                      *tails]) if v]


def without_credentials(uri: str | None) -> str | None:
    """The URI with no user and password: CUPS hides them when it reports a device URI,
    so a wanted URI and the server's are compared in this form."""
    if not uri:
        return uri
    try:
        parts = urlsplit(uri)
    except ValueError:
        return uri
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def hides_userinfo(uri: str) -> bool:
    """True for a URI whose credentials urlsplit would not find, so that nothing would
    mask them: one it cannot parse (a bad port, an open `[`) that has an `@`, or one
    without `//` whose first path part looks like `user:password@host`."""
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number
    except ValueError:
        return "@" in uri
    if parts.netloc:
        return False
    head = parts.path.lstrip("/").split("/", 1)[0]
    return "@" in head


# job states as the IPP numbers them (RFC 8011 5.3.7)
JOB_STATES = {3: "pending", 4: "held", 5: "processing", 6: "stopped", 7: "canceled",
              8: "aborted", 9: "completed"}
FINISHED = frozenset({"canceled", "aborted", "completed"})
ACTIVE = frozenset({"pending", "held", "processing", "stopped"})
PRINTER_STATES = {3: "idle", 4: "printing", 5: "paused"}


@dataclass
class Printer:
    name: str
    state: str  # idle, printing, paused
    accepting: bool
    reason: str = ""  # why paused or rejecting, as the operator said
    jobs: int = 0  # active jobs
    location: str = ""
    model: str = ""
    device_uri: str | None = None  # always masked
    shared: bool = False
    default: bool = False
    server: str = ""
    options: dict[str, str] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Job:
    id: int
    printer: str
    owner: str
    name: str
    size_kb: int
    state: str  # one of JOB_STATES' values
    created: datetime | None
    server: str = ""

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    def age_seconds(self, now: datetime | None = None) -> float | None:
        if self.created is None:
            return None
        return ((now or datetime.now(UTC)) - self.created).total_seconds()

    def row(self) -> dict[str, Any]:
        age = self.age_seconds()
        return {"id": self.id, "server": self.server, "printer": self.printer,
                "owner": self.owner, "name": self.name, "size_kb": self.size_kb,
                "state": self.state,
                "created": self.created.isoformat() if self.created else None,
                "age": None if age is None else human_age(age)}


def human_age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class SpoolerDown(ConnectionFailed):
    """The server answers but its print spooler does not (exit 3): `spooler restart`."""


class PrintServer(Protocol):
    """One print server, opened from the profile; every call may raise ConnectionFailed
    (down: exit 3 naming the server), AuthenticationFailed (exit 3, what to fix) or
    ValidationError (no such printer or job, exit 2)."""

    name: str
    kind: str
    can_reject: bool  # the server can refuse new jobs (CUPS); Windows queues cannot
    can_move: bool  # jobs can move between queues (CUPS); Windows has no way to
    keeps_reason: bool  # a paused queue shows the operator's reason (CUPS); Windows none

    def printers(self) -> list[Printer]: ...
    def printer(self, name: str) -> Printer | None: ...
    def set_enabled(self, name: str, enabled: bool, reason: str | None) -> None: ...
    def set_accepting(self, name: str, accepting: bool, reason: str | None) -> None: ...
    def add_printer(self, name: str, uri: str, driver: str, location: str | None,
                    shared: bool) -> None: ...
    def update_printer(self, name: str, uri: str | None, location: str | None,
                       shared: bool | None) -> None: ...
    def same_device(self, name: str, uri: str) -> bool: ...
    def remove_printer(self, name: str) -> None: ...
    def set_options(self, name: str, options: dict[str, str]) -> None: ...
    def default_printer(self) -> str | None: ...
    def set_default(self, name: str) -> None: ...
    def test_page(self, name: str) -> int: ...
    def jobs(self, printer: str | None = None, *, finished: bool = False,
             brief: bool = False) -> list[Job]:
        """`brief`: only what choosing jobs needs (id, queue, owner, state, age)."""
        ...

    def job(self, job_id: int) -> Job | None: ...
    def cancel_job(self, job_id: int) -> None: ...
    def hold_job(self, job_id: int) -> None: ...
    def release_job(self, job_id: int) -> None: ...
    def restart_job(self, job_id: int) -> None: ...
    def move_job(self, job_id: int, printer: str) -> None: ...
    def purge(self, printer: str, job_ids: Sequence[int]) -> list[int]:
        """Cancel exactly these jobs of the queue in one server call (never a job that
        came after they were chosen); returns the ids not cancelled: they finished or
        left the queue meanwhile."""
        ...

    def restart_spooler(self) -> None: ...
    def close(self) -> None: ...


_AGE = re.compile(r"^(\d{1,6})([smhd])\Z")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_age(text: str) -> int:
    """`90s`, `30m`, `2h`, `7d` -> seconds; raises ValueError otherwise."""
    found = _AGE.match(text.strip())
    if not found:
        raise ValueError(f"{text!r} is not an age: write it like 30m, 2h or 7d")
    return int(found.group(1)) * _UNIT[found.group(2)]
