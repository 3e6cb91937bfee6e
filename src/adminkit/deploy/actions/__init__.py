"""Deploy actions by name, for the CLI, playbook steps and resume."""

from __future__ import annotations

from typing import Any

from adminkit.core.action import Action
from adminkit.deploy.actions.packages import InstallApp, PatchHost, RemoveApp, UpgradeApp
from adminkit.deploy.actions.reboot import RebootHost
from adminkit.deploy.actions.run import RunCommand

ACTIONS: dict[str, type[Action[Any]]] = {
    cls.name: cls for cls in (InstallApp, UpgradeApp, RemoveApp, PatchHost, RunCommand,
                                RebootHost)}
