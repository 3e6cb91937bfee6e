"""Actions: read the current state, plan typed changes, apply them unless checking.

An action never decides how it is reported: the runner turns its plan into a
`Result`, so idempotence ("ok: nothing to do"), `--check`, diffs, the journal and
ticket notes behave the same for every action.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from adminkit.core.result import Change
from adminkit.core.secrets import Secret

if TYPE_CHECKING:
    from adminkit.core.context import Context
    from adminkit.core.delivery import Delivery


class Skip(Exception):
    """Raised by `plan` when the action should not run at all (a false `when`, say)."""


class Params(BaseModel):
    """Base for action parameters: strict about unknown fields."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True,
                              defer_build=True)


P = TypeVar("P", bound=Params)


@dataclass
class Plan:
    """What `apply` would do. No changes means the target is already as asked."""

    changes: list[Change] = field(default_factory=list)
    summary: str = ""  # e.g. "disable jdoe"; the runner words it per outcome
    data: dict[str, Any] = field(default_factory=dict)  # state read while planning
    # state read before the write that the journal's intent row keeps, for a resume to
    # tell whether an interrupted write happened (`Action.settle`); never a secret
    intent: dict[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.changes)


@dataclass
class Applied:
    """What `apply` reports back beyond the plan (a new DN, how a password was delivered)."""

    summary: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


class Action(ABC, Generic[P]):
    name: ClassVar[str]
    params_model: ClassVar[type[Params]]
    # In a bulk run, up to this many rows of the class are applied by one `apply_many`
    # call (on one worker), so that the class can write them in fewer requests.
    together: ClassVar[int] = 1
    # Traits that the run service and the playbook engine read, so that neither knows
    # any action by name:
    destructive: ClassVar[bool] = False  # takes access away: the blast-radius limit counts it
    delivers_secret: ClassVar[bool] = False  # makes a secret: built with `deliver=` a Delivery
    creates_target: ClassVar[bool] = False  # its target does not exist until it has run
    target_param: ClassVar[str | None] = None  # the parameter that names the target

    def __init__(self, params: P, deliver: Delivery | None = None) -> None:
        self.params = params
        self.deliver = deliver
        # Set by the runner before planning: this row's write was announced by an
        # interrupted attempt of the run and never reported (a resume); `settle` and
        # `plan` may then finish what that attempt began.
        self.resuming = False

    def record(self) -> dict[str, Any]:
        """What a resume needs to build this action again: name, parameters, delivery.
        Secret values are never recorded, only which parameters held one."""
        values = self.params.model_dump(mode="json", exclude_defaults=True)
        secrets = sorted(k for k, v in self.params if isinstance(v, Secret))
        for key in secrets:
            values.pop(key, None)
        entry: dict[str, Any] = {"uses": self.name, "with": values}
        if secrets:
            entry["secrets"] = secrets
        if self.deliver is not None:
            entry["deliver"] = self.deliver.spec
        return entry

    @classmethod
    def batch_problems(cls, actions: Sequence[Action[Any]], labels: Sequence[str]) -> list[str]:
        """Rows of one bulk run that cannot all be meant (the same person twice, say),
        each as "LABEL: why". Checked before anything runs, by every caller."""
        return []

    @abstractmethod
    def target(self) -> str:
        """What this action acts on, as the journal and notes name it (a login, a queue)."""

    @abstractmethod
    def plan(self, ctx: Context) -> Plan:
        """Read the current state and return the changes needed. Must not write."""

    @abstractmethod
    def apply(self, ctx: Context, plan: Plan) -> Applied:
        """Make the planned changes. Called only when the plan has changes and not checking."""

    @classmethod
    def prepare(cls, ctx: Context, actions: Sequence[Action[Any]]) -> None:
        """Before many actions of this class are planned: look up in a few requests what
        each plan would look up alone, and settle what depends on the order of the rows
        (a login two rows would both get). Default: nothing. An AdminkitError here is not
        fatal: each action then plans on its own and reports its own error."""

    @classmethod
    def apply_many(cls, ctx: Context, items: Sequence[tuple[Action[Any], Plan]]
                   ) -> list[Applied | Exception]:
        """Apply several planned actions of this class; each gets its own outcome, an
        exception standing for that action's failure. Default: one after the other."""
        outcomes: list[Applied | Exception] = []
        for action, plan in items:
            try:
                outcomes.append(action.apply(ctx, plan))
            except Exception as exc:  # noqa: BLE001 - it is this action's outcome
                outcomes.append(exc)
        return outcomes

    def still_to_do(self, plan: Plan) -> bool:
        """Whether `plan`, made afresh for this row of a bulk run that is journaled as
        done, shows that the row needs doing again (the systems changed since): a resume
        trusts the systems over the journal. Default: any planned change. An action whose
        plan always has a change it cannot read back (a password) counts only the others."""
        return bool(plan)

    def settle(self, ctx: Context, intent: dict[str, Any]) -> Plan | None:
        """On a resume, for a row whose write an interrupted attempt announced (with
        `intent`, its `Plan.intent`) and never reported: a plan read from the systems that
        says whether that write happened (an empty plan: it did), or None to plan afresh.
        For a write that a fresh plan cannot tell done from not done (a restart)."""
        return None

    def undo(self) -> Action[Any] | None:
        """An action that reverses what `apply` did, for a playbook's rollback; None if it
        cannot be reversed (a password cannot be un-reset)."""
        return None

    def guard(self, ctx: Context, plan: Plan) -> None:
        """Refuse by policy before applying (raise PolicyRefused). Default: allow."""


class AsyncAction(Action[P]):
    """An action whose work is coroutines (an async client such as msgraph-sdk's).

    The runner's worker runs each coroutine on the run's one event loop
    (`ctx.bridge`) and waits for it, so async actions share the pool, the limits, the
    journal and Ctrl-C with the rest. Connections: `await ctx.connection_async(...)`.
    """

    @abstractmethod
    async def plan_async(self, ctx: Context) -> Plan:
        """`plan`, as a coroutine."""

    @abstractmethod
    async def apply_async(self, ctx: Context, plan: Plan) -> Applied:
        """`apply`, as a coroutine."""

    def plan(self, ctx: Context) -> Plan:
        return ctx.bridge.run(self.plan_async(ctx))

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        return ctx.bridge.run(self.apply_async(ctx, plan))
