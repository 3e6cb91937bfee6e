"""Print actions by name, for the CLI, playbook steps and resume (the domain's `actions`).

The print action modules are light (pydantic and core only; pycups is imported by the
CUPS backend when a server is opened), so they are all imported here at once.
"""

from __future__ import annotations

from typing import Any

from adminkit.core.action import Action
from adminkit.printing.actions.jobs import CancelJob, HoldJob, MoveJob, ReleaseJob, RestartJob
from adminkit.printing.actions.lifecycle import (
    AddPrinter,
    DefaultPrinter,
    RemovePrinter,
    SetPrinterOptions,
)
from adminkit.printing.actions.printers import (
    AcceptJobs,
    PausePrinter,
    RejectJobs,
    ResumePrinter,
    TestPage,
)
from adminkit.printing.actions.queue import PurgeQueue, RestartSpooler

ACTIONS: dict[str, type[Action[Any]]] = {cls.name: cls for cls in (
    PausePrinter, ResumePrinter, RejectJobs, AcceptJobs, AddPrinter, RemovePrinter,
    SetPrinterOptions, DefaultPrinter, TestPage, CancelJob, HoldJob, ReleaseJob, RestartJob,
    MoveJob, PurgeQueue, RestartSpooler)}
