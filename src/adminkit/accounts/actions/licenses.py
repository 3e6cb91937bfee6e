"""account.licenses: Microsoft 365 licences of an Entra ID user, by SKU part number or id.

Only a directory that has licences (Entra ID) offers `sku`, `sku_names` and
`assign_licenses`; on others the action says so. A user without a usage location cannot
be given a licence: the plan explains that, instead of Graph's bare error.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from adminkit.accounts.actions.base import LoginParams, Text, UserAction
from adminkit.core.action import Action, Applied, Params, Plan
from adminkit.core.context import Context
from adminkit.core.errors import UsageError, ValidationError
from adminkit.core.result import Change


class LicensesParams(LoginParams):
    add: list[Text] = Field(default_factory=list)
    remove: list[Text] = Field(default_factory=list)


def licensing(directory: Any) -> Any:
    if not hasattr(directory, "assign_licenses"):
        raise UsageError(f"the {directory.kind} directory has no licences",
                         hint="licences are Microsoft 365's: use an Entra ID profile")
    return directory


class AccountLicenses(UserAction[LicensesParams]):
    name = "account.licenses"
    params_model: ClassVar[type[Params]] = LicensesParams

    def plan(self, ctx: Context) -> Plan:
        directory = licensing(self.directory(ctx))
        entry = self.lookup(ctx)
        have = {str(s).casefold() for s in entry.attributes.get("assignedLicenses", [])}
        self.adding = [s for s in (directory.sku(n) for n in self.params.add)
                       if str(s["skuId"]).casefold() not in have]
        self.removing = [s for s in (directory.sku(n) for n in self.params.remove)
                         if str(s["skuId"]).casefold() in have]
        if self.adding and not entry.attributes.get("usageLocation"):
            raise ValidationError(f"{entry.login} has no usage location, and Microsoft 365 "
                                  "licences may only be assigned to a user with one",
                                  hint=f"`adminkit account set {entry.login} "
                                       "usageLocation=CZ` (its two-letter country code) first")
        changes = [Change(op="add", field="license", after=s["skuPartNumber"])
                   for s in self.adding]
        changes += [Change(op="remove", field="license", before=s["skuPartNumber"])
                    for s in self.removing]
        if not changes:
            return Plan(summary=f"{entry.login} has these licences already")
        return Plan(changes, summary=f"change the licences of {entry.login}")

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        assert self.entry is not None
        licensing(self.directory(ctx)).assign_licenses(
            self.entry, [s["skuId"] for s in self.adding], [s["skuId"] for s in self.removing])
        return Applied()

    def undo(self) -> Action[Any] | None:
        return AccountLicenses(LicensesParams(
            login=self.params.login, add=[s["skuPartNumber"] for s in self.removing],
            remove=[s["skuPartNumber"] for s in self.adding]))
