"""Running work: the one run service every caller uses (CLI, playbooks, triggers, schedules)."""

from adminkit.automation.request import Bulk, PlaybookRequest, RunRequest
from adminkit.automation.service import RunService

__all__ = ["Bulk", "PlaybookRequest", "RunRequest", "RunService"]
