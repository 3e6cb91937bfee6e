"""Running a playbook: each step becomes an action when its turn comes.

Steps are expanded lazily, so `when`, `loop` and templates can use the results of the
steps before them (`steps.NAME`). Each expanded action is journaled and noted like
any other. `on_error: rollback` undoes the playbook's earlier changes in reverse
order, and says so in the journal and on the ticket.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import ValidationError as PydanticValidationError

from adminkit.core.action import Action, Applied, Params, Plan, Skip
from adminkit.core.context import Context
from adminkit.core.delivery import check_many
from adminkit.core.errors import AdminkitError, PolicyRefused, UsageError, ValidationError
from adminkit.core.result import Result, Status
from adminkit.core.secrets import redact
from adminkit.playbook import render
from adminkit.playbook.loader import EXTRA_PARAMS, LoadedPlaybook, registry
from adminkit.playbook.model import Step

if TYPE_CHECKING:
    from adminkit.core.delivery import Delivery
    from adminkit.core.runner import Runner

MAX_ITEMS = 10_000
UNDO = "undo "  # how a rollback's rows name their action: "undo account.create"


class StepAction(Action[Params]):
    """One expansion of a step: renders its parameters when planned, then delegates."""

    params_model: ClassVar[type[Params]] = Params

    def __init__(self, step: Step, variables: dict[str, Any], label: str,
                 deliveries: Callable[[str], Delivery] | None = None, where: str = "") -> None:
        super().__init__(Params())
        self.step, self.variables, self.label = step, variables, label
        self.where = where  # "file:line:col: " of the step's `with`, for template errors
        self.name = step.uses  # type: ignore[misc]
        self.deliveries = deliveries
        self.inner: Action[Any] | None = None

    def target(self) -> str:
        return self.inner.target() if self.inner else self.label

    def _params(self) -> tuple[type[Action[Any]], Params, Any]:
        """The action class, its parameters rendered and validated, the delivery asked."""
        cls = registry()[self.step.uses]
        values = render.render_value(self.step.with_, self.variables, self.where)
        spec = values.pop("deliver", None)
        try:
            params = cls.params_model.model_validate(
                {k: v for k, v in values.items() if k not in EXTRA_PARAMS})
        except PydanticValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                 for e in exc.errors(include_url=False, include_input=False))
            raise ValidationError(f"{self.label}: {problems}") from None
        return cls, params, spec

    def named_target(self) -> str | None:
        """The target its parameters name, read without planning or delivering anything;
        None where the step does not give its action's target parameter (a login computed
        while planning). Raises ValidationError as `build` would."""
        cls = registry()[self.step.uses]
        if cls.target_param is None or cls.target_param not in self.step.with_:
            return None
        _, params, _ = self._params()
        return redact(cls(params).target())

    def build(self) -> Action[Any]:
        cls, params, spec = self._params()
        if cls.delivers_secret:
            sink = self.deliveries(str(spec or "terminal")) if self.deliveries else None
            return cls(params, deliver=sink)
        return cls(params)

    def plan(self, ctx: Context) -> Plan:
        self.inner = self.build()
        plan = self.inner.plan(ctx)
        if plan and self.step.check:
            plan.summary = f"{plan.summary} (check only: this step never changes anything)"
        return plan

    def guard(self, ctx: Context, plan: Plan) -> None:
        assert self.inner is not None
        self.inner.guard(ctx, plan)

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        assert self.inner is not None
        if self.step.check:
            return Applied(summary=f"would {plan.summary}")
        return self.inner.apply(ctx, plan)

    def undo(self) -> Action[Any] | None:
        return self.inner.undo() if self.inner and not self.step.check else None


class Undo(Action[Params]):
    """A rollback step: the undo of an earlier action, or a record that it has none."""

    params_model: ClassVar[type[Params]] = Params

    def __init__(self, of: StepAction, action: Action[Any] | None) -> None:
        super().__init__(Params())
        self.of, self.action = of, action
        self.name = f"{UNDO}{of.name}"  # type: ignore[misc]

    def target(self) -> str:
        return self.of.target()

    def plan(self, ctx: Context) -> Plan:
        if self.action is None:
            raise Skip(f"cannot undo {self.of.name} {self.of.target()}: left as it is")
        plan = self.action.plan(ctx)
        plan.summary = f"undo: {plan.summary}"
        return plan

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        assert self.action is not None
        return self.action.apply(ctx, plan)


class PlaybookRun:
    def __init__(self, loaded: LoadedPlaybook, inputs: dict[str, Any], *,
                 ticket: dict[str, Any] | None, profile_name: str | None, run_id: str,
                 deliver: Any = None, bulk_limit: int = 25, force: bool = False) -> None:
        self.loaded, self.inputs, self.deliver = loaded, inputs, deliver
        self.bulk_limit, self.force = bulk_limit, force
        self.destructive = 0  # targets of the destructive steps so far: the limit is a run's
        self.variables: dict[str, Any] = {
            "inputs": inputs, "ticket": ticket or {}, "steps": {},
            "profile": {"name": profile_name}, "run": {"id": run_id}}
        # what changed, in order: this attempt's actions, or an earlier attempt's results
        # (a resume skips those rows, so it never read what their undo would need)
        self.applied: list[StepAction | Result] = []
        self.rolled_back = False
        self.would_create: set[str] = set()  # logins a check run would have created

    def _awaits_creation(self, step: Step, scope: dict[str, Any], runner: Runner) -> str | None:
        """In a check run, a step on a target an earlier step would create (an account,
        say) cannot be planned; it is skipped with the reason instead of failing."""
        key = registry()[step.uses].target_param
        if not runner.ctx.check or not self.would_create or key is None or \
                key not in step.with_:
            return None
        try:
            target = render.render_value(step.with_[key], scope)
        except ValidationError:
            return None
        return target if isinstance(target, str) and target in self.would_create else None

    def actions(self, runner: Runner) -> Iterator[Action[Any]]:
        """The generator the runner consumes; it reads each result as it is produced.

        A resume skips the rows journaled as done by their index, so each expansion at
        such an index is first held against the row journaled there: a CSV, a ticket or
        a loop's values that changed since would otherwise have a row skipped as done
        that never was, and the one done there done again. One that is not the same
        stops the resume there, failed; one that cannot be expanded now fails as itself,
        and stops it too, whatever its `on_error`."""
        steps = self._steps(runner)
        try:
            for action in steps:
                index = len(runner.report.results) if runner.report else 0
                earlier = runner.done.get(index)
                if earlier is None or earlier.action == "?" or isinstance(action, _Skipped):
                    yield action
                    continue
                instead = action if isinstance(action, _Failed) else \
                    self._unlike(action, earlier, index, runner.run.id)
                if instead is None:
                    yield action
                    continue
                del runner.done[index]  # it runs (and fails) instead of passing as done
                yield instead
                return  # the rows after it may have moved too: none is taken as done
        finally:
            steps.close()

    def _unlike(self, action: Action[Any], earlier: Result, index: int,
                run_id: str) -> _Failed | None:
        """Why `action` is not the row journaled as done at `index`, as its failure."""
        label = action.label if isinstance(action, StepAction) else action.name
        try:
            target = action.named_target() if isinstance(action, StepAction) else None
        except UsageError as exc:
            return _Failed(action.name, label, exc)
        if earlier.action == action.name and (
                target is None or target.casefold() == earlier.target.casefold()):
            return None
        now = f"{action.name} on {target}" if target is not None else action.name
        return _Failed(action.name, label, ValidationError(
            f"idx {index} of run {run_id} was {earlier.action} on {earlier.target} "
            f"when it was done; now it is {now}: what the playbook goes through has changed "
            "since (a CSV, a ticket, a loop's values), so the rest is not resumed",
            hint="run the playbook again: what was done is found on the systems and kept"))

    def _steps(self, runner: Runner) -> Generator[Action[Any], None, None]:
        for index, step in enumerate(self.loaded.playbook.steps):
            label = step.label(index)
            try:
                items = self._items(step, index)
            except ValidationError as exc:
                yield _Failed(step.uses, label, exc)
                if step.on_error != "continue":
                    yield from self._rollback() if step.on_error == "rollback" else ()
                    return
                continue
            results: list[Result] = []
            failed = False
            over = self._over_limit(step, items) or self._batch_problems(step, items, label)
            if over is not None:
                yield _Failed(step.uses, label, over)
                items, failed = [], True
                results.append(_last(runner))
            for item in items:
                if failed and step.on_error == "rollback":
                    break  # the items left would only be made to be undone
                scope = {**self.variables, "item": item} if item is not _NO_ITEM else \
                    self.variables
                try:
                    go = step.when is None or render.evaluate(
                        step.when, scope, self._where(index, "when"))
                except ValidationError as exc:  # a condition that cannot be evaluated fails
                    yield _Failed(step.uses, label, exc)
                    results.append(_last(runner))
                    failed = True
                    continue
                if not go:
                    yield _Skipped(step.uses, label, "condition is false")
                    results.append(_last(runner))  # registered as skipped
                    continue
                pending = self._awaits_creation(step, scope, runner)
                if pending:
                    yield _Skipped(step.uses, label, f"would run once {pending} exists "
                                                     "(a check run creates nothing)")
                    continue
                action = StepAction(step, scope, label, self.deliver, self._where(index, "with"))
                at = len(runner.report.results) if runner.report else 0
                yield action
                result = _last(runner)
                results.append(result)
                if result.check and result.changed and registry()[step.uses].creates_target:
                    self.would_create.add(result.target)
                if result.changed and not result.check and not step.check:
                    # only what really changed can be undone
                    self.applied.append(result if at in runner.done else action)
                failed = failed or result.failed
            if step.register_:
                self.variables["steps"][step.register_] = _registered(results, looped=(
                    step.loop is not None or step.for_each is not None))
            if failed and step.on_error == "stop":
                return
            if failed and step.on_error == "rollback":
                yield from self._rollback()
                return

    def _over_limit(self, step: Step, items: list[Any]) -> AdminkitError | None:
        """The profile's blast-radius limit holds for playbooks too, for the whole run:
        two steps (or two dozen) of a few disables each are counted together."""
        if not registry()[step.uses].destructive:
            return None
        earlier = self.destructive
        if self.force or earlier + len(items) <= self.bulk_limit:
            self.destructive += len(items)
            return None
        also = f" after {earlier} in earlier steps" if earlier else ""
        return PolicyRefused(f"{step.uses} on {len(items)} targets{also} is over the "
                             f"profile's limit of {self.bulk_limit} for one run",
                             hint="run again with --force if this is really meant")

    def _batch_problems(self, step: Step, items: list[Any], label: str
                        ) -> ValidationError | None:
        """A loop or CSV gets the checks a bulk command makes (the same person twice):
        the action class says what cannot all be meant, before any item runs."""
        if len(items) < 2:
            return None
        built: list[Action[Any]] = []
        labels: list[str] = []
        for n, item in enumerate(items, 1):
            try:
                built.append(StepAction(step, {**self.variables, "item": item}, label,
                                        self.deliver).build())
            except UsageError:
                continue  # its own expansion reports it
            labels.append(f"{label}, item {n}")
        try:
            check_many(built)
        except UsageError as exc:
            return ValidationError(f"{label}: {exc.message}", hint=exc.hint)
        problems = registry()[step.uses].batch_problems(built, labels)
        if not problems:
            return None
        return ValidationError("duplicate items, nothing was changed:\n  "
                               + "\n  ".join(problems[:50]))

    def _where(self, index: int, key: str) -> str:
        return f"{self.loaded.source.where(['steps', index, key])}: "

    def _items(self, step: Step, index: int) -> list[Any]:
        if step.for_each is not None:
            path = Path(str(render.render_value(step.for_each.csv, self.variables,
                                                self._where(index, "for_each"))))
            from adminkit.core.csvfile import read_rows

            return [row.values for row in read_rows(path, required=(), any_columns=True)]
        if step.loop is None:
            return [_NO_ITEM]
        items = render.render_value(step.loop, self.variables, self._where(index, "loop"))
        if not isinstance(items, list):
            raise ValidationError(f"{step.uses}: loop gave {type(items).__name__}, not a list")
        if len(items) > MAX_ITEMS:
            raise ValidationError(f"{step.uses}: loop of {len(items)} items (max {MAX_ITEMS})")
        return items

    def _rollback(self) -> Iterator[Action[Any]]:
        self.rolled_back = True
        for done in reversed(self.applied):
            if isinstance(done, Result):
                yield _Skipped(f"{UNDO}{done.action}", done.target,
                               f"cannot undo {done.action} {done.target}: an earlier attempt "
                               "of this run did it, and what its undo needs was read then; "
                               "left as it is")
            else:
                yield Undo(done, done.undo())


_NO_ITEM = object()


def _last(runner: Runner) -> Result:
    assert runner.report is not None and runner.report.results
    return runner.report.results[-1]


def _registered(results: list[Result], *, looped: bool) -> dict[str, Any]:
    def one(r: Result) -> dict[str, Any]:
        dumped = r.model_dump(mode="json")
        return {"status": r.status.value, "changed": r.changed, "failed": r.failed,
                "summary": r.summary, "target": r.target, "data": dumped["data"]}

    if not looped and len(results) == 1:
        return one(results[0])
    return {"results": [one(r) for r in results],
            "changed": any(r.changed for r in results),
            "failed": any(r.failed for r in results)}


class _Fixed(Action[Params]):
    params_model: ClassVar[type[Params]] = Params

    def __init__(self, name: str, label: str) -> None:
        super().__init__(Params())
        self.name, self.label = name, label  # type: ignore[misc]

    def target(self) -> str:
        return self.label

    def apply(self, ctx: Context, plan: Plan) -> Applied:  # pragma: no cover - never planned
        return Applied()


class _Skipped(_Fixed):
    def __init__(self, name: str, label: str, why: str) -> None:
        super().__init__(name, label)
        self.why = why

    def plan(self, ctx: Context) -> Plan:
        raise Skip(self.why)


class _Failed(_Fixed):
    def __init__(self, name: str, label: str, error: Exception) -> None:
        super().__init__(name, label)
        self.error = error

    def plan(self, ctx: Context) -> Plan:
        raise self.error


def deliver_factory(profile: Any) -> Callable[[str], Delivery]:
    """Steps name a delivery (`deliver: mail`); build it against the run's profile."""
    from adminkit.core.delivery import delivery

    def make(spec: str) -> Delivery:
        if spec == "mail" and profile is not None:
            from adminkit.core.mail import check_secret_route

            check_secret_route(profile.mail)
        return delivery(spec, profile)

    return make


__all__ = ["PlaybookRun", "Status", "StepAction", "Undo", "deliver_factory"]
