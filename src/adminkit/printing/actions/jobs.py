"""One job: cancel, hold, release, restart, move. A job that finished in the meantime
is `ok` (nothing to do), not a failure: it is gone from the queue either way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from adminkit.core.action import Action, Applied, Params, Plan
from adminkit.core.context import Context
from adminkit.core.errors import ActionFailed, UsageError, ValidationError
from adminkit.core.result import Change
from adminkit.printing.actions.base import JobAction, JobParams, PrinterName, job_label
from adminkit.printing.server import Job, PrintServer, same_queue


def write_or_settled(server: PrintServer, job_id: int, plan: Plan,
                     write: Callable[[PrintServer], None]) -> Applied:
    """`write`; if the server refuses it because the job finished since it was planned,
    the plan is emptied, so that the runner reports `ok` (nothing to do), not a change."""
    try:
        write(server)
    except (ActionFailed, ValidationError):
        job = server.job(job_id)
        if job is not None and not job.finished:
            raise
        # a finished job is history (CUPS) or gone (Windows keeps none)
        state = job.state if job is not None else "finished"
        plan.changes.clear()
        plan.summary = f"job {job_id} was {state} meanwhile: nothing to do"
        plan.data["meanwhile"] = state
    return Applied()


class _OneJob(JobAction[JobParams]):
    params_model: ClassVar[type[Params]] = JobParams
    verb: ClassVar[str]
    after: ClassVar[str]

    def wanted(self, job: Job) -> str | None:
        """Why nothing is to be done, or None if it is."""
        if job.finished:
            return f"job {job.id} is already {job.state}: nothing to do"
        return None

    def plan(self, ctx: Context) -> Plan:
        job = self.lookup(ctx)
        nothing = self.wanted(job)
        if nothing:
            return Plan(summary=nothing)
        return Plan([Change(op="set", field="state", before=job.state, after=self.after)],
                    summary=f"{self.verb} {job_label(job)}",
                    data={"printer": job.printer, "owner": job.owner})

    def write(self, server: PrintServer) -> None:
        raise NotImplementedError

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        return write_or_settled(self.server(ctx), self.params.job_id, plan, self.write)


class CancelJob(_OneJob):
    """job.cancel: the job stops and stays in the server's history as canceled."""

    name = "job.cancel"
    destructive = True
    verb, after = "cancel", "canceled"

    def write(self, server: PrintServer) -> None:
        server.cancel_job(self.params.job_id)


class HoldJob(_OneJob):
    """job.hold: the job waits in the queue until released."""

    name = "job.hold"
    verb, after = "hold", "held"

    def wanted(self, job: Job) -> str | None:
        if job.state == "held":
            return f"job {job.id} is already held"
        return super().wanted(job)

    def write(self, server: PrintServer) -> None:
        server.hold_job(self.params.job_id)

    def undo(self) -> Action[Any] | None:
        return ReleaseJob(self.params)


class ReleaseJob(_OneJob):
    """job.release: a held job may print."""

    name = "job.release"
    verb, after = "release", "pending"

    def wanted(self, job: Job) -> str | None:
        if not job.finished and job.state != "held":
            return f"job {job.id} is {job.state}, not held: nothing to release"
        return super().wanted(job)

    def write(self, server: PrintServer) -> None:
        server.release_job(self.params.job_id)

    def undo(self) -> Action[Any] | None:
        return HoldJob(self.params)


class RestartJob(_OneJob):
    """job.restart: print a stopped, canceled, aborted or completed job again from the
    start (CUPS keeps a job's files for a day after it finished)."""

    name = "job.restart"
    verb, after = "restart", "pending"

    def wanted(self, job: Job) -> str | None:
        if job.state in ("pending", "held", "processing"):
            return f"job {job.id} is {job.state}: nothing to restart"
        return None

    def write(self, server: PrintServer) -> None:
        server.restart_job(self.params.job_id)


class MoveParams(JobParams):
    to: PrinterName


class MoveJob(JobAction[MoveParams]):
    """job.move: the job goes to another queue of the same server, keeping its place."""

    name = "job.move"
    params_model: ClassVar[type[Params]] = MoveParams

    def plan(self, ctx: Context) -> Plan:
        job = self.lookup(ctx)
        if job.finished:
            return Plan(summary=f"job {job.id} is already {job.state}: nothing to move")
        if same_queue(job.printer, self.params.to):
            return Plan(summary=f"job {job.id} already is on {self.params.to}")
        if not self.server(ctx).can_move:
            raise UsageError(f"job {job.id}: jobs cannot move between the queues of a "
                             f"{self.server(ctx).kind} print server",
                             hint="cancel it and print it again on the other queue")
        if self.server(ctx).printer(self.params.to) is None:
            raise ValidationError(f"print server {self._where()} has no printer "
                                  f"{self.params.to!r} to move job {job.id} to")
        return Plan([Change(op="move", field="printer", before=job.printer,
                            after=self.params.to)],
                    summary=f"move {job_label(job)} to {self.params.to}")

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        return write_or_settled(self.server(ctx), self.params.job_id, plan,
                                lambda server: server.move_job(self.params.job_id,
                                                               self.params.to))

    def undo(self) -> Action[Any] | None:
        if self.current is None:
            return None
        return MoveJob(MoveParams(server=self.params.server, job_id=self.params.job_id,
                                  to=self.current.printer))
