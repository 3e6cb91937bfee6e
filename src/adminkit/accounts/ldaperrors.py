"""Turning LDAP result codes and AD's `data NNN` sub-codes into advice a technician can use."""

from __future__ import annotations

import re
from typing import Any

from adminkit.core.errors import (
    ActionFailed,
    AdminkitError,
    AuthenticationFailed,
    PolicyRefused,
    ValidationError,
)

# AcceptSecurityContext "data NNN" codes of a failed AD bind
AD_BIND_CODES = {
    "52e": "wrong password, or no such user",
    "525": "no such user",
    "530": "logon not permitted at this time",
    "531": "logon not permitted from this workstation",
    "532": "password expired",
    "533": "account disabled",
    "701": "account expired",
    "773": "password must be changed before first logon",
    "775": "account locked out",
}

AD_WRITE_CODES = {
    "0000052D": "the password does not meet the domain's policy (length, complexity or history)",
    "00002071": "that sAMAccountName is already taken",
    "0000202F": "the directory refused a value (invalid characters, or the "
                "userPrincipalName is taken)",
    "0000200D": "an attribute given several values takes only one",
    "00002095": "the target OU does not exist",
    "00002035": "the server refused the password encoding",
}

_DATA = re.compile(r"data ([0-9a-f]{3,4})", re.IGNORECASE)
_HEX = re.compile(r"\b(0000[0-9A-F]{4})\b")


def bind_error(result: dict[str, Any], who: str) -> AuthenticationFailed:
    message = str(result.get("message") or result.get("description") or "")
    match = _DATA.search(message)
    reason = AD_BIND_CODES.get(match.group(1).lower()) if match else None
    reason = reason or str(result.get("description") or "invalid credentials")
    return AuthenticationFailed(f"bind as {who} failed: {reason}",
                                hint="check the profile's bind_user and its password reference")


def write_error(result: dict[str, Any], what: str) -> AdminkitError:
    """An error for a failed add/modify/delete, chosen by LDAP result code."""
    code = int(result.get("result", 80))
    message = str(result.get("message") or "")
    hex_code = _HEX.search(message)
    detail = AD_WRITE_CODES.get(hex_code.group(1)) if hex_code else None
    if detail is None and "check_password_restrictions" in message:
        detail = "the password does not meet the domain's policy"
    if detail is None and "quality" in message.lower():
        detail = "the password does not meet the directory's password policy"
    if detail is None and "history" in message.lower():
        detail = "the password was used before (history)"
    text = {
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
    }.get(code, str(result.get("description") or f"LDAP result {code}"))
    msg = f"{what}: {detail or text}"
    if code == 50:
        return PolicyRefused(msg, hint="delegate the right to the service account, or ask an admin")
    if code in (19, 21, 34, 65) or detail:
        return ValidationError(msg)
    return ActionFailed(msg)
