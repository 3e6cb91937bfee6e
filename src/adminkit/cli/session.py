"""From global options to a running `Runner`: profile, run, journal hook, resume."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

from adminkit.cli.output import emit_report
from adminkit.cli.state import GlobalState, OutputFormat
from adminkit.core import paths
from adminkit.core.action import Action, Plan
from adminkit.core.config import Profile, load_profile
from adminkit.core.context import Context
from adminkit.core.errors import UsageError
from adminkit.core.result import Result
from adminkit.core.run import Run
from adminkit.core.runner import RunHook, Runner, RunReport
from adminkit.journal.hook import JournalHook
from adminkit.journal.store import Journal

if TYPE_CHECKING:
    from adminkit.accounts.directory import Directory
    from adminkit.tickets.notes import TicketNotes
    from adminkit.tickets.outbox import FlushReport, Pump

RESUME_ENV = "ADMINKIT_RESUME_RUN"
BULK_NOTES = 20  # above this many actions, notes are delivered after the run, not during


def open_journal(state: GlobalState) -> Journal:
    return Journal(state.journal_path or paths.default_journal_path())


def profile_of(state: GlobalState, *, required: bool = True) -> Profile | None:
    if state.profile is None:
        if required:
            raise UsageError("this command needs a profile",
                             hint="pass --profile NAME or set ADMINKIT_PROFILE "
                                  "(`adminkit profile list` shows them)")
        return None
    return load_profile(state.profile, state.config_dir)


ActionSource = Sequence[Action[Any]] | Callable[[Runner], Iterable[Action[Any]]]


@contextmanager
def bound_directory(state: GlobalState) -> Iterator[tuple[Profile, Directory]]:
    """The profile and its bound directory, for read-only commands (no run, no journal)."""
    from adminkit.accounts.directory import open_directory

    profile = profile_of(state)
    assert profile is not None
    directory = open_directory(profile)
    try:
        yield profile, directory
    finally:
        directory.close()


def execute(state: GlobalState, command: str, actions: ActionSource, *,
            profile: Profile | None = None, stop_on_error: bool = False,
            resume_id: str | None = None, workers: int = 1,
            planned: Mapping[int, Plan] | None = None,
            opened: Context | None = None) -> RunReport:
    """Run actions as one journaled run and render the report; the caller exits with its code.

    Bulk runs (several actions) show a progress bar on a terminal. `planned` and
    `opened` come from a bulk run's validation pass: its plans and its connections.
    """
    import os

    journal: Journal | None = None
    try:
        journal = open_journal(state)
        resume_id = resume_id or os.environ.get(RESUME_ENV)
        run = Run(command=command, profile=state.profile, ticket=state.ticket, check=state.check,
                  argv=state.argv)
        done: dict[int, Result] = {}
        if resume_id:
            earlier = journal.run(resume_id)
            if earlier is None:
                raise UsageError(f"no run {resume_id} in the journal",
                                 hint="`adminkit journal list` shows recent runs")
            run.id, run.resumed = resume_id, True
            done = journal.done_results(resume_id)
        notes = ticket_notes(state, profile)
        bulk = isinstance(actions, Sequence) and len(actions) > BULK_NOTES
        pump = start_pump(state, journal, profile, background=not bulk) if notes else None
        ctx = opened.handover(run) if opened is not None else Context(run=run, profile=profile)
        hooks: list[RunHook] = [JournalHook(journal, notes)]
        if isinstance(actions, Sequence) and len(actions) > 1 and \
                state.output is OutputFormat.TABLE and sys.stderr.isatty():
            from adminkit.cli.progress import ProgressHook

            hooks.append(ProgressHook(len(actions), command))
    except BaseException:  # nothing ran: close what the validation pass opened too
        if opened is not None:
            opened.close()
        if journal is not None:
            journal.close()
        raise
    try:
        runner = Runner(ctx, hooks, done=done, stop_on_error=stop_on_error, debug=state.debug,
                        planned=planned)
        # a playbook produces its actions as it goes, reading the runner's results
        report = runner.execute(actions(runner) if callable(actions) else actions,
                                workers=workers)
        if pump is not None:
            report_delivery(pump.finish())
    finally:
        ctx.close()
        journal.close()
    emit_report(state, report)
    return report


def ticket_notes(state: GlobalState, profile: Profile | None) -> TicketNotes | None:
    """The note maker for `--ticket`; a malformed reference stops before anything runs."""
    if not state.ticket:
        return None
    from adminkit.tickets.base import parse_ref
    from adminkit.tickets.notes import TicketNotes

    cfg = profile.tickets if profile else None
    ref = parse_ref(state.ticket, cfg.kind if cfg else None)
    if cfg is None or cfg.kind != ref.kind:
        return TicketNotes(ref.kind, ref.id)
    return TicketNotes(ref.kind, ref.id, per=cfg.note_per, public_actions=cfg.public_actions)


def start_pump(state: GlobalState, journal: Journal, profile: Profile | None, *,
               background: bool = True) -> Pump:
    """Deliver notes while the run goes on; what is left at the end waits in the outbox."""
    from adminkit.tickets.outbox import Pump
    from adminkit.tickets.systems import opener

    seconds = profile.tickets.flush_seconds if profile and profile.tickets else 5.0
    return Pump(journal, opener(state.config_dir), limit=seconds, background=background)


def report_delivery(result: FlushReport) -> None:
    waiting = result.retrying + result.not_reached
    if waiting or result.failed:
        sys.stderr.write(f"ticket: {result.delivered} note(s) delivered, {waiting} waiting, "
                         f"{result.failed} failed; `adminkit ticket outbox` shows them, "
                         "`adminkit ticket flush` retries\n")


def finish(report: RunReport) -> None:
    raise typer.Exit(report.exit_code)


def execute_bulk(state: GlobalState, command: str, actions: Sequence[Action[Any]],
                 labels: Sequence[str], *, profile: Profile, destructive: bool = False,
                 force: bool = False) -> RunReport:
    """A bulk run: blast-radius limit, then every row planned (no writes), then applied.

    A row that cannot even be planned (unknown login, missing group, protected account)
    stops the whole run before anything is written, with every such row listed.
    """
    from adminkit.core.errors import ConnectionFailed, PolicyRefused, ValidationError

    limit = profile.policy.bulk_limit
    if destructive and len(actions) > limit and not force:
        raise PolicyRefused(f"{command}: {len(actions)} accounts is over the profile's limit "
                            f"of {limit} for one run", hint="check the file; add --force if "
                                                            "it is really meant")
    workers = profile.accounts.workers
    preflight = Run(command=command, profile=state.profile, ticket=state.ticket, check=True)
    ctx = Context(run=preflight, profile=profile)
    planner = Runner(ctx, [], debug=state.debug, keep_plans=True)
    try:
        planned = planner.execute(actions, workers=workers)
        if any(r.failed for r in planned.results):
            ctx.close()
    except BaseException:
        ctx.close()
        raise
    unreachable = [r for r in planned.results if r.failed and r.exit_code == 3]
    if unreachable:  # not the rows' fault: say it once
        raise ConnectionFailed(str(unreachable[0].error))
    bad = [f"{label}: {r.error}" for label, r in zip(labels, planned.results, strict=True)
           if r.failed]
    if bad:
        error = ValidationError(f"{len(bad)} row(s) cannot be done, nothing was changed:\n  "
                                + "\n  ".join(bad[:50]))
        if all(r.exit_code == 4 for r in planned.results if r.failed):
            raise PolicyRefused(error.message)
        raise error
    if not state.check:
        counts = ", ".join(f"{n} {s}" for s, n in planned.counts.items() if n)
        sys.stderr.write(f"plan: {len(actions)} row(s): "
                         f"{counts.replace('changed', 'to change')}\n")
    # the writes follow the plans just shown, on the connections that made them
    return execute(state, command, actions, profile=profile, workers=workers,
                   planned=planner.plans, opened=ctx)
