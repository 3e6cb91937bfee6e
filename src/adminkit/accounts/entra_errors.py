"""Graph's answers as adminkit errors: what failed, in Entra's words, and what to do.

A refused permission is exit 3 and names the application permission to grant (with
admin consent); a missing user is a validation error; a lost answer to a write is
OutcomeUnknown (it may have been done). Messages are built from names and Graph's own
message, never from a credential.
"""

from __future__ import annotations

from adminkit.accounts.entra_http import LOST, Answer
from adminkit.core.errors import (
    ActionFailed,
    AdminkitError,
    AuthenticationFailed,
    ConnectionFailed,
    OutcomeUnknown,
    ValidationError,
)

# what each kind of request needs, least privilege first (Graph permissions reference)
PERMISSIONS = {
    "read users": "User.Read.All",
    "write users": "User.ReadWrite.All",
    "read groups": "GroupMember.Read.All",
    "write members": "GroupMember.ReadWrite.All",
    "read roles": "RoleManagement.Read.Directory",
    "read licences": "LicenseAssignment.Read.All",
    "write licences": "LicenseAssignment.ReadWrite.All",
    "revoke sessions": "User.RevokeSessions.All",
    "restore users": "User.DeleteRestore.All",
    "read sign-ins": "AuditLog.Read.All",
    "join role-assignable group": "RoleManagement.ReadWrite.Directory",
}


def conflict(answer: Answer) -> bool:
    _, message, details = answer.error()
    return any(d.get("code") == "ObjectConflict" for d in details) or \
        "already exist" in message


def graph_error(answer: Answer, what: str, need: str) -> AdminkitError:
    """The error for a failed `answer` to the request doing `what` (needing `need`)."""
    code, message, _ = answer.error()
    status = answer.status
    if status == LOST:
        return OutcomeUnknown(f"{what}: the answer from Microsoft Graph was lost; it may or "
                              "may not have been done",
                              hint="check the account (`account show`) before trying again")
    if status == 401:
        return AuthenticationFailed(f"{what}: Microsoft Graph refused the app's token "
                                    f"({code or 401})",
                                    hint="check the tenant id and the app's credential")
    if status == 403 and code == "Authentication_RequestFromNonPremiumTenantOrB2CTenant":
        return ActionFailed(f"{what}: this tenant has no sign-in activity to read (it needs "
                            "Microsoft Entra ID P1 or P2)",
                            hint="the report needs a premium licence in the tenant")
    if status == 403:
        permission = PERMISSIONS.get(need, need)
        return AuthenticationFailed(f"{what}: the app may not do this in the tenant "
                                    f"({code or 403}: {message})",
                                    hint=f"grant the application permission {permission} "
                                         "to the app registration, with admin consent")
    if status == 404:
        return ValidationError(f"{what}: not found in Entra ID ({message})")
    if status == 400 and (conflict(answer) or "Invalid value specified" in message
                          or "is invalid" in message):
        return ValidationError(f"{what}: {message}")
    if status in (429, 503, 504):
        return ConnectionFailed(f"{what}: Microsoft Graph is throttling or unavailable "
                                f"({status} {code}) after several tries",
                                hint="run it again later; bulk runs slow down by themselves")
    return ActionFailed(f"{what}: Microsoft Graph answered {status} {code}: {message}")
