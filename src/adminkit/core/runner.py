"""Execute actions: plan, guard, apply (unless checking), report to hooks.

Hooks are how the journal and ticket notes hear about results. Each finished
action is handed to every hook before the next action starts, so a run that dies
leaves a journal that says exactly how far it got, and `resume` can skip that part.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Protocol

from adminkit.core import interrupts
from adminkit.core.action import Action, Applied, Plan, Skip
from adminkit.core.context import Context
from adminkit.core.errors import ActionFailed, AdminkitError, ExitCode, Interrupted
from adminkit.core.jsonvalues import cut_text, cut_values, json_values
from adminkit.core.result import Result, Status, share_fields_set
from adminkit.core.run import Run
from adminkit.core.secrets import forgotten_after, redact, redact_error
from adminkit.core.spool import SpooledResults, Tally
from adminkit.core.strategy import Strategy, ThreadPool
from adminkit.core.targets import Targets

# A run of more rows than this (in units, on the pool) keeps its results on disk
# (`core.spool`), not in memory, until the report reads them.
SPOOL_ABOVE = 500


class RunHook(Protocol):
    """Hears about a run. A hook may also have `actions_finished(run, [(index, result)])`
    to take a bulk run's unit of results at once (the journal: one transaction), and
    `actions_starting(run, [(index, name, target, summary, intent)])` to hear of writes
    before they are made (the journal records the intent, so a crash leaves a trace;
    `intent` is the plan's `Plan.intent`)."""

    def run_started(self, run: Run) -> None: ...

    def action_finished(self, run: Run, index: int, result: Result) -> None: ...

    def run_finished(self, run: Run, report: RunReport) -> None: ...


@dataclass
class RunReport:
    run: Run
    # a bulk run's: spooled to disk, or (a pre-flight) only counted (`core.spool`)
    results: list[Result] | Tally = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # for the operator: plan, notes waiting
    interrupted: bool = False  # stopped by Ctrl-C: rows not started are skipped, unjournaled

    def count(self, status: Status) -> int:
        if isinstance(self.results, Tally):
            return self.results.by_status[status]
        return sum(1 for r in self.results if r.status is status)

    def failures(self) -> list[tuple[int, Result]]:
        """The failed results, with their rows."""
        if isinstance(self.results, SpooledResults):
            return ([(i, r) for i, r in self.results.items() if r.failed]
                    if self.count(Status.FAILED) else [])
        if isinstance(self.results, Tally):
            return sorted(self.results.failures.items())
        return [(i, r) for i, r in enumerate(self.results) if r.failed]

    @property
    def counts(self) -> dict[str, int]:
        return {s.value: self.count(s) for s in Status}

    @property
    def exit_code(self) -> int:
        """0 if nothing failed, else the most severe failure's code (policy 4 > conn 3 > 1);
        130 if interrupted."""
        if self.interrupted:
            return ExitCode.INTERRUPTED
        if isinstance(self.results, Tally):
            return self.results.worst
        failed = [r.exit_code or ExitCode.FAILED for r in self.results if r.failed]
        return max(failed, default=ExitCode.OK)

    @property
    def status(self) -> str:
        if self.interrupted:
            return "interrupted"
        if self.count(Status.FAILED):
            return "failed"
        return "changed" if self.count(Status.CHANGED) else "ok"


class Runner:
    def __init__(
        self,
        ctx: Context,
        hooks: Sequence[RunHook] = (),
        *,
        done: Iterable[int] | Mapping[int, Result] = (),
        stop_on_error: bool = False,
        debug: bool = False,
        planned: Mapping[int, Plan] | None = None,
        keep_plans: bool = False,
        unsettled: Iterable[int] = (),
        intents: Mapping[int, dict[str, Any]] | None = None,
        strategy: Strategy | None = None,
        spool_above: int = SPOOL_ABOVE,
        tally_only: bool = False,
    ) -> None:
        self.ctx = ctx
        self.hooks = list(hooks)
        # results journaled as done by an earlier attempt of this run, by index
        self.done: dict[int, Result] = (dict(done) if isinstance(done, Mapping)
                                        else {i: self._done_marker(i) for i in done})
        self.report: RunReport | None = None  # the report being built (playbooks read it)
        self.stop_on_error = stop_on_error
        self.debug = debug
        # plans made moments ago by a check pass over the same action objects (a bulk
        # run's validation): applied as they are instead of being planned again; a dict
        # lets go of each plan as it is taken (a bulk run's thousands are not all kept)
        self.planned: Mapping[int, Plan] = planned or {}
        self.plans: dict[int, Plan] | None = {} if keep_plans else None
        # indexes whose write an earlier attempt announced and never reported: if the
        # fresh plan finds nothing to do, that attempt did it (read from the system)
        self.unsettled = set(unsettled)
        # what those attempts' intent rows kept (`Plan.intent`), for `Action.settle`
        self.intents: Mapping[int, dict[str, Any]] = intents or {}
        # where bulk units run; None: a pool of `execute(workers=)` threads
        self.strategy = strategy
        # a run on the pool of more rows keeps its results on disk (`core.spool`); one
        # that only needs counts and failures (a pre-flight) keeps just those
        self.spool_above = spool_above
        self.tally_only = tally_only

    @property
    def run(self) -> Run:
        return self.ctx.run

    def execute(self, actions: Iterable[Action[Any]], *, workers: int = 1) -> RunReport:
        """Run every action.

        A list of several (bulk work) runs through the strategy (a pool of `workers`
        threads), in units of one action or of several that apply together
        (`Action.together`); results reach the hooks as units finish, one at a time, and
        the report keeps the list's order. Anything else (a playbook's steps, made as
        they go) runs one by one, in order. Ctrl-C: what finished is journaled, the hooks
        hear an interrupted report, the connections close, KeyboardInterrupt goes on
        (even for a Ctrl-C whose KeyboardInterrupt the main thread lost: `core.interrupts`).
        """
        with interrupts.watched():
            return self._execute(actions, workers)

    def _execute(self, actions: Iterable[Action[Any]], workers: int) -> RunReport:
        if isinstance(actions, Sequence):
            self._prepare(actions)
        if workers > 1 or (isinstance(actions, Sequence) and len(actions) > 1
                           and not self.stop_on_error):
            return self._execute_parallel(list(actions), workers)
        report = self.report = RunReport(self.run)
        for hook in self.hooks:
            hook.run_started(self.run)
        try:
            stopped = False
            for index, action in enumerate(actions):
                interrupts.check()  # one lost in the step before stops the run here
                if index in self.done:  # not journaled again
                    report.results.append(self._resumed(action, self.done[index]))
                    continue
                if stopped:
                    result = self._skipped(action, "not run: an earlier action failed")
                else:
                    result = self.run_one(action, index)
                report.results.append(result)
                for hook in self.hooks:
                    hook.action_finished(self.run, index, result)
                stopped = stopped or (result.failed and self.stop_on_error)
        except KeyboardInterrupt:
            report.interrupted = True
            self.ctx.interrupt()
            raise
        finally:
            for hook in self.hooks:
                hook.run_finished(self.run, report)
        return report

    def _execute_parallel(self, actions: list[Action[Any]], workers: int) -> RunReport:
        results: dict[int, Result] = {}  # unless kept by `store`
        store: Tally | None = (Tally() if self.tally_only else SpooledResults(len(actions))
                               if len(actions) > self.spool_above else None)
        settled = bytearray(len(actions))  # rows with a result in `store`
        lock = threading.Lock()
        failed = threading.Event()

        def unit(indexes: list[int]) -> None:
            # spooled: each text of the unit is scrubbed and written before it ends, so
            # the passwords it made need not be looked for after (`forgotten_after`)
            with forgotten_after() if isinstance(store, SpooledResults) else nullcontext():
                _unit(indexes)

        def _unit(indexes: list[int]) -> None:
            if failed.is_set() and self.stop_on_error:
                done = [self._skipped(actions[i], "not run: an earlier action failed")
                        for i in indexes]
            else:
                done = self.run_many([(actions[i], i) for i in indexes])
            finished = list(zip(indexes, done, strict=True))
            with lock:  # hooks (the journal) see one unit at a time
                if store is None:
                    for index, result in finished:
                        results[index] = result
                try:
                    for hook in self.hooks:
                        many = getattr(hook, "actions_finished", None)  # in one go, if it can
                        if many is not None:
                            many(self.run, finished)
                            continue
                        for index, result in finished:
                            hook.action_finished(self.run, index, result)
                finally:  # journaled first: the report is no evidence; but a hook that
                    # broke leaves these rows written all the same, not "not run"
                    if store is not None:
                        for index, result in finished:
                            store.put(index, result)
                            settled[index] = 1
            if any(r.failed for r in done):
                failed.set()

        report = self.report = RunReport(self.run)
        strategy = self.strategy or ThreadPool(workers)
        for hook in self.hooks:
            hook.run_started(self.run)
        try:
            strategy.run(self._units(actions, workers), unit, interrupt=self.ctx.interrupt)
        except KeyboardInterrupt:
            report.interrupted = True
            raise
        finally:
            with lock:  # a second Ctrl-C may leave units running: read what they did
                if store is not None:
                    self._settle(actions, store, settled)
                    report.results = store
                for index, action in enumerate(actions if store is None else ()):
                    if index in results:
                        report.results.append(results[index])
                    elif index in self.done:
                        report.results.append(self._resumed(action, self.done[index]))
                    else:
                        report.results.append(self._skipped(action, "not run: the run "
                                                            "stopped first"))
            for hook in self.hooks:
                hook.run_finished(self.run, report)
        return report

    def _settle(self, actions: list[Action[Any]], store: Tally, settled: bytearray) -> None:
        """The rows no unit reported on: resumed (done earlier) or not run."""
        for index, action in enumerate(actions):
            if settled[index]:
                continue
            store.put(index, self._resumed(action, self.done[index]) if index in self.done
                      else self._skipped(action, "not run: the run stopped first"))

    def _units(self, actions: list[Action[Any]], workers: int) -> list[list[int]]:
        """What one worker does at a time: a row, or up to `together` rows of one class
        (fewer when the rows would not keep every worker busy)."""
        todo = [i for i in range(len(actions)) if i not in self.done]
        units: list[list[int]] = []
        for index in todo:
            cls = type(actions[index])
            size = 1 if self.stop_on_error else min(cls.together, -(-len(todo) // workers))
            last = units[-1] if units else None
            if last and size > 1 and type(actions[last[0]]) is cls and len(last) < size:
                last.append(index)
            else:
                units.append([index])
        return units

    def _prepare(self, actions: Sequence[Action[Any]]) -> None:
        """Let each action class look up for all its rows at once (see `Action.prepare`)."""
        todo: dict[type[Action[Any]], list[Action[Any]]] = {}
        for index, action in enumerate(actions):
            if index not in self.done and index not in self.planned:
                todo.setdefault(type(action), []).append(action)
        for cls, batch in todo.items():
            if len(batch) > 1:
                try:
                    with Targets.scope():
                        cls.prepare(self.ctx, batch)
                except Exception:  # noqa: BLE001 - each action meets it again and reports it
                    if self.debug:
                        traceback.print_exc()
                    continue

    def run_one(self, action: Action[Any], index: int | None = None) -> Result:
        return self.run_many([(action, index)])[0]

    def run_many(self, items: Sequence[tuple[Action[Any], int | None]]) -> list[Result]:
        """Plan (or take the plan made earlier), guard, then apply what has changes; the
        rows are of one class, which may apply them together (`Action.apply_many`).
        One unit of work: the connections it holds go back to the run's pool after it."""
        with Targets.scope():
            return self._run_many(items)

    def _run_many(self, items: Sequence[tuple[Action[Any], int | None]]) -> list[Result]:
        started = time.monotonic()
        results: list[Result | None] = [None] * len(items)
        ready: list[tuple[int, Action[Any], Plan]] = []
        for k, (action, index) in enumerate(items):
            try:
                plan = self._plan(action, index)
            except Interrupted:  # Ctrl-C came before this row wrote anything
                results[k] = self._skipped(action, "not run: the run was interrupted")
                continue
            except Exception as exc:  # noqa: BLE001 - it fails this action only
                # in the main thread, a Ctrl-C's KeyboardInterrupt may arrive as another
                # error (a lock's __exit__): the row is interrupted, not failed
                results[k] = (self._skipped(action, "not run: the run was interrupted")
                              if interrupts.lost() else self._caught(action, exc))
                continue
            if plan and not self.ctx.check:
                ready.append((k, action, plan))
            else:
                results[k] = self._result(action, plan, Applied())
        if ready:
            self._announce([(items[k][1], action, plan) for k, action, plan in ready])
        if len(ready) == 1:
            _, action, plan = ready[0]
            outcomes: list[Applied | Exception] = []
            try:
                outcomes.append(action.apply(self.ctx, plan))
            except Exception as exc:  # noqa: BLE001 - it fails this action only
                outcomes.append(exc)
        elif ready:
            try:
                outcomes = type(ready[0][1]).apply_many(self.ctx,
                                                        [(a, p) for _, a, p in ready])
            except Interrupted as exc:  # announced: a resume reads the system to settle it
                outcomes = [exc for _ in ready]
            except Exception as exc:  # noqa: BLE001 - the unit's rows fail, the run goes on
                if self.debug:
                    traceback.print_exception(exc)
                text = redact_error(str(exc)) or type(exc).__name__
                outcomes = [ActionFailed(f"{text} (this row and {len(ready) - 1} other(s) were "
                                         "written together: it may be partly done)",
                                         hint="`adminkit account show LOGIN` says what is "
                                              "there; running the file again completes it")
                            for _ in ready]
        else:
            outcomes = []
        for (k, action, plan), outcome in zip(ready, outcomes, strict=True):
            results[k] = (self._caught(action, outcome) if isinstance(outcome, Exception)
                          else self._result(action, plan, outcome))
        for k, (_, index) in enumerate(items):
            result = results[k]
            if index in self.unsettled and result is not None and result.status is Status.OK:
                results[k] = result.model_copy(update={
                    "status": Status.CHANGED,
                    "summary": f"{result.summary} (done by the interrupted attempt of this "
                               "run: found so on the system)"})
        share = round((time.monotonic() - started) / len(items), 4)
        done = [r for r in results if r is not None]
        for result in done:
            result.duration = share
            share_fields_set(result)  # a bulk run holds thousands
        return done

    def _announce(self, writes: list[tuple[int | None, Action[Any], Plan]]) -> None:
        """Tell the hooks which writes are about to be made, before any is."""
        starting = [(index, action.name, _safe_target(action),
                     plan.summary or f"{action.name} {_safe_target(action)}", plan.intent)
                    for index, action, plan in writes if index is not None]
        if not starting:
            return
        for hook in self.hooks:
            announce = getattr(hook, "actions_starting", None)
            if announce is not None:
                announce(self.run, starting)

    def _plan(self, action: Action[Any], index: int | None) -> Plan:
        plan = None
        if index is not None:
            plan = (self.planned.pop(index, None) if isinstance(self.planned, dict)
                    else self.planned.get(index))
        if plan is None:
            action.resuming = index in self.unsettled
            intent = self.intents.get(index) if index is not None else None
            if action.resuming and intent:
                plan = action.settle(self.ctx, dict(intent))
            if plan is None:
                plan = action.plan(self.ctx)
            # guarded with nothing to do too: a protected target gets one answer, whether
            # or not it is already as asked
            action.guard(self.ctx, plan)
            if self.plans is not None and index is not None:
                self.plans[index] = plan
        return plan

    def _caught(self, action: Action[Any], exc: Exception) -> Result:
        if isinstance(exc, Skip):
            return self._skipped(action, str(exc) or "skipped")
        if isinstance(exc, AdminkitError):
            return self._failure(action, exc, int(exc.exit_code))
        if self.debug:
            traceback.print_exception(exc)
        return self._failure(action, exc, int(ExitCode.FAILED))

    def _result(self, action: Action[Any], plan: Plan, applied: Applied) -> Result:
        """Planning may resolve the target (a computed login), so it is read afterwards."""
        target = _safe_target(action)
        check = self.ctx.check
        if not plan:
            status, summary = Status.OK, plan.summary or f"{action.name} {target}: nothing to do"
        else:
            status = Status.CHANGED
            base = applied.summary or plan.summary or f"{action.name} {target}"
            summary = f"would {base}" if check else base
        return Result(action=action.name, target=target, status=status, summary=summary,
                      changes=plan.changes, data={**plan.data, **applied.data}, check=check)

    def _failure(self, action: Action[Any], exc: Exception, code: int) -> Result:
        target = _safe_target(action)
        # bounded: a server's 50 MB error body must not become a 50 MB journal row and note
        text = cut_text(redact_error(str(exc)) or type(exc).__name__)
        return Result(action=action.name, target=target, status=Status.FAILED,
                      summary=f"{action.name} {target}: {text.splitlines()[0]}",
                      error=text, error_type=type(exc).__name__, exit_code=code,
                      check=self.ctx.check,
                      data=_error_data(exc))

    def _resumed(self, action: Action[Any], earlier: Result) -> Result:
        if earlier.action == "?":  # only the index was known
            return self._skipped(action, earlier.summary)
        return earlier.model_copy(update={"summary": f"{earlier.summary} (done earlier)"})

    def _done_marker(self, index: int) -> Result:
        return Result(action="?", target="?", status=Status.SKIPPED,
                      summary=f"done in an earlier attempt of {self.run.id}")

    def _skipped(self, action: Action[Any], why: str) -> Result:
        target = _safe_target(action)
        return Result(action=action.name, target=target, status=Status.SKIPPED,
                      summary=f"{action.name} {target}: {why}", check=self.ctx.check)


def _safe_target(action: Action[Any]) -> str:
    try:
        return redact(action.target())
    except Exception:  # noqa: BLE001 - a bad target must not hide the real error
        return "?"


def _error_data(exc: Exception) -> dict[str, Any]:
    """What a failing action had done (AdminkitError.data), as JSON values: the failure
    path must not break on whatever an error class put there (bytes, an object, a
    plugin's `data` that is no mapping), which would lose the failure's journal row; and
    no more of it than `DATA_CHARS` of JSON, marked where it was cut (`cut_values`)."""
    if not isinstance(exc, AdminkitError):
        return {}
    return cut_values(json_values(getattr(exc, "data", None)))
