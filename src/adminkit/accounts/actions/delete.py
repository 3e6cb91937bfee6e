"""account.delete (soft by default) and account.purge_quarantine for the scheduled job.

A soft delete keeps the account, recoverable, for the profile's quarantine period:
disabled, out of every group (the groups are kept in the journal), moved to the
quarantine OU and stamped with the date, so `purge_quarantine` knows when it is due.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

from pydantic import Field

from adminkit.accounts.actions.attributes import same_dn
from adminkit.accounts.actions.base import LoginParams, UserAction, find_user, refuse_protected
from adminkit.accounts.actions.restore import refuse_binned
from adminkit.accounts.directory import UserEntry, directory_of
from adminkit.accounts.ldapbase import split_rdn
from adminkit.accounts.settings import directory_settings
from adminkit.core.action import Action, Applied, Params, Plan
from adminkit.core.context import Context
from adminkit.core.delivery import Delivery
from adminkit.core.errors import AdminkitError, PolicyRefused, UsageError
from adminkit.core.result import Change

STAMP = "adminkit-quarantine {day} run {run} from {parent}"
STAMP_RE = re.compile(r"^adminkit-quarantine (\d{4}-\d{2}-\d{2}) ")


def quarantine_ou(ctx: Context) -> str:
    directory = directory_settings(ctx.require_profile())
    if directory is None or not directory.quarantine_ou:
        raise UsageError("the profile names no quarantine OU (directory.quarantine_ou)",
                         hint="set it, or use --hard to delete at once")
    return directory.quarantine_ou


class DeleteParams(LoginParams):
    hard: bool = False


class DeleteAccount(UserAction[DeleteParams]):
    name = "account.delete"
    destructive = True
    binned: UserEntry | None = None  # a soft-deleted user that a hard delete purges
    params_model: ClassVar[type[Params]] = DeleteParams

    def plan(self, ctx: Context) -> Plan:
        directory = self.directory(ctx)
        entry = find_user(ctx, self.params.login)
        if getattr(directory, "recycle_bin", False):  # Entra: deleted items, no quarantine
            return self._plan_recycled(directory, entry)
        if entry is None:
            return Plan(summary=f"no account {self.params.login}: nothing to delete")
        self.entry = entry
        if self.params.hard:
            return Plan([Change(op="delete", field="account", before=entry.dn)],
                        summary=f"delete {entry.login} for good")
        target = quarantine_ou(ctx)
        _, parent = split_rdn(entry.dn)
        self.groups = directory.user_groups(entry)
        if same_dn(parent, target) and not entry.enabled and not self.groups:
            return Plan(summary=f"{entry.login} is already in quarantine")
        changes = []
        if entry.enabled:
            changes.append(Change(op="set", field="enabled", before=True, after=False))
        changes += [Change(op="remove", field="group", before=g.name) for g in self.groups]
        if not same_dn(parent, target):
            changes.append(Change(op="move", field="ou", before=parent, after=target))
        # UTC's date, as purge_quarantine compares it (a local date is a day off for part
        # of the day, and west of UTC made an account due a day early)
        self.stamp = STAMP.format(day=datetime.now(UTC).date().isoformat(), run=ctx.run.id,
                                  parent=parent)
        changes.append(Change(op="set", field="description", before=entry.description,
                              after=self.stamp))
        return Plan(changes, summary=f"quarantine {entry.login} (soft delete)",
                    data={"groups_removed": [g.dn for g in self.groups], "from": parent})

    def _plan_recycled(self, directory: Any, entry: UserEntry | None) -> Plan:
        """A directory with a recycle bin: soft is a delete into it (restorable), hard a
        delete and a purge from it; a hard delete of a soft-deleted user purges it."""
        self.entry, self.binned = entry, None
        if entry is not None:
            changes = [Change(op="delete", field="account", before=entry.dn)]
            if self.params.hard:
                changes.append(Change(op="delete", field="deleted_item", before=entry.dn))
            how = "for good" if self.params.hard else "into deleted items (restorable)"
            return Plan(changes, summary=f"delete {entry.login} {how}")
        binned = directory.deleted_user(self.params.login) if self.params.hard else None
        if binned is None:
            return Plan(summary=f"no account {self.params.login}: nothing to delete")
        self.binned = binned
        return Plan([Change(op="delete", field="deleted_item", before=binned.dn)],
                    summary=f"purge {binned.login} from deleted items")

    def guard(self, ctx: Context, plan: Plan) -> None:
        """A deleted user purged for good is guarded as its restore is: a protected one
        stays in deleted items (where only a restore could ever bring it back)."""
        super().guard(ctx, plan)
        if self.binned is not None:
            refuse_binned(ctx, self.binned, "purged")

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        directory = self.directory(ctx)
        if getattr(directory, "recycle_bin", False):
            gone = self.entry or self.binned
            assert gone is not None
            if self.entry is not None:
                directory.delete(self.entry)
            if self.params.hard:
                directory.purge(gone)  # type: ignore[attr-defined]
            return Applied()
        assert self.entry is not None
        if self.params.hard:
            directory.delete(self.entry)
            return Applied()
        entry = self.entry
        if entry.enabled:
            directory.set_enabled(entry, False)
        for group in self.groups:
            directory.remove_member(group, entry)
        directory.set_attributes(entry, {"description": [self.stamp]})
        target = quarantine_ou(ctx)
        if not same_dn(split_rdn(entry.dn)[1], target):
            directory.move(entry, target)
        return Applied()


class PurgeParams(Params):
    older_than_days: int = Field(30, ge=1)
    force: bool = False


def quarantined_on(entry: UserEntry) -> date | None:
    match = STAMP_RE.match(entry.description or "")
    return date.fromisoformat(match.group(1)) if match else None


class PurgeQuarantine(Action[PurgeParams]):
    """Hard-delete accounts that have sat in quarantine longer than the given days."""

    name = "account.purge_quarantine"
    params_model: ClassVar[type[Params]] = PurgeParams
    destructive = True

    def target(self) -> str:
        return f"quarantine older than {self.params.older_than_days}d"

    def plan(self, ctx: Context) -> Plan:
        directory = directory_of(ctx)
        cutoff = datetime.now(UTC).date() - timedelta(days=self.params.older_than_days)
        self.due = [u for u in directory.list_users(quarantine_ou(ctx))
                    if (day := quarantined_on(u)) is not None and day <= cutoff]
        if not self.due:
            return Plan(summary=f"nothing in quarantine for more than "
                                f"{self.params.older_than_days} days")
        return Plan([Change(op="delete", field="account", before=u.login) for u in self.due],
                    summary=f"purge {len(self.due)} account(s) from quarantine",
                    data={"purged": [u.login for u in self.due]})

    def guard(self, ctx: Context, plan: Plan) -> None:
        limit = ctx.require_profile().policy.bulk_limit
        if len(self.due) > limit and not self.params.force:
            raise PolicyRefused(f"purge would delete {len(self.due)} accounts, over the "
                                f"profile's limit of {limit}", hint="add --force if intended")
        for entry in self.due:
            refuse_protected(ctx, entry)

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        directory = directory_of(ctx)
        for entry in self.due:
            directory.delete(entry)
        return Applied()


class UndoCreate(DeleteAccount):
    """The undo of a create: the account goes, and so does the password delivered for it
    (a file left behind would hold the password of an account that is gone)."""

    def __init__(self, params: DeleteParams, delivered: Delivery | None) -> None:
        super().__init__(params)
        self.delivered = delivered

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        applied = super().apply(ctx, plan)
        if self.delivered is None:
            return applied
        try:
            taken = self.delivered.withdraw(self.params.login)
        except AdminkitError as exc:
            taken = f"not taken back ({exc.message})"
        return Applied(summary=f"{plan.summary}; its delivered password: {taken}",
                       data={**applied.data, "password_withdrawn": taken})
