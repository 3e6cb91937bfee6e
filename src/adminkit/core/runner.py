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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from adminkit.core.action import Action, Applied, Plan, Skip
from adminkit.core.context import Context
from adminkit.core.errors import AdminkitError, ExitCode
from adminkit.core.result import Result, Status
from adminkit.core.run import Run
from adminkit.core.secrets import redact


class RunHook(Protocol):
    def run_started(self, run: Run) -> None: ...

    def action_finished(self, run: Run, index: int, result: Result) -> None: ...

    def run_finished(self, run: Run, report: RunReport) -> None: ...


@dataclass
class RunReport:
    run: Run
    results: list[Result] = field(default_factory=list)

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status is status)

    @property
    def counts(self) -> dict[str, int]:
        return {s.value: self.count(s) for s in Status}

    @property
    def exit_code(self) -> int:
        """0 if nothing failed, else the most severe failure's code (policy 4 > conn 3 > 1)."""
        failed = [r.exit_code or ExitCode.FAILED for r in self.results if r.failed]
        return max(failed, default=ExitCode.OK)

    @property
    def status(self) -> str:
        if any(r.failed for r in self.results):
            return "failed"
        return "changed" if any(r.changed for r in self.results) else "ok"


class Runner:
    def __init__(
        self,
        ctx: Context,
        hooks: Sequence[RunHook] = (),
        *,
        done: Iterable[int] | Mapping[int, Result] = (),
        stop_on_error: bool = False,
        debug: bool = False,
    ) -> None:
        self.ctx = ctx
        self.hooks = list(hooks)
        # results journaled as done by an earlier attempt of this run, by index
        self.done: dict[int, Result] = (dict(done) if isinstance(done, Mapping)
                                        else {i: self._done_marker(i) for i in done})
        self.report: RunReport | None = None  # the report being built (playbooks read it)
        self.stop_on_error = stop_on_error
        self.debug = debug

    @property
    def run(self) -> Run:
        return self.ctx.run

    def execute(self, actions: Iterable[Action[Any]], *, workers: int = 1) -> RunReport:
        """Run every action; with `workers` > 1 on a bounded thread pool (bulk work).

        In parallel, results are reported to the hooks as they finish (one at a time)
        and kept in the order of `actions` in the report.
        """
        if workers > 1:
            return self._execute_parallel(list(actions), workers)
        report = self.report = RunReport(self.run)
        for hook in self.hooks:
            hook.run_started(self.run)
        try:
            stopped = False
            for index, action in enumerate(actions):
                if index in self.done:  # not journaled again
                    report.results.append(self._resumed(action, self.done[index]))
                    continue
                if stopped:
                    result = self._skipped(action, "not run: an earlier action failed")
                else:
                    result = self.run_one(action)
                report.results.append(result)
                for hook in self.hooks:
                    hook.action_finished(self.run, index, result)
                stopped = stopped or (result.failed and self.stop_on_error)
        finally:
            for hook in self.hooks:
                hook.run_finished(self.run, report)
        return report

    def _execute_parallel(self, actions: list[Action[Any]], workers: int) -> RunReport:
        results: dict[int, Result] = {}
        lock = threading.Lock()
        failed = threading.Event()

        def one(index: int, action: Action[Any]) -> None:
            if failed.is_set() and self.stop_on_error:
                result = self._skipped(action, "not run: an earlier action failed")
            else:
                result = self.run_one(action)
            with lock:  # hooks (the journal) see one result at a time
                results[index] = result
                for hook in self.hooks:
                    hook.action_finished(self.run, index, result)
            if result.failed:
                failed.set()

        for hook in self.hooks:
            hook.run_started(self.run)
        report = RunReport(self.run)
        try:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="adminkit") as pool:
                for future in [pool.submit(one, i, a) for i, a in enumerate(actions)
                               if i not in self.done]:
                    future.result()
            for index in range(len(actions)):
                report.results.append(results.get(index) or self.done[index])
        finally:
            for hook in self.hooks:
                hook.run_finished(self.run, report)
        return report

    def run_one(self, action: Action[Any]) -> Result:
        started = time.monotonic()
        try:
            plan = action.plan(self.ctx)
            if plan:
                action.guard(self.ctx, plan)
            applied = (action.apply(self.ctx, plan) if plan and not self.ctx.check
                       else Applied())
            result = self._result(action, plan, applied)
        except Skip as exc:
            result = self._skipped(action, str(exc) or "skipped")
        except AdminkitError as exc:
            result = self._failure(action, exc, int(exc.exit_code))
        except Exception as exc:  # noqa: BLE001 - any bug in one action fails that action only
            if self.debug:
                traceback.print_exc()
            result = self._failure(action, exc, int(ExitCode.FAILED))
        result.duration = round(time.monotonic() - started, 4)
        return result

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
        text = redact(str(exc)) or type(exc).__name__
        return Result(action=action.name, target=target, status=Status.FAILED,
                      summary=f"{action.name} {target}: {text.splitlines()[0]}",
                      error=text, error_type=type(exc).__name__, exit_code=code,
                      check=self.ctx.check)

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
