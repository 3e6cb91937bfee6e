"""The bulk pre-flight: every row planned on the real systems before any is written.

A row that cannot even be planned (unknown login, missing group, protected account)
stops the whole run before anything is written, with every such row listed. The
plans and the connections that made them are handed to the run that applies them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from adminkit.automation.request import Bulk
from adminkit.core.action import Action, Plan
from adminkit.core.config import Profile
from adminkit.core.context import Context
from adminkit.core.delivery import check_many
from adminkit.core.errors import ConnectionFailed, PolicyRefused, ValidationError
from adminkit.core.run import Run
from adminkit.core.runner import Runner


@dataclass
class Preflight:
    plans: dict[int, Plan]
    opened: Context  # its connections serve the writes
    summary: str  # "2000 row(s): 1990 to change, 10 ok"


def batch_problems(actions: Sequence[Action[Any]], labels: Sequence[str]) -> None:
    """Rows that cannot all be meant (the same person twice): each action class says;
    and secrets for many rows need a folder, not one file."""
    check_many(actions)
    by_class: dict[type[Action[Any]], tuple[list[Action[Any]], list[str]]] = {}
    for action, label in zip(actions, labels, strict=True):
        rows, names = by_class.setdefault(type(action), ([], []))
        rows.append(action)
        names.append(label)
    problems = [p for cls, (rows, names) in by_class.items()
                for p in cls.batch_problems(rows, names)]
    if problems:
        raise ValidationError("duplicate rows, nothing was changed:\n  "
                              + "\n  ".join(problems[:50]),
                              hint="give each person or login once")


def blast_radius(command: str, actions: Sequence[Action[Any]], profile: Profile | None,
                 force: bool) -> None:
    limit = profile.policy.bulk_limit if profile else 25
    destructive = sum(1 for a in actions if a.destructive)
    if destructive > limit and not force:
        raise PolicyRefused(f"{command}: {destructive} rows take access away, over the "
                            f"profile's limit of {limit} for one run",
                            hint="check the file; add --force if it is really meant")


def preflight(run: Run, profile: Profile | None, actions: Sequence[Action[Any]], bulk: Bulk,
              *, debug: bool = False) -> Preflight:
    ctx = Context(run=run, profile=profile)
    planner = Runner(ctx, [], debug=debug, keep_plans=True, tally_only=True)
    try:
        planned = planner.execute(actions, workers=bulk.workers)
    except BaseException:
        ctx.close()
        raise
    failures = planned.failures()  # only these and the counts are kept
    failed = [r for _, r in failures]
    if failed:
        ctx.close()
        unreachable = [r for r in failed if r.exit_code == 3]
        if unreachable:  # not the rows' fault: say it once
            raise ConnectionFailed(str(unreachable[0].error))
        bad = [f"{bulk.labels[i]}: {r.error}" for i, r in failures]
        message = (f"{len(bad)} row(s) cannot be done, nothing was changed:\n  "
                   + "\n  ".join(bad[:50]))
        if all(r.exit_code == 4 for r in failed):
            raise PolicyRefused(message)
        raise ValidationError(message)
    counts = ", ".join(f"{n} {s}" for s, n in planned.counts.items() if n)
    assert planner.plans is not None
    return Preflight(planner.plans, ctx,
                     f"{len(actions)} row(s): {counts.replace('changed', 'to change')}")
