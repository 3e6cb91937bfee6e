"""Every use of ldap3 beyond its public methods, in one module, each access checked.

adminkit writes two requests it encodes itself (ldapwire: the bulk login search and
the add) on an ldap3 connection, and looks at the connection's socket (TCP_NODELAY; a
server's close noticed before a request is written). That takes these parts of ldap3
2.9, which is pinned below 2.10 for them:

    Connection.socket, .connection_lock, .closed, .bound, .sasl_mechanism, .server,
               .strategy
    Server.next_message_id()
    SyncStrategy.sync, .pooled, ._outstanding, .receiving() (which returns every whole
               message that came, several when requests were pipelined),
               .get_response(), .close()
    ldap3.core.results.RESULT_CODES

`parts` hands them out only after checking that each is there with the expected type,
and raises `Ldap3Changed` naming what moved otherwise; tests/unit/test_ldapinternals.py
runs every function here on a real ldap3 connection, so an ldap3 that changed fails
there, loudly. At run time a connection whose parts do not check out is served by
ldap3's public methods instead (slower, same result), with one warning a process.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ldap3

log = logging.getLogger("adminkit.accounts")
_warned: list[str] = []


class Ldap3Changed(RuntimeError):
    """ldap3 no longer has a part adminkit relies on (see the module docstring)."""


class RequestNotSent(Exception):
    """The request did not leave whole: the server cannot have acted on it."""


class AnswerLost(Exception):
    """The request left; its answer did not come (or came unreadable)."""


@dataclass(frozen=True)
class Parts:
    """The checked internals of one open connection."""

    socket: socket.socket
    lock: Any  # the connection's RLock: one request and its answer at a time
    outstanding: dict[int, Any]  # message id -> request, as get_response expects it
    next_message_id: Callable[[], int]
    receiving: Callable[[], list[bytes]]
    get_response: Callable[[int], tuple[Any, Any]]
    close: Callable[[], None]


def _get(owner: Any, name: str, kind: type | tuple[type, ...] | None, where: str) -> Any:
    """owner.name, or Ldap3Changed if it is missing or not of `kind` (None: callable)."""
    try:
        value = getattr(owner, name)
    except AttributeError:
        raise Ldap3Changed(f"ldap3 {_version()}: {where}.{name} is gone") from None
    if kind is None:
        if not callable(value):
            raise Ldap3Changed(f"ldap3 {_version()}: {where}.{name} is not callable")
    elif not isinstance(value, kind):
        raise Ldap3Changed(f"ldap3 {_version()}: {where}.{name} is a {type(value).__name__}, "
                           f"not {kind}")
    return value


def _version() -> str:
    import ldap3

    return str(ldap3.__version__)


def socket_of(conn: ldap3.Connection) -> socket.socket | None:
    """The connection's socket (an SSLSocket under TLS), None while it is closed."""
    sock: socket.socket | None = _get(conn, "socket", (socket.socket, type(None)),
                                      "Connection")
    return sock


def parts(conn: ldap3.Connection) -> Parts:
    """The internals this module uses, checked; Ldap3Changed if any is not as expected.

    The connection must be open (a closed one has no socket and no outstanding table).
    """
    strategy = _get(conn, "strategy", object, "Connection")
    server = _get(conn, "server", object, "Connection")
    sock = socket_of(conn)
    outstanding = _get(strategy, "_outstanding", (dict, type(None)), "SyncStrategy")
    if sock is None or outstanding is None:
        raise RequestNotSent("the connection is closed")
    lock = _get(conn, "connection_lock", object, "Connection")
    if not (hasattr(lock, "__enter__") and hasattr(lock, "__exit__")):
        raise Ldap3Changed("ldap3: Connection.connection_lock is not a lock")
    return Parts(socket=sock, lock=lock, outstanding=outstanding,
                 next_message_id=_get(server, "next_message_id", None, "Server"),
                 receiving=_get(strategy, "receiving", None, "SyncStrategy"),
                 get_response=_get(strategy, "get_response", None, "SyncStrategy"),
                 close=_get(strategy, "close", None, "SyncStrategy"))


def servable(conn: ldap3.Connection) -> Parts | None:
    """The parts, if our own bytes may go on this connection now: open and bound, one
    request at a time (SYNC, not pooled), no SASL layer wrapping the messages. None
    otherwise, also when ldap3 changed (warned once): then ldap3's own methods serve."""
    try:
        if (_get(conn, "closed", bool, "Connection") or not _get(conn, "bound", bool,
                                                                 "Connection")
                or _get(conn, "sasl_mechanism", (str, type(None)), "Connection")):
            return None
        strategy = _get(conn, "strategy", object, "Connection")
        if not _get(strategy, "sync", bool, "SyncStrategy") or _get(strategy, "pooled", bool,
                                                                    "SyncStrategy"):
            return None
        if socket_of(conn) is None or _get(strategy, "_outstanding", (dict, type(None)),
                                           "SyncStrategy") is None:
            return None
        return parts(conn)
    except Ldap3Changed as exc:
        if not _warned:
            _warned.append(str(exc))
            log.warning("%s; adminkit's fast LDAP path is off, ldap3 serves every request "
                        "(slower)", exc)
        return None


def set_no_delay(conn: ldap3.Connection) -> None:
    """Send each request at once. With Nagle's algorithm a request written in two pieces
    (TLS does that to a bind) waits for the server's delayed ACK: 40 ms a connection."""
    sock = socket_of(conn)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def has_unread(conn: ldap3.Connection) -> bool:
    """Whether anything waits to be read before a request is written: between two
    requests of a synchronous connection that is the server's close or its notice of
    disconnection, so the connection is over, and nothing sent on it yet."""
    sock = socket_of(conn)
    if sock is None:
        return True
    pending = getattr(sock, "pending", None)  # bytes TLS decrypted but not handed out
    if pending is not None and pending() > 0:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def close(conn: ldap3.Connection) -> None:
    """Close the socket without a word to the server (whose end may be gone)."""
    strategy = _get(conn, "strategy", object, "Connection")
    shut = _get(strategy, "close", None, "SyncStrategy")
    with contextlib.suppress(Exception):  # closing a dead socket has nothing to report
        shut()


def drop(p: Parts) -> None:
    """Close the connection under `p`: after a failed exchange its state is unknown."""
    with contextlib.suppress(Exception):  # its state is unknown: never reuse it
        p.close()


def send(p: Parts, payload: bytes) -> None:
    """Write one whole request (the caller holds `p.lock`). RequestNotSent if the write
    failed: the server has at most a part of it, which it cannot act on; the connection
    is closed."""
    try:
        p.socket.sendall(payload)
    except OSError as exc:
        drop(p)
        raise RequestNotSent(_reason(exc)) from None


def send_counted(p: Parts, payload: bytes) -> tuple[int, str | None]:
    """Write `payload` (several requests one after another) in as few writes as the
    socket takes (the caller holds `p.lock`): (bytes that left, None), or, if a write
    failed, how many had left before it and why; the connection is then closed. A
    request wholly within the bytes that left reached the server; the server cannot act
    on one cut short."""
    view, sent = memoryview(payload), 0
    while sent < len(payload):
        try:
            sent += p.socket.send(view[sent:])
        except OSError as exc:
            drop(p)
            return sent, _reason(exc)
    return sent, None


def receive(p: Parts) -> list[bytes]:
    """The next whole messages that came (at least one; the caller holds `p.lock`), raw.
    AnswerLost if the connection failed or ended first; it is then closed."""
    try:
        answers = p.receiving()
    except Exception as exc:  # noqa: BLE001 - ldap3 wraps socket errors in its own
        drop(p)
        raise AnswerLost(_reason(exc)) from None
    if not answers:
        drop(p)
        raise AnswerLost("the connection ended")
    return [bytes(a) for a in answers]


def exchange(p: Parts, build: Callable[[int], bytes]) -> tuple[int, bytes]:
    """Send `build(message id)` and read the one message that answers it, raw.

    RequestNotSent if the write failed (the server has at most a part of it, which it
    cannot act on); AnswerLost if it left and no whole answer came. Either way the
    connection is closed.
    """
    with p.lock:
        message_id = p.next_message_id()
        payload = build(message_id)
        try:
            p.socket.sendall(payload)
        except OSError as exc:
            drop(p)
            raise RequestNotSent(_reason(exc)) from None
        try:
            answers = p.receiving()
        except Exception as exc:  # noqa: BLE001 - ldap3 wraps socket errors in its own
            drop(p)
            raise AnswerLost(_reason(exc)) from None
        if len(answers) != 1:
            drop(p)
            raise AnswerLost("the connection ended" if not answers else
                             f"{len(answers)} messages came instead of one")
        return message_id, answers[0]


def exchange_search(p: Parts, build: Callable[[int], bytes], request: dict[str, Any]
                    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Send a search request built here and let ldap3 read and decode its answers.

    `request` is the search as ldap3 records it in its outstanding table (it redoes
    ranged attributes with it). Errors as for `exchange`.
    """
    with p.lock:
        message_id = p.next_message_id()
        p.outstanding[message_id] = request
        try:
            p.socket.sendall(build(message_id))
        except OSError as exc:
            p.outstanding.pop(message_id, None)
            drop(p)
            raise RequestNotSent(_reason(exc)) from None
        try:
            responses, result = p.get_response(message_id)
        except Exception as exc:  # noqa: BLE001 - ldap3 wraps socket errors in its own
            with contextlib.suppress(Exception):
                p.outstanding.pop(message_id, None)
            drop(p)
            raise AnswerLost(_reason(exc)) from None
        return list(responses or []), dict(result or {})


def result_description(code: int) -> str:
    """The RFC 4511 name of a result code, as ldap3 spells it in `conn.result`."""
    from ldap3.core import results

    codes = _get(results, "RESULT_CODES", dict, "ldap3.core.results")
    return str(codes.get(code, "other"))


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0][:120] if str(exc) else ""
    return text or type(exc).__name__
