"""Running work: the one run service every caller uses (CLI, playbooks, triggers, schedules).

The names are imported when first asked for: `adminkit.automation.domain` (the profile
section, loaded with every profile) must not bring the run service in with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adminkit.automation.request import Bulk, PlaybookRequest, RunRequest
    from adminkit.automation.service import RunService

__all__ = ["Bulk", "PlaybookRequest", "RunRequest", "RunService"]


def __getattr__(name: str) -> Any:
    if name in ("Bulk", "PlaybookRequest", "RunRequest"):
        from adminkit.automation import request

        return getattr(request, name)
    if name == "RunService":
        from adminkit.automation.service import RunService

        return RunService
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
