"""A whole queue (purge) and a whole server (restart the spooler)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from pydantic import Field

from adminkit.core.action import Applied, Params, Plan
from adminkit.core.context import Context
from adminkit.core.errors import JournalError, PolicyRefused, UsageError
from adminkit.core.result import Change
from adminkit.printing.actions.base import (
    PrintAction,
    PrinterAction,
    PrinterParams,
    ServerParams,
    UserName,
)
from adminkit.printing.idranges import id_ranges, parse_id_ranges
from adminkit.printing.server import Job, Printer, SpoolerDown

# what to do when the journal cannot say which jobs an interrupted purge chose
UNRESUMABLE = "`adminkit job list` shows what is left; purge it again if meant"


class PurgeParams(PrinterParams):
    user: UserName | None = None  # only this user's jobs
    older_than: Annotated[int, Field(ge=1)] | None = None  # seconds: only jobs this old
    force: bool = False  # beyond the profile's bulk limit of other users' jobs


class PurgeQueue(PrinterAction[PurgeParams]):
    """queue.purge: cancel the queue's jobs (all, or a user's, or old ones) in one request
    to the server, whatever their number: exactly the jobs the plan chose, never one
    submitted after it (the bulk limit was checked against those), nor on a resume of an
    interrupted purge (`settle`)."""

    name = "queue.purge"
    params_model: ClassVar[type[Params]] = PurgeParams
    destructive = True
    due: list[Job]

    def plan(self, ctx: Context) -> Plan:
        self.lookup(ctx)
        p = self.params
        jobs = self.server(ctx).jobs(p.printer, brief=True)
        if p.user is not None:
            jobs = [j for j in jobs if j.owner == p.user]
        if p.older_than is not None:
            jobs = [j for j in jobs if (j.age_seconds() or 0) >= p.older_than]
        return self._purging(jobs, f"{self.label()}: no job to purge")

    def settle(self, ctx: Context, intent: dict[str, Any]) -> Plan:
        """A purge an interrupted attempt began (Ctrl-C, a lost answer, SIGKILL): exactly
        the jobs that attempt chose (its intent row) that are still pending, never one
        submitted since, which no bulk limit saw; an empty plan when none is left."""
        try:
            chosen = set(parse_id_ranges(intent.get("ids")))
        except ValueError as exc:
            raise JournalError(f"the journal's intent row of this purge of {self.label()} "
                               f"does not name its jobs readably ({exc}): not resumed",
                               hint=UNRESUMABLE) from None
        newest = _newest_of(intent)
        self.lookup(ctx)
        jobs = [j for j in self.server(ctx).jobs(self.params.printer, brief=True)
                if j.id in chosen and not _submitted_since(j, newest)]
        plan = self._purging(jobs, f"{self.label()}: none of the {len(chosen)} job(s) of "
                                   "the interrupted purge is left")
        plan.data["chosen_ids"] = intent["ids"]  # what the interrupted attempt chose
        return plan

    def _purging(self, jobs: list[Job], nothing: str) -> Plan:
        """The plan to cancel `jobs`; its intent row keeps their ids for a resume."""
        self.due = jobs
        if not jobs:
            return Plan(summary=nothing)
        owners = Counter(j.owner for j in jobs)
        ids = id_ranges([j.id for j in jobs])
        intent: dict[str, Any] = {"ids": ids}
        known = [j.created for j in jobs if j.created is not None]
        if known:  # a resume tells a job that took a chosen id since from the one chosen
            intent["newest"] = max(known).astimezone(UTC).isoformat()
        return Plan([Change(op="delete", field="jobs", before=len(jobs))],
                    summary=f"purge {len(jobs)} job(s) of {len(owners)} user(s) from "
                            f"{self.label()}",
                    data={"jobs": len(jobs), "owners": dict(owners.most_common(20)),
                          "first_ids": [j.id for j in jobs[:20]], "ids": ids},
                    intent=intent)

    def guard(self, ctx: Context, plan: Plan) -> None:
        others = sum(1 for j in getattr(self, "due", []) if j.owner != self.params.user)
        limit = ctx.require_profile().policy.bulk_limit
        if others > limit and not self.params.force:
            raise PolicyRefused(f"the purge would cancel {others} jobs of other users than "
                                f"{self.params.user or 'the requester'}, over the profile's "
                                f"limit of {limit}", hint="add --force if intended")

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        left = self.server(ctx).purge(self.params.printer, [j.id for j in self.due])
        # the journal names them: a person checks exactly which jobs were not cancelled
        return Applied(data={"finished_meanwhile": len(left),
                             "finished_meanwhile_ids": id_ranges(left)} if left else {})


def _newest_of(intent: dict[str, Any]) -> datetime | None:
    """When the newest chosen job was submitted, by the server's clock (None: unknown,
    or an intent row written before adminkit kept it)."""
    newest = intent.get("newest")
    if newest is None:
        return None
    try:
        when = datetime.fromisoformat(str(newest))
    except ValueError:
        raise JournalError("the journal's intent row of this purge gives its newest job's "
                           f"time as {str(newest)[:40]!r}, which is no time: not resumed",
                           hint=UNRESUMABLE) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _submitted_since(job: Job, newest: datetime | None) -> bool:
    """A job under a chosen id but submitted after every chosen one: a Windows spooler
    restarted with empty queues numbers jobs from 2 again, so an id is not proof."""
    return newest is not None and job.created is not None and job.created > newest


class SpoolerParams(ServerParams):
    pass


def _states(printers: list[Printer]) -> dict[str, str]:
    return {p.name: f"{p.state}, {p.jobs} job(s)" for p in printers}


class RestartSpooler(PrintAction[SpoolerParams]):
    """spooler.restart: restart a Windows print server's spooler service, the queues'
    state read before and after."""

    name = "spooler.restart"
    params_model: ClassVar[type[Params]] = SpoolerParams
    target_param = "server"

    def target(self) -> str:
        return self._where()

    def plan(self, ctx: Context) -> Plan:
        cfg_kind = self._kind(ctx)
        if cfg_kind != "windows":
            raise UsageError(f"print server {self._where()} is a {cfg_kind} server: "
                             "`spooler restart` is for Windows print servers",
                             hint="restart cupsd on the host itself (systemctl restart cups)")
        try:
            before: dict[str, str] | str = _states(self.server(ctx).printers())
        except SpoolerDown as exc:  # the very case a restart is for
            before = f"the spooler does not answer: {exc.message}"
        return Plan([Change(op="run", field="spooler", after="restart")],
                    summary=f"restart the spooler of {self._where()}",
                    data={"before": before})

    def _kind(self, ctx: Context) -> str:
        from adminkit.printing.servers import server_config

        cfg = server_config(ctx.require_profile(), self.params.server)
        self._server_name = cfg.name
        return cfg.kind

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        server = self.server(ctx)
        server.restart_spooler()
        return Applied(data={"after": _states(server.printers())})
