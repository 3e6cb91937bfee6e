"""Account actions by name, for the CLI and (later) playbook steps."""

from __future__ import annotations

from typing import Any

from adminkit.accounts.actions.attributes import MoveAccount, SetAttributes
from adminkit.accounts.actions.create import CreateAccount
from adminkit.accounts.actions.delete import DeleteAccount, PurgeQuarantine
from adminkit.accounts.actions.groups import AccountGroups
from adminkit.accounts.actions.password import ResetPassword
from adminkit.accounts.actions.report import ReportAccounts
from adminkit.accounts.actions.state import (
    DisableAccount,
    EnableAccount,
    ExpireAccount,
    UnlockAccount,
)
from adminkit.core.action import Action

ACTIONS: dict[str, type[Action[Any]]] = {cls.name: cls for cls in (
    CreateAccount, DisableAccount, EnableAccount, UnlockAccount, ExpireAccount, ResetPassword,
    AccountGroups, MoveAccount, SetAttributes, DeleteAccount, PurgeQuarantine, ReportAccounts)}

__all__ = ["ACTIONS", "AccountGroups", "CreateAccount", "DeleteAccount", "DisableAccount",
           "EnableAccount", "ExpireAccount", "MoveAccount", "PurgeQuarantine", "ReportAccounts",
           "ResetPassword",
           "SetAttributes", "UnlockAccount"]
