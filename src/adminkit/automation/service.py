"""The run service: a `RunRequest` in, a `RunReport` out, the same for every caller.

It opens the journal, makes the ticket notes and delivers them through the outbox,
runs the bulk pre-flight, expands a playbook, and drives the runner. The CLI, ticket
triggers and schedules call it; none of them opens a journal or a runner itself,
and nothing passes through environment variables. A run's journal row records what
it ran (`automation.record`), so `resume` rebuilds it from a verified row.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adminkit.automation import bulk as bulk_run
from adminkit.automation.record import from_record, to_record
from adminkit.automation.request import RunRequest
from adminkit.automation.runlock import Busy, run_lock
from adminkit.core import paths
from adminkit.core.action import Action, Plan
from adminkit.core.config import Profile, load_profile
from adminkit.core.context import Context
from adminkit.core.errors import (
    Interrupted,
    JournalError,
    OutcomeUnknown,
    PolicyRefused,
    UsageError,
)
from adminkit.core.result import Result
from adminkit.core.run import Run, current_operator
from adminkit.core.runner import RunHook, Runner, RunReport
from adminkit.journal.hook import JournalHook
from adminkit.journal.store import Filters, Journal

if TYPE_CHECKING:
    from adminkit.automation.ticketcheck import TicketCheck
    from adminkit.automation.warm import Warm
    from adminkit.tickets.base import TicketRef, TicketSystem
    from adminkit.tickets.notes import TicketNotes
    from adminkit.tickets.outbox import FlushReport, Pump

BULK_NOTES = 20  # above this many actions, notes are delivered after the run, not during
Hooks = Callable[[RunRequest, int], Sequence[RunHook]]  # extra hooks (a progress bar)


class RunService:
    """Runs requests against one journal. Thread-compatible: one run at a time per call."""

    def __init__(self, *, journal_path: Path | None = None, config_dir: Path | None = None,
                 debug: bool = False) -> None:
        self.journal_path = journal_path or paths.default_journal_path()
        self.config_dir = config_dir
        self.debug = debug
        # Notes a run leaves undelivered go to a detached `ticket flush` (a CLI process
        # ends with its run); off where the caller delivers the outbox itself (serve), or
        # where ADMINKIT_DELIVER_LATER=off says a timer or a person will (the test suite).
        self.deliver_later = os.environ.get("ADMINKIT_DELIVER_LATER", "on").strip().lower() \
            not in ("off", "0", "false", "no")
        # A run's notes are delivered by a thread of its own while it goes on; off where
        # runs are short and many (serve's workers: a thread per run cost more than its
        # notes, measured), they are delivered at the run's end, on the caller's thread.
        self.notes_during_run = True

    # -- running ------------------------------------------------------------------------
    def run(self, request: RunRequest, *, hooks: Hooks | None = None,
            warm: Warm | None = None) -> RunReport:
        """Run it; the report's exit code says how it went. Errors that stop a run before
        it starts (a malformed ticket, a bad row, a refused bulk) are raised. `warm`: a
        serve worker's connections, taken from its last run and kept for its next."""
        ref = self._ticket_ref(request)  # a malformed reference stops before anything
        with ExitStack() as stack:
            system = self._open_system(request.profile, ref) if ref else None
            if system is not None:
                stack.callback(system.close)
            checked = self._check_ticket(request.profile, ref, system)  # missing: stop
            actions: Sequence[Action[Any]] | Callable[[Runner], Iterable[Action[Any]]]
            if request.playbook is not None:
                actions = self._playbook(request, ref, checked)
            else:
                actions = list(request.actions)
            run = Run(command=request.command, profile=request.profile.name
                      if request.profile else None, ticket=request.ticket,
                      check=request.check, operator=current_operator(request.operator),
                      record=to_record(request))
            if request.run_id and not request.resume:
                run.id = request.run_id
            lock = stack.enter_context(run_lock(self.journal_path, request.resume or run.id))
            planned: dict[int, Plan] = {}
            opened: Context | None = None
            notices: list[str] = [checked.notice] if checked and checked.notice else []
            if request.bulk is not None and isinstance(actions, list):
                bulk_run.batch_problems(actions, request.bulk.labels)
                bulk_run.blast_radius(request.command, actions, request.profile,
                                      request.bulk.force)
                pre = bulk_run.preflight(Run(command=request.command, profile=run.profile,
                                             ticket=run.ticket, check=True),
                                         request.profile, actions, request.bulk,
                                         debug=self.debug)
                planned, opened = pre.plans, pre.opened
                if not request.check:
                    notices.append(f"plan: {pre.summary}")
            count = len(actions) if isinstance(actions, list) else 0
            extra = list(hooks(request, count)) if hooks else []
            report = self._execute(request, run, actions, ref, system, planned, opened, extra,
                                   ticket_read=checked is not None and checked.ticket is not None,
                                   warm=warm)
            report.notices[:0] = notices
            lock.done = report.status in ("ok", "changed")
            return report
        raise AssertionError("unreachable")  # pragma: no cover - ExitStack re-raises

    def _execute(self, request: RunRequest, run: Run,
                 actions: Sequence[Action[Any]] | Callable[[Runner], Iterable[Action[Any]]],
                 ref: TicketRef | None, system: TicketSystem | None,
                 planned: dict[int, Plan], opened: Context | None,
                 extra: list[RunHook], *, ticket_read: bool = False,
                 warm: Warm | None = None) -> RunReport:
        journal: Journal | None = None
        extra_notices: list[str] = []
        try:
            journal = Journal(self.journal_path)
            _still_to_run(journal, request, run.id)  # under the run's lock: not run since
            done: dict[int, Result] = {}
            unsettled: set[int] = set()
            intents: dict[int, dict[str, Any]] = {}
            if request.resume:
                run.id, run.resumed = request.resume, True
                if request.playbook is not None:
                    _refuse_rolled_back(journal, request.resume)
                done = journal.done_results(request.resume)
                unsettled = _unsettled(journal, request.resume)
                intents = _intents(journal, request.resume, unsettled)
                redo = sorted(i for i in done if i in planned and isinstance(actions, list)
                              and actions[i].still_to_do(planned[i]))  # the systems win
                for index in redo:
                    del done[index]
                if redo:
                    extra_notices.append(
                        f"resume: {len(redo)} row(s) journaled as done need changes again "
                        "(the systems say otherwise): they are done again")
            notes = self._notes(request.profile, ref) if ref else None
            bulk = isinstance(actions, list) and len(actions) > BULK_NOTES
            pump = self._pump(journal, request.profile, system, run.id,
                              background=not bulk and self.notes_during_run) \
                if system is not None else None
            if pump is not None and ref is not None and ticket_read:
                pump.queue_checks[ref.kind, ref.id] = None  # read before: in the queues
            if opened is not None:
                ctx = opened.handover(run)
            elif warm is not None:
                ctx = warm.context(run, request.profile)
            else:
                ctx = Context(run=run, profile=request.profile)
        except BaseException:  # nothing ran: close what the pre-flight opened too
            if opened is not None:
                opened.close()
            if journal is not None:
                journal.close()
            raise
        try:
            runner = Runner(ctx, [JournalHook(journal, notes), *extra], done=done,
                            stop_on_error=request.stop_on_error, debug=self.debug,
                            planned=planned, unsettled=unsettled, intents=intents)
            workers = request.bulk.workers if request.bulk else request.workers
            report = runner.execute(actions(runner) if callable(actions) else actions,
                                    workers=workers)
            report.notices.extend(extra_notices)
            if pump is not None:
                # A bulk run's notes are all handed over: delivering them here would
                # make the run wait for the ticket system.
                delivered = pump.finish(wait=not (bulk and self.deliver_later))
                if self.deliver_later and delivered.not_reached:
                    from adminkit.tickets.outbox import deliver_later

                    delivered.later = deliver_later(self.journal_path, self.config_dir)
                delivery = _delivery_notice(delivered)
                if delivery:
                    report.notices.append(delivery)
                if delivered.published and ref is not None:
                    report.results.append(_published_result(ref, delivered.published))
                    # The end row went in before delivery finished; the newest end row
                    # is how a run ended (`journal runs`), so this one says exit 3 too.
                    JournalHook(journal).run_finished(run, report)
            report.notices.extend(_unsettled_notice(journal))
        except BaseException:
            ctx.close()
            journal.close()
            raise
        if warm is not None:
            warm.keep(ctx)  # for the worker's next run
        else:
            ctx.close()
        journal.close()
        return report

    # -- resuming -----------------------------------------------------------------------
    def resume(self, run_id: str, *, hooks: Hooks | None = None,
               operator: str | None = None, seen_ends: int | None = None) -> RunReport:
        """Finish an interrupted (or failed) run from its journal row, after verifying the
        journal. `last` is the newest such run. A run that finished well is left alone.
        `operator`: who finishes it (a trigger resumes its own run); default, this person.
        `seen_ends`: the run's end rows when the caller decided to resume it; if another
        process ended it since, `Busy` is raised and nothing is done."""
        if run_id == "last":
            run_id = self._last_unfinished()
        finished = self._finished_well(run_id)
        if finished is not None:
            when, head = finished
            report = RunReport(Run(command=head["summary"] or "", profile=head["profile"],
                                   ticket=head["ticket"], check=head["mode"] == "check",
                                   id=run_id, operator=head["operator"]))
            report.notices.append(f"run {run_id} finished at {when}: every action was "
                                  "done; nothing to resume (run the command again to "
                                  "check the systems)")
            return report
        request = self.recorded(run_id)
        request.operator = operator
        request.seen_ends = seen_ends
        return self.run(request, hooks=hooks)

    def _finished_well(self, run_id: str) -> tuple[str, dict[str, Any]] | None:
        """When the run's last attempt ended with nothing failed, and its run row."""
        journal = Journal(self.journal_path)
        try:
            rows = journal.entries(Filters(run_id=run_id, kinds=("run", "end")))
        finally:
            journal.close()
        ends = [r for r in rows if r["kind"] == "end"]
        if ends and ends[-1]["status"] in ("ok", "changed"):
            return str(ends[-1]["time"]), rows[0]
        return None

    def _last_unfinished(self) -> str:
        """The newest applied run that ended with failures, was interrupted or has no end row."""
        journal = Journal(self.journal_path)
        try:
            rows = journal.entries(Filters(kinds=("run", "end")))
        finally:
            journal.close()
        ended: dict[str, str] = {}
        for row in rows:
            if row["kind"] == "end":
                ended[row["run_id"]] = row["status"]
        for row in reversed(rows):
            if row["kind"] == "run" and row["mode"] == "apply" and \
                    ended.get(row["run_id"], "failed") in ("failed", "interrupted"):
                return str(row["run_id"])
        raise UsageError("no interrupted or failed run in the journal to resume",
                         hint="`adminkit journal list` shows recent runs")

    def recorded(self, run_id: str) -> RunRequest:
        """The request a journaled run was made from; refused unless the journal verifies."""
        journal = Journal(self.journal_path)
        try:
            verdict = journal.verify()
            if not verdict.ok:
                where = f" at row {verdict.first_bad}" if verdict.first_bad else ""
                raise JournalError(f"the journal fails verification{where} "
                                   f"({verdict.reason}): run {run_id} will not be resumed "
                                   "from it", hint="`adminkit journal verify` says more; "
                                                   "run the command again instead")
            row = journal.run(run_id)
        finally:
            journal.close()
        if row is None:
            raise UsageError(f"no run {run_id} in the journal",
                             hint="`adminkit journal list` shows recent runs")
        detail = row.get("detail") if isinstance(row.get("detail"), dict) else {}
        record = (detail or {}).get("request")
        if not isinstance(record, dict):
            raise UsageError(f"run {run_id} was recorded without what it ran (an older adminkit)",
                             hint="run its command again; what was done is found and kept")
        profile = load_profile(row["profile"], self.config_dir) if row["profile"] else None
        return from_record(record, run_id=run_id, profile=profile, ticket=row["ticket"],
                           check=row["mode"] == "check")

    # -- playbooks ----------------------------------------------------------------------
    def _playbook(self, request: RunRequest, ref: TicketRef | None,
                  checked: TicketCheck | None) -> Callable[[Runner], Iterable[Action[Any]]]:
        from adminkit.playbook.execute import PlaybookRun, deliver_factory
        from adminkit.playbook.inputs import resolve_inputs
        from adminkit.playbook.loader import load_cached

        assert request.playbook is not None
        book = request.playbook
        loaded = load_cached(book.path)  # a trigger's decision loaded it already
        if book.digest and book.digest != loaded.source.digest and not request.resume:
            raise UsageError(f"the playbook {book.path} was changed after this run was "
                             "decided (and approved, if it needed to be): it is not run",
                             hint="ask again: the request is decided anew on the playbook "
                                  "as it is now")
        if request.resume and book.digest and book.digest != loaded.source.digest:
            raise UsageError(f"the playbook {book.path} was changed after run "
                             f"{request.resume} began: its steps may no longer be the ones "
                             "that ran, so it is not resumed",
                             hint="run the playbook again: what its steps did is found on "
                                  "the systems and kept")
        # recorded: a later resume checks it
        request.playbook = book = dataclasses.replace(book, digest=loaded.source.digest)
        values = resolve_inputs(loaded.playbook, dict(book.inputs))
        if loaded.playbook.requires_approval and not book.approved_by and not request.check:
            raise PolicyRefused(f"playbook {loaded.playbook.name} requires approval",
                                hint="run it with --approved-by NAME once it is approved")
        ticket = _ticket_fields(ref, checked) if ref and checked else None
        profile = request.profile

        def expand(runner: Runner) -> Iterable[Action[Any]]:
            play = PlaybookRun(loaded, values, ticket=ticket,
                               profile_name=profile.name if profile else None,
                               run_id=runner.run.id, deliver=deliver_factory(profile),
                               bulk_limit=profile.policy.bulk_limit if profile else 25,
                               force=book.force)
            return play.actions(runner)

        return expand

    # -- tickets ------------------------------------------------------------------------
    @staticmethod
    def _ticket_ref(request: RunRequest) -> TicketRef | None:
        if not request.ticket:
            return None
        from adminkit.tickets.base import parse_ref
        from adminkit.tickets.settings import ticket_settings

        cfg = ticket_settings(request.profile)
        return parse_ref(request.ticket, cfg.kind if cfg else None)

    @staticmethod
    def _open_system(profile: Profile | None, ref: TicketRef) -> TicketSystem:
        """Opened here, on the caller's thread: a `prompt` secret asks the person now,
        and the background delivery never loads a profile or asks for anything."""
        from adminkit.tickets.systems import open_system

        return open_system(profile, ref.kind)

    @staticmethod
    def _check_ticket(profile: Profile | None, ref: TicketRef | None,
                      system: TicketSystem | None) -> TicketCheck | None:
        """One read of the ticket per run, before anything is planned or written."""
        if ref is None or system is None:
            return None
        from adminkit.automation.ticketcheck import check_ticket
        from adminkit.tickets.settings import allowed_queues, ticket_settings

        return check_ticket(ref, system, allowed_queues(ticket_settings(profile), ref.kind))

    @staticmethod
    def _notes(profile: Profile | None, ref: TicketRef) -> TicketNotes:
        from adminkit.tickets.notes import TicketNotes
        from adminkit.tickets.settings import ticket_settings

        cfg = ticket_settings(profile)
        if cfg is None or cfg.kind != ref.kind:
            return TicketNotes(ref.kind, ref.id)
        return TicketNotes(ref.kind, ref.id, per=cfg.note_per, public_actions=cfg.public_actions)

    @staticmethod
    def _pump(journal: Journal, profile: Profile | None, system: TicketSystem, run_id: str, *,
              background: bool) -> Pump:
        """Deliver the run's notes while it goes on; what is left waits in the outbox."""
        from adminkit.tickets.outbox import Pump
        from adminkit.tickets.settings import ticket_settings
        from adminkit.tickets.systems import note_limits

        cfg = ticket_settings(profile)
        seconds = cfg.flush_seconds if cfg else 5.0
        return Pump(journal, system, run_id, limit=seconds, background=background,
                    limits=note_limits(cfg))


def _still_to_run(journal: Journal, request: RunRequest, run_id: str) -> None:
    """Checked once the run's lock is held: a new run under an id its caller chose (a
    trigger's) that has rows already, or a resume of a run that ended again since its
    caller looked, was run by another process meanwhile (two serve processes on one
    profile, between a look at the trigger and the lock): not run a second time."""
    if request.resume is None and request.run_id and journal.run(run_id) is not None:
        raise Busy(f"run {run_id} was started by another process")
    if request.resume is not None and request.seen_ends is not None \
            and journal.ends(request.resume) != request.seen_ends:
        raise Busy(f"run {request.resume} was resumed by another process meanwhile")


def _refuse_rolled_back(journal: Journal, run_id: str) -> None:
    """A playbook run that rolled back (`on_error: rollback`) undid what it had done:
    its rows journaled as done no longer stand, and the rows its undos took would be
    taken for later steps, so it is not resumed but run again."""
    from adminkit.playbook.execute import UNDO

    undone = [row for row in journal.entries(Filters(run_id=run_id, kinds=("action",)))
              if str(row["action"] or "").startswith(UNDO)]
    if undone:
        raise UsageError(f"run {run_id} was rolled back ({len(undone)} undo row(s) in the "
                         "journal): what it had done was undone, so it is not resumed",
                         hint="run the playbook again; `adminkit journal show "
                              f"{run_id}` lists what was undone")


def _unsettled(journal: Journal, run_id: str) -> set[int]:
    """Actions whose write an attempt announced (`started`) and never reported on, or
    reported failed with an unknown outcome (sent, its answer lost; or Ctrl-C came while
    the unit was writing): it may be done. A later attempt (each begins with its run
    row) that failed before announcing a write of its own (its settle or plan could not
    read the system) leaves that as it was: it did not find out, and the next resume
    must still settle it, not plan afresh."""
    attempt = 0
    last: dict[int, tuple[bool, int]] = {}  # index: (unsettled, the attempt that announced)
    for row in journal.entries(Filters(run_id=run_id, kinds=("run", "action"),
                                       settled_intents=True)):
        if row["kind"] == "run":
            attempt += 1
            continue
        if row["idx"] is None:
            continue
        index, status = int(row["idx"]), row["status"]
        was, announced = last.get(index, (False, 0))
        if status == "started":
            last[index] = (True, attempt)
        elif status == "failed" and isinstance(row["detail"], dict) and row["detail"].get(
                "error_type") in UNKNOWN_OUTCOMES:
            last[index] = (True, announced)
        elif status == "failed" and announced != attempt:  # failed before its write
            last[index] = (was, announced)
        else:
            last[index] = (False, announced)
    return {index for index, (now, _) in last.items() if now}


def _intents(journal: Journal, run_id: str, unsettled: set[int]) -> dict[int, dict[str, Any]]:
    """What the last intent row of each unsettled action kept of the state before its
    write (`Plan.intent`), for `Action.settle`."""
    found: dict[int, dict[str, Any]] = {}
    for row in journal.entries(Filters(run_id=run_id, kinds=("action",),
                                       settled_intents=True)):
        detail = row["detail"]
        if (row["idx"] in unsettled and row["status"] == "started"
                and isinstance(detail, dict) and isinstance(detail.get("intent"), dict)):
            found[int(row["idx"])] = detail["intent"]
    return found


UNKNOWN_OUTCOMES = (OutcomeUnknown.__name__, Interrupted.__name__)


def _ticket_fields(ref: TicketRef, checked: TicketCheck) -> dict[str, Any]:
    """The ticket's fields for templates; plain data, never rendered again. A playbook
    cannot be expanded without them: a ticket system that could not be read stops it."""
    if checked.trouble is not None:
        raise checked.trouble
    ticket = checked.ticket
    assert ticket is not None
    return {"id": ref.id, "ref": str(ref), "subject": ticket.subject, "status": ticket.status,
            "queue": ticket.queue, "requester": ticket.requester, "fields": ticket.fields}


def _delivery_notice(result: FlushReport) -> str | None:
    waiting = result.retrying + result.not_reached
    if not (waiting or result.failed or result.published):
        return None
    published = (f", {result.published} internal note(s) went PUBLIC"
                 if result.published else "")
    if result.later is not None and not (result.retrying or result.failed or published):
        return (f"ticket: {result.delivered} of this run's note(s) delivered, "
                f"{result.not_reached} being delivered in the background (process "
                f"{result.later}); `adminkit ticket outbox` shows what waits")
    return (f"ticket: {result.delivered} of this run's note(s) delivered, {waiting} waiting, "
            f"{result.failed} failed{published}; `adminkit ticket outbox` shows them, "
            "`adminkit ticket flush` retries")


def _published_result(ref: TicketRef, count: int) -> Result:
    """An internal note the system made public fails the run (exit 3): it cannot be
    taken back, and the account lacks a right someone must grant."""
    from adminkit.core.errors import ExitCode
    from adminkit.core.result import Status

    return Result(action="ticket.note", target=str(ref), status=Status.FAILED,
                  summary=f"{count} internal note(s) went public on {ref}",
                  error="the ticket system made internal notes public: the account may "
                        "not write internal notes (see `adminkit profile check`)",
                  error_type="NotePublished", exit_code=int(ExitCode.CONNECTION))


def _unsettled_notice(journal: Journal) -> list[str]:
    """Notes that failed for good or went public, until a person acknowledges them."""
    found = journal.unsettled_notes()
    if not found:
        return []
    parts = [f"{n} {'went public' if status == 'published' else 'failed for good'}"
             for status, n in sorted(found.items())]
    return [f"ticket notes need a person: {', '.join(parts)}; `adminkit ticket outbox` "
            "lists them, `adminkit ticket outbox --ack ID` once dealt with"]
