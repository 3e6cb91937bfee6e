"""account.restore: bring a deleted account back from the directory's recycle bin
(Entra ID's deleted items keep a deleted user for 30 days)."""

from __future__ import annotations

from typing import Any, ClassVar

from adminkit.accounts.actions.base import LoginParams, find_user
from adminkit.accounts.directory import UserEntry, directory_of
from adminkit.core.action import Action, Applied, Params, Plan
from adminkit.core.context import Context
from adminkit.core.errors import PolicyRefused, UsageError, ValidationError
from adminkit.core.result import Change


class RestoreAccount(Action[LoginParams]):
    name = "account.restore"
    params_model: ClassVar[type[Params]] = LoginParams
    target_param = "login"
    binned: UserEntry | None = None

    def target(self) -> str:
        return self.params.login

    def plan(self, ctx: Context) -> Plan:
        directory: Any = directory_of(ctx)
        if not getattr(directory, "recycle_bin", False):
            raise UsageError(f"the {directory.kind} directory keeps no deleted accounts",
                             hint="a soft delete there is a quarantine: `account enable` and "
                                  "move it back")
        if find_user(ctx, self.params.login) is not None:
            return Plan(summary=f"{self.params.login} is not deleted")
        self.binned = directory.deleted_user(self.params.login)
        if self.binned is None:
            raise ValidationError(f"no deleted account {self.params.login!r}",
                                  hint="deleted items keep a user for 30 days")
        return Plan([Change(op="restore", field="account", after=self.binned.dn)],
                    summary=f"restore {self.binned.login} from deleted items")

    def guard(self, ctx: Context, plan: Plan) -> None:
        """A protected account stays where it is, in deleted items too: bringing it back
        is as much a change to it as deleting it was."""
        if self.binned is None:
            return
        names = {self.binned.login.casefold(), self.params.login.casefold(),
                 str(self.binned.attributes.get("userPrincipalName") or "").casefold()}
        protected = {p.casefold() for p in ctx.require_profile().policy.protected_accounts}
        if names & protected:
            raise PolicyRefused(f"{self.binned.login} is protected: listed in the profile's "
                                "protected accounts",
                                hint="protected accounts are changed by a domain "
                                     "administrator, not through adminkit")

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        assert self.binned is not None
        directory: Any = directory_of(ctx)
        directory.restore(self.binned)
        return Applied()
