"""account.groups: add, remove, or set exact membership; reports exactly what moved."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any, ClassVar

from pydantic import Field

from adminkit.accounts.actions.base import LoginParams, Text, UserAction, refuse_protected
from adminkit.accounts.directory import Directory, GroupEntry, directory_of
from adminkit.core.action import Action, Applied, Params, Plan
from adminkit.core.context import Context
from adminkit.core.errors import PolicyRefused, ValidationError
from adminkit.core.result import Change


class GroupsParams(LoginParams):
    add: list[Text] = Field(default_factory=list)
    remove: list[Text] = Field(default_factory=list)
    set: list[Text] | None = None  # exact membership: adds and removes the difference


def group_cache(ctx: Context) -> dict[str, GroupEntry | None]:
    """Groups looked up once per run and shared by its actions (and worker threads).

    A bulk run names the same few groups thousands of times; without this each row
    searched them again and kept its own copy of their member lists (quadratic memory).
    Membership decisions never use a cached group's members, so they are dropped.
    """
    cache: dict[str, GroupEntry | None] = ctx.resource("group-cache", dict)
    return cache


def resolve_groups(directory: Directory, names: list[str],
                   cache: dict[str, GroupEntry | None] | None = None) -> list[GroupEntry]:
    found, missing = [], []
    for name in names:
        key = name.lower()
        if cache is not None and key in cache:
            group = cache[key]
        else:
            group = directory.find_group(name)
            if group is not None:
                group = replace(group, members=())
            if cache is not None:
                cache[key] = group
        if group is None:
            missing.append(name)
        else:
            found.append(group)
    if missing:
        raise ValidationError(f"no such group: {', '.join(missing)}",
                              hint="`adminkit group show NAME` checks a group's name")
    return found


def membership_changes(directory: Directory, current: list[GroupEntry], *, add: list[str],
                       remove: list[str], exact: list[str] | None,
                       cache: dict[str, GroupEntry | None] | None = None,
                       ) -> tuple[list[GroupEntry], list[GroupEntry]]:
    """Which groups to join and leave, by DN (names are resolved first)."""
    have = {g.dn.lower(): g for g in current}
    if exact is not None:
        wanted = {g.dn.lower(): g for g in resolve_groups(directory, exact, cache)}
        join = [g for k, g in wanted.items() if k not in have]
        leave = [g for k, g in have.items() if k not in wanted]
        return join, leave
    join = [g for g in resolve_groups(directory, add, cache) if g.dn.lower() not in have]
    leave_keys = {g.dn.lower() for g in resolve_groups(directory, remove, cache)}
    return join, [g for k, g in have.items() if k in leave_keys]


def refuse_protected_groups(ctx: Context, groups: list[GroupEntry]) -> None:
    """Joining a protected group, or one nested inside it, grants its rights: refused."""
    policy = ctx.require_profile().policy
    directory = directory_of(ctx)
    known: dict[str, str | None] = ctx.resource("group-protection", dict)  # once per run
    with ctx.resource("group-protection-lock", threading.Lock):  # not once per worker
        for group in groups:
            if group.dn.lower() not in known:
                known[group.dn.lower()] = directory.group_protected_reason(group, policy)
    reasons = [r for g in groups if (r := known[g.dn.lower()])]
    if reasons:
        raise PolicyRefused("; ".join(reasons),
                            hint="membership of protected groups is changed by a domain "
                                 "administrator, not through adminkit")


class AccountGroups(UserAction[GroupsParams]):
    name = "account.groups"
    params_model: ClassVar[type[Params]] = GroupsParams

    def plan(self, ctx: Context) -> Plan:
        p = self.params
        if p.set is not None and (p.add or p.remove):
            raise ValidationError("--set gives the exact membership: use it alone, "
                                  "not with --add or --remove")
        entry = self.lookup(ctx)
        directory = self.directory(ctx)
        join, leave = membership_changes(directory, directory.user_groups(entry),
                                         add=p.add, remove=p.remove, exact=p.set,
                                         cache=group_cache(ctx))
        self.join, self.leave = join, leave
        changes = [Change(op="add", field="group", after=g.name) for g in join]
        changes += [Change(op="remove", field="group", before=g.name) for g in leave]
        if not changes:
            return Plan(summary=f"{entry.login}: group membership already as asked")
        parts = ([f"+{', +'.join(g.name for g in join)}"] if join else []) + \
                ([f"-{', -'.join(g.name for g in leave)}"] if leave else [])
        return Plan(changes, summary=f"groups of {entry.login}: {' '.join(parts)}",
                    data={"added": [g.dn for g in join], "removed": [g.dn for g in leave]})

    def guard(self, ctx: Context, plan: Plan) -> None:
        refuse_protected(ctx, self.entry)
        refuse_protected_groups(ctx, self.join)

    def undo(self) -> Action[Any] | None:
        return AccountGroups(GroupsParams(login=self.params.login,
                                          add=[g.dn for g in self.leave],
                                          remove=[g.dn for g in self.join]))

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        assert self.entry is not None
        directory = self.directory(ctx)
        for group in self.join:
            directory.add_member(group, self.entry)
        for group in self.leave:
            directory.remove_member(group, self.entry)
        return Applied()
