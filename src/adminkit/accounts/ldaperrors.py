"""LDAP answers and ldap3's exceptions as adminkit errors, the same for every directory.

The result code (RFC 4511 4.1.9) picks the class, and with it the exit code: a refused
bind or a connection lost or refused 3, insufficient access 4, a constraint, syntax or
naming problem 2, anything else 1. What a server says beyond the code (AD's `data 52e`
and `0000052D`, ppolicy's texts) is read by its backend, which passes it in as `detail`
or `reason`.
"""

from __future__ import annotations

from typing import Any

from adminkit.core import errors
from adminkit.core.errors import (
    ActionFailed,
    AdminkitError,
    AuthenticationFailed,
    ConnectionFailed,
    PolicyRefused,
    ValidationError,
)
from adminkit.core.secrets import redact

UP_HINT = "check that the directory is up (`adminkit profile check`)"

CODE_TEXT = {
    68: "it already exists",
    32: "no such entry (check the DN or OU)",
    50: "the service account may not do this (insufficient access rights)",
    19: "the directory refused it (constraint violation)",
    20: "the value is already there",
    16: "no such value",
    65: "the entry would break its object class rules",
    53: "the directory is unwilling to do it",
    34: "the DN is malformed",
    21: "a value has the wrong syntax",
    17: "the directory has no such attribute",
    64: "the name breaks the directory's naming rules",
    66: "the entry has entries below it",
    4: "more entries match than the directory returns",
    10: "the entry is held by another server (referral)",
    51: "the directory is busy",
    52: "the directory is unavailable",
    8: "the directory wants a stronger (TLS-protected) connection",
    13: "the directory wants a confidential (TLS) connection",
}
NOT_ALLOWED = (50,)
BAD_INPUT = (19, 21, 34, 64, 65, 17)
UNREACHABLE = (8, 13, 51, 52)


class OutcomeUnknown(errors.OutcomeUnknown):
    """A write left for the directory and its answer was lost: it may or may not have
    been done, and it was not sent again."""


def result_error(result: dict[str, Any], what: str, *, detail: str | None = None
                 ) -> AdminkitError:
    """The error for a request the directory answered with a failure code.

    `detail`: what the backend read in the server's message, said instead of the
    code's generic text; a password or naming detail makes it a ValidationError.
    """
    code = int(result.get("result", 80))
    text = CODE_TEXT.get(code) or str(result.get("description") or f"LDAP result {code}")
    msg = f"{what}: {detail or text}"
    if code in NOT_ALLOWED:
        return PolicyRefused(msg, hint="delegate the right to the service account, or ask an "
                                       "admin")
    if code in UNREACHABLE:
        return ConnectionFailed(msg, hint=UP_HINT if code in (51, 52) else
                                "use ldaps:// or starttls: true in the profile")
    if code == 49:
        return AuthenticationFailed(msg, hint="check the profile's bind_user and its password "
                                              "reference")
    if code in BAD_INPUT or detail:
        return ValidationError(msg)
    return ActionFailed(msg)


def bind_error(result: dict[str, Any], who: str, *, reason: str | None = None
               ) -> AuthenticationFailed:
    """A refused bind; `reason` is the backend's reading of the server's message."""
    said = reason or str(result.get("description") or "invalid credentials")
    return AuthenticationFailed(f"bind as {who} failed: {said}",
                                hint="check the profile's bind_user and its password reference")


def outcome_unknown(what: str, where: str, why: str, check: str) -> OutcomeUnknown:
    return OutcomeUnknown(
        f"{what}: the directory at {where} did not answer ({why}); it may or may not have "
        "been done, and was not sent again", hint=f"{check} before trying again")


def exception_error(exc: Exception, what: str) -> AdminkitError:
    """An ldap3 exception (or a socket error under it) as an adminkit error.

    ldap3 raises for client-side problems even with `raise_exceptions=False`: a DN or
    filter it cannot parse is bad input (2); a socket that failed is a connection
    failure (3); anything else is a failed action (1), named by its class.
    """
    from ldap3.core import exceptions as lexc

    if isinstance(exc, AdminkitError):
        return exc
    text = redact(str(exc).splitlines()[0] if str(exc) else "")[:200]
    if isinstance(exc, lexc.LDAPOperationResult):
        return result_error({"result": exc.result, "description": exc.description,
                             "message": exc.message}, what)
    if isinstance(exc, lexc.LDAPInvalidDnError):
        return ValidationError(f"{what}: not a valid DN ({text})",
                               hint="a DN looks like CN=Name,OU=Unit,DC=example,DC=com")
    if isinstance(exc, lexc.LDAPInvalidFilterError):
        return ValidationError(f"{what}: the search filter is invalid")
    if isinstance(exc, lexc.LDAPAttributeError | lexc.LDAPInvalidValueError
                  | lexc.LDAPObjectClassError | lexc.LDAPChangeError):
        return ValidationError(f"{what}: {text or type(exc).__name__}")
    if isinstance(exc, lexc.LDAPCommunicationError | lexc.LDAPResponseTimeoutError
                  | lexc.LDAPStartTLSError | OSError):
        return ConnectionFailed(f"{what}: the connection to the directory failed "
                                f"({text or type(exc).__name__})", hint=UP_HINT)
    return ActionFailed(f"{what}: {type(exc).__name__}: {text}")
