"""Every action a playbook step may use, by name."""

from __future__ import annotations

from typing import Any

from adminkit.accounts.actions import ACTIONS as ACCOUNT_ACTIONS
from adminkit.core.action import Action

ACTIONS: dict[str, type[Action[Any]]] = {**ACCOUNT_ACTIONS}
