"""What print actions share: parameters naming a server, a printer or a job, and lookups.

Names and ids are validated by the parameter models, so a bad one is refused (exit 2)
before any server is contacted.
"""

from __future__ import annotations

from typing import Annotated, TypeVar

from pydantic import AfterValidator, Field

from adminkit.core.action import Action, Params
from adminkit.core.context import Context
from adminkit.core.errors import ValidationError
from adminkit.printing.server import Job, Printer, PrintServer, check_printer_name
from adminkit.printing.servers import server_config, server_of


def _plain(value: str) -> str:
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("contains a control character")
    return value


PrinterName = Annotated[str, AfterValidator(check_printer_name)]
ServerName = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_plain)]
Reason = Annotated[str, Field(max_length=255), AfterValidator(_plain)]
UserName = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_plain)]
JobId = Annotated[int, Field(ge=1, le=2**31 - 1)]


class ServerParams(Params):
    server: ServerName | None = None  # None: the profile's first print server


class PrinterParams(ServerParams):
    printer: PrinterName


class JobParams(ServerParams):
    job_id: JobId


P = TypeVar("P", bound=ServerParams)
T = TypeVar("T")


class PrintAction(Action[P]):
    """An action on one print server; its summaries name the server."""

    _server_name: str | None = None

    def server(self, ctx: Context) -> PrintServer:
        found = server_of(ctx, self.params.server)
        self._server_name = found.name
        return found

    def _where(self) -> str:
        return self._server_name or self.params.server or "(default)"

    def resolve_server(self, ctx: Context) -> str:
        self._server_name = server_config(ctx.require_profile(), self.params.server).name
        return self._server_name

    def existing(self, found: T | None, what: str, hint: str) -> T:
        """What a lookup found; nothing is refused (exit 2), naming the server."""
        if found is None:
            raise ValidationError(f"print server {self._where()} has no {what}", hint=hint)
        return found


PP = TypeVar("PP", bound=PrinterParams)


class PrinterAction(PrintAction[PP]):
    target_param = "printer"
    current: Printer | None = None

    def target(self) -> str:
        """The queue's name, as the playbook step names it (the server is in `label`)."""
        return self.params.printer

    def label(self) -> str:
        return f"{self.params.printer} on {self._where()}"

    def lookup(self, ctx: Context) -> Printer:
        self.current = self.existing(self.server(ctx).printer(self.params.printer),
                                     f"printer {self.params.printer!r}",
                                     hint="`adminkit printer list` shows them")
        return self.current


JP = TypeVar("JP", bound=JobParams)


class JobAction(PrintAction[JP]):
    target_param = "job_id"
    current: Job | None = None

    def target(self) -> str:
        return f"job {self.params.job_id}"

    def lookup(self, ctx: Context) -> Job:
        self.current = self.existing(self.server(ctx).job(self.params.job_id),
                                     f"job {self.params.job_id}",
                                     hint="`adminkit job list` shows the active ones")
        return self.current


def job_label(job: Job) -> str:
    return (f"job {job.id} ({job.name or 'untitled'} by {job.owner or '?'} on {job.printer}"
            f"{' of ' + job.server if job.server else ''})")
