"""account.report: a read-only action, so playbooks can act on a report's accounts."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from adminkit.accounts.directory import directory_of
from adminkit.core.action import Action, Applied, Params, Plan
from adminkit.core.context import Context


class ReportParams(Params):
    kind: Literal["inactive", "locked", "disabled", "password-expiring", "never-logged-in",
                  "licensed"]
    days: int = Field(90, ge=1, le=3650)


class ReportAccounts(Action[ReportParams]):
    name = "account.report"
    params_model: ClassVar[type[Params]] = ReportParams

    def target(self) -> str:
        return f"{self.params.kind} ({self.params.days} days)"

    def plan(self, ctx: Context) -> Plan:
        found = directory_of(ctx).report(self.params.kind, days=self.params.days)
        if self.params.kind == "inactive":  # what is disabled already is nobody's work
            found = [u for u in found if u.enabled]
        logins = [u.login for u in found]
        return Plan(summary=f"{len(logins)} account(s) {self.params.kind}"
                            + (f" over {self.params.days} days"
                               if self.params.kind == "inactive" else ""),
                    data={"logins": logins, "accounts": [u.row() for u in found]})

    def apply(self, ctx: Context, plan: Plan) -> Applied:  # pragma: no cover - never changes
        return Applied()
