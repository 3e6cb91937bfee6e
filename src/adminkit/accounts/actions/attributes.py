"""account.move and account.set: where an account lives, and the attributes a profile allows."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from adminkit.accounts.actions.base import LoginParams, Text, UserAction
from adminkit.accounts.ldapbase import split_rdn
from adminkit.accounts.settings import account_settings
from adminkit.core.action import Action, Applied, Params, Plan
from adminkit.core.context import Context
from adminkit.core.errors import ValidationError
from adminkit.core.result import Change


def same_dn(a: str, b: str) -> bool:
    """Case and the spaces around `=` and `,` aside, the same DN. Spaces inside a value
    count: OU=New Hires is not OU=NewHires."""
    return _rdns(a) == _rdns(b)


def _rdns(dn: str) -> list[tuple[str, str]]:
    rdn, rest = split_rdn(dn.strip())
    name, _, value = rdn.partition("=")
    head = [(name.strip().lower(), value.strip().lower())]
    return head + _rdns(rest) if rest.strip() else head


class MoveParams(LoginParams):
    ou: Text


class MoveAccount(UserAction[MoveParams]):
    name = "account.move"
    params_model: ClassVar[type[Params]] = MoveParams

    def plan(self, ctx: Context) -> Plan:
        entry = self.lookup(ctx)
        _, parent = split_rdn(entry.dn)
        if same_dn(parent, self.params.ou):
            return Plan(summary=f"{entry.login} is already in {self.params.ou}")
        return Plan([Change(op="move", field="ou", before=parent, after=self.params.ou)],
                    summary=f"move {entry.login} to {self.params.ou}")

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        assert self.entry is not None
        self.moved_from = split_rdn(self.entry.dn)[1]
        new_dn = self.directory(ctx).move(self.entry, self.params.ou)
        return Applied(data={"dn": new_dn})

    def undo(self) -> Action[Any] | None:
        source = getattr(self, "moved_from", None)
        return MoveAccount(MoveParams(login=self.params.login, ou=source)) if source else None


class SetParams(LoginParams):
    values: dict[Text, list[str]] = Field(min_length=1)  # [] removes the attribute


class SetAttributes(UserAction[SetParams]):
    """Only the attributes the profile lists in accounts.settable_attributes."""

    name = "account.set"
    params_model: ClassVar[type[Params]] = SetParams

    def plan(self, ctx: Context) -> Plan:
        settable = account_settings(ctx.require_profile()).settable_attributes
        allowed = {a.lower(): a for a in settable}
        refused = [name for name in self.params.values if name.lower() not in allowed]
        if refused:
            raise ValidationError(f"attribute(s) not settable in this profile: "
                                  f"{', '.join(refused)}",
                                  hint=f"allowed: {', '.join(allowed.values())}")
        for values in self.params.values.values():
            for value in values:
                if any(ord(ch) < 32 for ch in value):
                    raise ValidationError("attribute values may not contain control characters")
        entry = self.lookup(ctx)
        names = [allowed[n.lower()] for n in self.params.values]
        current = self.directory(ctx).read_attributes(entry, names)
        changes = []
        for name, values in zip(names, self.params.values.values(), strict=True):
            if sorted(current.get(name, [])) != sorted(values):
                changes.append(Change(op="set", field=name, before=current.get(name) or None,
                                      after=values or None))
        self.wanted = {name: values for name, values in
                       zip(names, self.params.values.values(), strict=True)
                       if any(c.field == name for c in changes)}
        self.previous = {name: current.get(name, []) for name in self.wanted}
        if not changes:
            return Plan(summary=f"{entry.login}: attributes already as asked")
        return Plan(changes, summary=f"set {', '.join(self.wanted)} on {entry.login}")

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        assert self.entry is not None
        self.directory(ctx).set_attributes(self.entry, self.wanted)
        return Applied()

    def undo(self) -> Action[Any] | None:
        before = {name: list(values) for name, values in self.previous.items()}
        return SetAttributes(SetParams(login=self.params.login, values=before)) \
            if before else None
