"""The directory connection: opened with TLS, re-opened when lost, never a write twice.

Rules (DESIGN, security): LDAPS or StartTLS with certificate validation for any
bind with a password; plain LDAP only with the profile's explicit `insecure: true`,
which is logged on every connect. Errors come back as adminkit errors that name
the server and say what to check.

Every request goes through `Link.run`, on ldap3's plain synchronous strategy (which
never sends anything again by itself). When the connection is lost, `Link` opens and
binds a new one (a few times, then gives up with exit 3) and decides, by what the
request is, whether it goes again:

- it had not left (the connection was found closed before writing, or the write
  failed): the server cannot have acted on it; it goes again on the new connection;
- it left and the answer was lost: reads (search, compare) and the modifies
  `resendable` accepts go again; every other write (add, delete, rename, a password
  change, a compare-and-swap) is reported as `OutcomeUnknown`, "may or may not have
  been done", exit 3, with what to check, and is not sent again.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import ssl
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlparse

from adminkit.accounts import ldapinternals, ldapwire
from adminkit.accounts.ldaperrors import bind_error, exception_error, outcome_unknown
from adminkit.accounts.ldapinternals import AnswerLost, RequestNotSent
from adminkit.accounts.settings import DirectoryConfig
from adminkit.core import keepalive
from adminkit.core.errors import AuthenticationFailed, ConfigError, ConnectionFailed
from adminkit.core.secrets import Secret

if TYPE_CHECKING:
    import ldap3

log = logging.getLogger("adminkit.accounts")
RECONNECT_TRIES = 3  # connections opened for one request, and attempts to open each
RECONNECT_PAUSE = 1.0  # seconds between two failed attempts to open one
T = TypeVar("T")
BindReason = Callable[[dict[str, Any]], "str | None"]

# Attributes whose write does more than store a value: a password change records
# history and pwdChangedTime / pwdLastSet and lifts ppolicy's locks, and a second one
# may be refused ("in history") although the first was done.
PASSWORD_ATTRS = frozenset({"userpassword", "unicodepwd"})
VALUE_EXISTS = 20  # attributeOrValueExists: what a second ADD of the same value answers
NO_SUCH_VALUE = 16  # noSuchAttribute: what a second DELETE of the same value answers


def endpoint(cfg: DirectoryConfig) -> tuple[str, int, bool]:
    url = urlparse(cfg.url)
    if url.scheme not in ("ldap", "ldaps") or not url.hostname:
        raise ConfigError(f"directory url {cfg.url!r}: expected ldaps://host[:port] or "
                          "ldap://host[:port]")
    use_ssl = url.scheme == "ldaps"
    return url.hostname, url.port or (636 if use_ssl else 389), use_ssl


def connect(cfg: DirectoryConfig, password: Secret, *,
            bind_reason: BindReason | None = None) -> ldap3.Connection:
    """One bound connection (ldap3 SYNC: one request at a time, nothing resent)."""
    import ldap3
    from ldap3.core import exceptions as lexc

    host, port, use_ssl = endpoint(cfg)
    if not use_ssl and not cfg.starttls:
        if not cfg.insecure:
            raise ConfigError(
                f"directory {cfg.url}: a password bind without TLS would send the password "
                "in clear",
                hint="use ldaps://, or set starttls: true; `insecure: true` only for a lab")
        log.warning("directory %s: binding WITHOUT TLS (insecure: true in the profile)", cfg.url)
    from adminkit.core.files import ca_text

    tls = ldap3.Tls(ca_certs_data=ca_text(cfg.ca_file, "directory.ca_file") if cfg.ca_file
                    else None,
                    validate=ssl.CERT_REQUIRED, version=ssl.PROTOCOL_TLS_CLIENT)
    server = ldap3.Server(host, port=port, use_ssl=use_ssl, tls=tls,
                          connect_timeout=cfg.timeout, get_info=ldap3.NONE)
    conn = ldap3.Connection(server, user=cfg.bind_user, password=password.reveal(),
                            receive_timeout=math.ceil(cfg.timeout), auto_referrals=False,
                            raise_exceptions=False, read_only=False,
                            client_strategy=ldap3.SYNC)
    where = f"{host}:{port}"
    try:
        conn.open()
        ldapinternals.set_no_delay(conn)
        keepalive.apply(ldapinternals.socket_of(conn))  # a silently dropped one is noticed
        if cfg.starttls and not use_ssl and not conn.start_tls():
            raise ConnectionFailed(f"StartTLS with {where} failed: {conn.result}")
        bound = conn.bind()
    except lexc.LDAPSocketOpenError as exc:
        raise ConnectionFailed(f"cannot reach the directory at {where}: {_reason(exc)}",
                               hint=_tls_hint(exc, cfg)) from None
    except lexc.LDAPStartTLSError as exc:
        raise ConnectionFailed(f"StartTLS with {where} failed: {_reason(exc)}",
                               hint=_tls_hint(exc, cfg)) from None
    except (lexc.LDAPException, OSError) as exc:
        _quietly_close(conn)
        raise ConnectionFailed(f"directory {where}: {_reason(exc)}") from None
    if not bound:
        result = dict(conn.result)
        _quietly_close(conn)
        raise bind_error(result, cfg.bind_user,
                         reason=bind_reason(result) if bind_reason else None)
    return conn


def _quietly_close(conn: ldap3.Connection) -> None:
    """Unbind if the socket still takes it; closed in any case."""
    from ldap3.core.exceptions import LDAPException

    with contextlib.suppress(LDAPException, OSError):
        conn.unbind()
    if not conn.closed:  # the unbind could not be written
        ldapinternals.close(conn)


def _reason(exc: Exception) -> str:
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return "the server's TLS certificate could not be verified"
    if "doesn't match" in text or "hostname" in text.lower():
        return "the server's certificate does not match its name"
    if "Connection refused" in text or "refused" in text:
        return "connection refused"
    if "timed out" in text:
        return "timed out"
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _tls_hint(exc: Exception, cfg: DirectoryConfig) -> str:
    if "certif" in str(exc).lower():
        return ("set ca_file in the profile to the CA that signed the directory's certificate"
                if cfg.ca_file is None else f"is {cfg.ca_file} the CA that signed it?")
    return "check the url and that the directory is up (`adminkit profile check`)"


def _stage(exc: Exception) -> str | None:
    """Where a request was when its connection failed: "unsent" (the server cannot have
    acted on it), "left" (it may have), or None: not a connection failure at all."""
    from ldap3.core import exceptions as lexc

    if isinstance(exc, RequestNotSent | lexc.LDAPSocketSendError | lexc.LDAPSocketOpenError):
        return "unsent"  # ldap3 raises LDAPSocketOpenError to send on a closed socket
    if isinstance(exc, lexc.LDAPUnknownRequestError | lexc.LDAPReferralError):
        return None  # ldap3 could not build it / follow a referral: not the connection
    if isinstance(exc, AnswerLost | lexc.LDAPCommunicationError
                  | lexc.LDAPResponseTimeoutError | OSError):
        return "left"
    return None


def resendable(changes: Mapping[str, Sequence[tuple[str, Any]]],
               tolerate: Collection[int]) -> bool:
    """May this modify go again after its answer was lost?

    Only if doing it twice leaves the entry as doing it once, AND the second answer
    means "done" to the caller (`tolerate`: the codes it takes as done):

    - REPLACE sets fixed values: twice is once, and the second answer is success;
    - ADD of values: the second answers 20 "value exists" (AD: 68 for a member), which
      is "done" only to a caller that tolerates it (joining a group does);
    - DELETE of values or of the attribute: the second answers 16 "no such value"
      (AD: 53 for a member), "done" only to a caller that tolerates it;
    - never INCREMENT (it adds again), a password attribute (see PASSWORD_ATTRS), or
      a DELETE and an ADD in one modify (a compare-and-swap such as the uidNumber
      counter's, and the last member giving way to a placeholder: a second answer of
      16 would read as "someone else changed it first").
    """
    import ldap3

    ops = [(name.lower(), op) for name, pairs in changes.items() for op, _ in pairs]
    deletes = {name for name, op in ops if op == ldap3.MODIFY_DELETE}
    adds = {name for name, op in ops if op == ldap3.MODIFY_ADD}
    if deletes and adds:
        return False
    for name, op in ops:
        if name in PASSWORD_ATTRS:
            return False
        if op == ldap3.MODIFY_REPLACE:
            continue
        if op == ldap3.MODIFY_ADD and VALUE_EXISTS in tolerate:
            continue
        if op == ldap3.MODIFY_DELETE and NO_SUCH_VALUE in tolerate:
            continue
        return False
    return True


class Outage:
    """A run's word that its directory could not be opened, shared by the run's Links
    (one a worker). Once opening failed every try, each later request of the run fails
    at once, unsent, with that error (exit 3; the resume does those rows) instead of
    trying again: a 1,200-row import whose server stopped spent 52 s on its last 150
    rows, and ten thousand rows would have taken an hour to say so."""

    def __init__(self) -> None:
        self.failed: ConnectionFailed | None = None


class Link:
    """The connection of one Directory object, re-opened when lost (see the module).

    `result` is the last answer's result, as ldap3 gives `conn.result`.
    """

    def __init__(self, cfg: DirectoryConfig, password: Secret, *,
                 bind_reason: BindReason | None = None) -> None:
        self.cfg = cfg
        self._password = password
        self._bind_reason = bind_reason
        host, port, _ = endpoint(cfg)
        self.where = f"{host}:{port}"
        self.conn: ldap3.Connection | None = connect(cfg, password, bind_reason=bind_reason)
        self.result: dict[str, Any] = {}
        self.outage: Outage | None = None  # the run's, once `share_outage` gives it

    def close(self) -> None:
        if self.conn is not None:
            _quietly_close(self.conn)
            self.conn = None

    # -- the rule -----------------------------------------------------------------------
    def run(self, what: str, op: Callable[[ldap3.Connection], T], *, resend: bool,
            check: str = "read the entry back") -> T:
        """`op(conn)` on a live connection, again on a new one if it is lost (see the
        module). `what` names the request in errors; `check` says what to look at when
        a write that is not resent may or may not have been done."""
        from ldap3.core.exceptions import LDAPException

        lost: Exception | None = None
        for _ in range(RECONNECT_TRIES):
            conn = self._live()
            try:
                value = op(conn)
            except (RequestNotSent, AnswerLost, LDAPException, OSError) as exc:
                stage = _stage(exc)
                if stage is None:
                    raise exception_error(exc, what) from None
                self._drop()
                if stage == "left" and not resend:
                    raise outcome_unknown(what, self.where, _reason(exc), check) from None
                lost = exc
                log.info("directory %s: connection lost during %s (%s); opening a new one",
                         self.where, what, _reason(exc))
                continue
            if isinstance(value, dict) and "result" in value:
                self.result = value
            elif isinstance(conn.result, dict):
                self.result = dict(conn.result)
            return value
        raise ConnectionFailed(f"{what}: the connection to the directory at {self.where} was "
                               f"lost {RECONNECT_TRIES} times ({_reason(lost or OSError())})",
                               hint="check that the directory is up (`adminkit profile "
                                    "check`) and the network to it")

    def open_and_idle(self) -> bool:
        """The connection is open and the server has not closed it (what `_live` would use
        without opening a new one)."""
        conn = self.conn
        return conn is not None and not conn.closed and not ldapinternals.has_unread(conn)

    def _live(self) -> ldap3.Connection:
        """The connection, or a new one if it was closed or the server closed it while
        it sat idle (nothing was sent on it yet, so nothing is lost)."""
        if self.open_and_idle():
            assert self.conn is not None
            return self.conn
        self._drop()
        outage = self.outage
        if outage is not None and outage.failed is not None:
            raise ConnectionFailed(f"{outage.failed.message}; not tried again in this run",
                                   hint=outage.failed.hint)
        last: ConnectionFailed | None = None
        for attempt in range(RECONNECT_TRIES):
            if attempt:
                time.sleep(RECONNECT_PAUSE)
            try:
                self.conn = connect(self.cfg, self._password, bind_reason=self._bind_reason)
            except AuthenticationFailed:
                raise
            except ConnectionFailed as exc:
                last = exc
                continue
            return self.conn
        assert last is not None
        failed = ConnectionFailed(f"{last.message} (tried {RECONNECT_TRIES} times)",
                                  hint=last.hint)
        if outage is not None:
            outage.failed = failed
        raise failed from None

    def _drop(self) -> None:
        """Forget the connection; its state is unknown, so it is never used again."""
        if self.conn is not None:
            conn, self.conn = self.conn, None
            _quietly_close(conn)

    # -- requests -------------------------------------------------------------------------
    def search(self, what: str, base: str, flt: str, scope: str, attributes: Sequence[str],
               **options: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """(result, response) of one search; a read, so sent again if its answer is lost.
        `scope`: BASE, LEVEL or SUBTREE; `options` go to ldap3's `search`."""
        import ldap3

        scopes = {"SUBTREE": ldap3.SUBTREE, "LEVEL": ldap3.LEVEL, "BASE": ldap3.BASE}

        def op(conn: ldap3.Connection) -> tuple[dict[str, Any], list[dict[str, Any]]]:
            conn.search(base, flt, scopes[scope], attributes=list(attributes), **options)
            return dict(conn.result), list(conn.response or [])

        return self.run(what, op, resend=True)

    def search_equal(self, what: str, base: str, matches: Sequence[tuple[str, str]],
                     attributes: Sequence[str], text_filter: str
                     ) -> list[dict[str, Any]] | None:
        """ldapwire's bulk login search (a read); None when it cannot serve."""
        return self.run(what, lambda conn: ldapwire.search_equal(
            conn, base, matches, attributes, text_filter), resend=True)

    def add(self, what: str, dn: str, object_classes: Sequence[str],
            attributes: Mapping[str, Any]) -> dict[str, Any]:
        """Never sent twice: a second add of an entry that was made answers "exists"."""
        return self.run(what, lambda conn: ldapwire.add(conn, dn, object_classes, attributes),
                        resend=False, check=f"look {dn} up (`adminkit account show LOGIN`)")

    def add_many(self, adds: Sequence[tuple[str, ldapwire.Add]]
                 ) -> list[dict[str, Any] | Exception]:
        """(what, add) pairs pipelined on one connection (`ldapwire.add_many`); each
        add's result or the error that is its outcome, in order. None is sent twice: an
        add that left and lost its answer is OutcomeUnknown; those that had not left when
        the connection failed go on a new one."""
        return self._pipelined(
            len(adds), "adds",
            lambda conn, todo: ldapwire.add_many(conn, [adds[k][1] for k in todo]),
            lambda k: self._one_add(*adds[k]), lambda k: False,
            lambda k: (adds[k][0], f"look {adds[k][1][0]} up (`adminkit account show LOGIN`)"))

    def modify_many(self, modifies: Sequence[tuple[str, str, ldapwire.Changes,
                                                   Collection[int]]]
                    ) -> list[dict[str, Any] | Exception]:
        """(what, dn, changes, tolerate) pipelined on one connection (`ldapwire.modify_many`);
        each modify's result or the error that is its outcome, in order. The rule of
        `modify` holds for each: one whose answer was lost goes again (on a new
        connection) only if `resendable(changes, tolerate)`, else it is OutcomeUnknown."""
        return self._pipelined(
            len(modifies), "modifies",
            lambda conn, todo: ldapwire.modify_many(conn, [modifies[k][1:3] for k in todo]),
            lambda k: self._one_modify(*modifies[k]),
            lambda k: resendable(modifies[k][2], modifies[k][3]),
            lambda k: (modifies[k][0], f"read {', '.join(modifies[k][2])} of "
                                       f"{modifies[k][1]} back"))

    def _pipelined(self, count: int, noun: str,
                   wire: Callable[[ldap3.Connection, list[int]],
                                  list[dict[str, Any] | Exception] | None],
                   one: Callable[[int], dict[str, Any] | Exception],
                   again: Callable[[int], bool], check: Callable[[int], tuple[str, str]]
                   ) -> list[dict[str, Any] | Exception]:
        """`count` requests sent by `wire(conn, indexes)` on one connection; each one's
        result or the error that is its outcome, in order. Those that had not left when
        the connection failed go again on a new one, and so do those whose answer was
        lost if `again(index)`; any other whose answer was lost is OutcomeUnknown
        (`check(index)`: what it was and what to look at). `wire` None: not our path,
        each goes alone by `one(index)`."""
        out: list[dict[str, Any] | Exception | None] = [None] * count
        todo = list(range(count))
        lost: Exception | None = None
        for _ in range(RECONNECT_TRIES):
            try:
                conn = self._live()
            except (ConnectionFailed, AuthenticationFailed) as exc:
                return [r if r is not None else copy.copy(exc) for r in out]  # each its own
            got = wire(conn, todo)
            if got is None:  # not our path: ldap3, one at a time, each by the same rule
                for k in todo:
                    out[k] = one(k)
                return [r for r in out if r is not None]
            unsent: list[int] = []
            for k, outcome in zip(todo, got, strict=True):
                if isinstance(outcome, RequestNotSent) or (isinstance(outcome, AnswerLost)
                                                           and again(k)):
                    unsent.append(k)
                    lost = outcome
                elif isinstance(outcome, AnswerLost):
                    what, look = check(k)
                    out[k] = outcome_unknown(what, self.where, _reason(outcome), look)
                else:
                    out[k] = outcome
                    if isinstance(outcome, dict):
                        self.result = outcome
            if self.conn is not None and self.conn.closed:
                self._drop()
            if not unsent:
                return [r for r in out if r is not None]
            todo = unsent
            log.info("directory %s: connection lost during %d %s (%s); the %d that may go "
                     "again go on a new one", self.where, count, noun,
                     _reason(lost or OSError()), len(unsent))
        failed = ConnectionFailed(
            f"{len(todo)} {noun}: the connection to the directory at {self.where} was lost "
            f"{RECONNECT_TRIES} times ({_reason(lost or OSError())})",
            hint="check that the directory is up (`adminkit profile check`) and the network "
                 "to it")
        # each row its own copy: a row's note (its password taken back) stays its own
        return [r if r is not None else copy.copy(failed) for r in out]

    def _one_modify(self, what: str, dn: str, changes: ldapwire.Changes,
                    tolerate: Collection[int]) -> dict[str, Any] | Exception:
        try:
            return self.modify(what, dn, changes, tolerate=tolerate)
        except Exception as exc:  # noqa: BLE001 - this modify's outcome
            return exc

    def _one_add(self, what: str, add: ldapwire.Add) -> dict[str, Any] | Exception:
        try:
            return self.add(what, *add)
        except Exception as exc:  # noqa: BLE001 - this add's outcome
            return exc

    def delete(self, what: str, dn: str, controls: Any = None) -> dict[str, Any]:
        """Never sent twice: a second delete of an entry that went answers "no such"."""
        def op(conn: ldap3.Connection) -> dict[str, Any]:
            conn.delete(dn, controls=controls)
            return dict(conn.result)

        return self.run(what, op, resend=False, check=f"look {dn} up")

    def modify_dn(self, what: str, dn: str, rdn: str, new_superior: str) -> dict[str, Any]:
        """Never sent twice: a second rename of an entry that moved answers "no such"."""
        def op(conn: ldap3.Connection) -> dict[str, Any]:
            conn.modify_dn(dn, rdn, new_superior=new_superior)
            return dict(conn.result)

        return self.run(what, op, resend=False,
                        check=f"look for the entry under {new_superior} and at {dn}")

    def modify(self, what: str, dn: str, changes: Mapping[str, Sequence[tuple[str, Any]]], *,
               tolerate: Collection[int] = (), controls: Any = None) -> dict[str, Any]:
        """Sent again after a lost answer only if `resendable(changes, tolerate)`."""
        def op(conn: ldap3.Connection) -> dict[str, Any]:
            conn.modify(dn, dict(changes), controls=controls)
            return dict(conn.result)

        names = ", ".join(changes)
        return self.run(what, op, resend=resendable(changes, tolerate),
                        check=f"read {names} of {dn} back")

    def password_modify(self, what: str, dn: str, new_password: Secret) -> dict[str, Any]:
        """RFC 3062 Password Modify: a password change, never sent twice."""
        def op(conn: ldap3.Connection) -> dict[str, Any]:
            conn.extend.standard.modify_password(dn, new_password=new_password.reveal())
            # only these keys: the request, and so the password, stays out of the result
            return {k: conn.result.get(k) for k in ("result", "description", "message")}

        return self.run(what, op, resend=False,
                        check="try a bind with the new password, or set it again")
