"""account.restore: bring a deleted account back from the directory's recycle bin
(Entra ID's deleted items keep a deleted user for 30 days)."""

from __future__ import annotations

from typing import Any, ClassVar

from adminkit.accounts.actions.base import LoginParams, find_user
from adminkit.accounts.directory import UserEntry, directory_of
from adminkit.core.action import Action, Applied, Params, Plan
from adminkit.core.context import Context
from adminkit.core.errors import AdminkitError, PolicyRefused, UsageError, ValidationError
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
        active = find_user(ctx, self.params.login)
        self.binned = directory.deleted_user(self.params.login)
        if active is not None and self.binned is None:
            return Plan(summary=f"{self.params.login} is not deleted")
        if active is not None:
            assert self.binned is not None
            raise ValidationError(f"{self.params.login} is an active account now ({active.dn});"
                                  f" the deleted one ({self.binned.dn}) cannot get its UPN "
                                  "back while it is taken",
                                  hint="rename or delete the active account first, then "
                                       "restore the deleted one by its object id")
        if self.binned is None:
            raise ValidationError(f"no deleted account {self.params.login!r}",
                                  hint="deleted items keep a user for 30 days")
        return Plan([Change(op="restore", field="account", after=self.binned.dn)],
                    summary=f"restore {self.binned.login} from deleted items")

    def guard(self, ctx: Context, plan: Plan) -> None:
        """A protected account stays where it is, in deleted items too: bringing it back
        is as much a change to it as deleting it was. A restore also gives back every
        role the user held, so a directory that cannot show a deleted user's roles says
        why it cannot vouch (restore_refusal)."""
        if self.binned is None:
            return
        if self.binned.attributes.get("onPremisesSyncEnabled"):
            raise PolicyRefused(f"{self.binned.login} is synced from on-premises Active "
                                "Directory: restore it there, not in Entra ID",
                                hint="the next sync would delete it again; restore it from "
                                     "AD's recycle bin (the AD profile of this customer)")
        refuse_binned(ctx, self.binned, "restored")

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        """Restore; then look at what came back: the groups a protected-group check needs
        could not be read while the user was deleted, so a restore into one is said."""
        assert self.binned is not None
        directory: Any = directory_of(ctx)
        dropped = directory.restore(self.binned)
        if dropped is None:  # the race lost to another technician: the user is back
            return Applied(summary=f"{self.binned.login} was restored meanwhile, not by "
                                   "this run")
        said, data = [], {}
        if dropped:
            said.append(f"addresses another user has now were dropped: {', '.join(dropped)}")
            data["addresses_dropped"] = dropped
        try:  # the restore is made: a read after it failing does not undo it
            back = directory.get_user(self.binned.dn)
            reason = back and directory.protected_reason(back, ctx.require_profile().policy)
        except AdminkitError as exc:
            reason = None
            said.append(f"whether it is protected now could not be checked ({exc}): look "
                        "at its groups and roles")
            data["protected_unchecked"] = str(exc)
        if reason:
            said.append(f"it is protected now ({reason}): leave further changes to a domain "
                        "administrator")
            data["protected"] = reason
        if said:
            return Applied(summary=f"restored {self.binned.login}; " + "; ".join(said),
                           data=data)
        return Applied()


def refuse_binned(ctx: Context, binned: UserEntry, done: str) -> None:
    """Refuse (exit 4) a change to a deleted user that a protected one may not have:
    its restore, or its purge from deleted items."""
    policy = ctx.require_profile().policy
    directory: Any = directory_of(ctx)
    refusal = getattr(directory, "restore_refusal", None)
    reason = refusal(binned, policy) if refusal is not None else \
        directory.protected_reason(binned, policy)
    if reason:
        raise PolicyRefused(f"{binned.login} is not {done}: {reason}",
                            hint="protected and privileged accounts are restored or purged "
                                 "by a domain administrator, not through adminkit")
