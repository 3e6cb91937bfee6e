"""Account actions by name, for the CLI, playbook steps and resume.

Each class is imported when first asked for: `account import` loads the create action
and what it uses, not the delete, move or report actions (about 10 ms of start-up).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adminkit.accounts.actions.attributes import MoveAccount, SetAttributes
    from adminkit.accounts.actions.create import CreateAccount
    from adminkit.accounts.actions.delete import DeleteAccount, PurgeQuarantine
    from adminkit.accounts.actions.groups import AccountGroups
    from adminkit.accounts.actions.licenses import AccountLicenses
    from adminkit.accounts.actions.password import ResetPassword
    from adminkit.accounts.actions.report import ReportAccounts
    from adminkit.accounts.actions.restore import RestoreAccount
    from adminkit.accounts.actions.state import (
        DisableAccount,
        EnableAccount,
        ExpireAccount,
        UnlockAccount,
    )
    from adminkit.core.action import Action

    ACTIONS: dict[str, type[Action[Any]]]

# class name -> the module that defines it, in the order of the action names below
_CLASSES = {
    "CreateAccount": "create", "DisableAccount": "state", "EnableAccount": "state",
    "UnlockAccount": "state", "ExpireAccount": "state", "ResetPassword": "password",
    "AccountGroups": "groups", "MoveAccount": "attributes", "SetAttributes": "attributes",
    "DeleteAccount": "delete", "PurgeQuarantine": "delete", "ReportAccounts": "report",
    "AccountLicenses": "licenses", "RestoreAccount": "restore",
}


def __getattr__(name: str) -> Any:
    """An action class, or `ACTIONS` (action name -> class, every class imported)."""
    if name == "ACTIONS":
        found = {cls.name: cls for cls in (__getattr__(n) for n in _CLASSES)}
        globals()["ACTIONS"] = found
        return found
    module = _CLASSES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = ["ACTIONS", "AccountGroups", "AccountLicenses", "CreateAccount", "DeleteAccount",
           "DisableAccount", "EnableAccount", "ExpireAccount", "MoveAccount", "PurgeQuarantine",
           "ReportAccounts", "ResetPassword", "RestoreAccount", "SetAttributes", "UnlockAccount"]
