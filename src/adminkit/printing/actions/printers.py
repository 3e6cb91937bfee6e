"""Stop and start a queue, refuse and accept jobs, print a test page."""

from __future__ import annotations

from typing import Any, ClassVar

from adminkit.core.action import Action, Applied, Params, Plan
from adminkit.core.context import Context
from adminkit.core.errors import UsageError
from adminkit.core.result import Change
from adminkit.printing.actions.base import PrinterAction, PrinterParams, Reason
from adminkit.printing.server import Printer


class ReasonParams(PrinterParams):
    reason: Reason | None = None  # shown to users while the queue is paused or rejecting


class _Switch(PrinterAction[ReasonParams]):
    """One of a queue's two switches (printing: pause/resume; taking jobs: reject/accept),
    turned one way: turning it off may carry a reason, and its undo turns it back."""

    params_model: ClassVar[type[Params]] = ReasonParams

    def reason_change(self, printer: Printer) -> Change:
        return Change(op="set", field="reason", before=printer.reason or None,
                      after=self.params.reason)

    def back(self, action: type[_Switch]) -> _Switch:
        """`action` on this queue, without a reason: the undo."""
        return action(ReasonParams(server=self.params.server, printer=self.params.printer))


class PausePrinter(_Switch):
    """printer.pause: the queue keeps its jobs and takes new ones, but prints none."""

    name = "printer.pause"
    paused = True

    def plan(self, ctx: Context) -> Plan:
        printer = self.lookup(ctx)
        is_paused = printer.state == "paused"
        verb = "pause" if self.paused else "resume"
        if is_paused == self.paused:
            return Plan(summary=f"{self.label()} is already "
                                f"{'paused' if self.paused else printer.state}")
        after = "paused" if self.paused else "idle"
        changes = [Change(op="set", field="state", before=printer.state, after=after)]
        dropped = ""
        if self.paused and self.params.reason:
            if self.server(ctx).keeps_reason:
                changes.append(self.reason_change(printer))
            else:  # said, not shown as a change the server would never make
                dropped = f" (a {self.server(ctx).kind} queue keeps no reason)"
        return Plan(changes, summary=f"{verb} {self.label()}{dropped}")

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        self.server(ctx).set_enabled(self.params.printer, not self.paused, self.params.reason)
        return Applied()

    def undo(self) -> Action[Any] | None:
        return self.back(ResumePrinter if self.paused else PausePrinter)


class ResumePrinter(PausePrinter):
    """printer.resume: the queue prints again."""

    name = "printer.resume"
    paused = False


class RejectJobs(_Switch):
    """printer.reject: new jobs are refused (with the reason); queued ones still print."""

    name = "printer.reject"
    accepting = False

    def plan(self, ctx: Context) -> Plan:
        printer = self.lookup(ctx)
        if not self.accepting and not self.server(ctx).can_reject:
            raise UsageError(f"{self.label()}: a {self.server(ctx).kind} print queue cannot "
                             "refuse jobs", hint=f"`adminkit printer pause "
                                                 f"{self.params.printer}` holds them instead")
        verb = "accept jobs on" if self.accepting else "reject jobs on"
        if printer.accepting == self.accepting:
            return Plan(summary=f"{self.label()} already "
                                f"{'accepts' if self.accepting else 'rejects'} jobs")
        changes = [Change(op="set", field="accepting", before=printer.accepting,
                          after=self.accepting)]
        if not self.accepting and self.params.reason:
            changes.append(self.reason_change(printer))
        return Plan(changes, summary=f"{verb} {self.label()}")

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        self.server(ctx).set_accepting(self.params.printer, self.accepting, self.params.reason)
        return Applied()

    def undo(self) -> Action[Any] | None:
        return self.back(RejectJobs if self.accepting else AcceptJobs)


class AcceptJobs(RejectJobs):
    """printer.accept: new jobs are taken again."""

    name = "printer.accept"
    accepting = True


class TestPage(PrinterAction[PrinterParams]):
    """printer.test_page: a short plain-text page; the report carries its job id."""

    name = "printer.test_page"
    params_model: ClassVar[type[Params]] = PrinterParams

    def plan(self, ctx: Context) -> Plan:
        # a queue that rejects jobs is not refused here: an earlier step of a playbook may
        # accept them again (in a check run it has not); the server says so if not
        self.lookup(ctx)
        return Plan([Change(op="run", field="test page", after=self.params.printer)],
                    summary=f"print a test page on {self.label()}")

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        job_id = self.server(ctx).test_page(self.params.printer)
        return Applied(summary=f"print a test page on {self.label()}: job {job_id}",
                       data={"job_id": job_id})
