"""account.create: a new account from the profile's template and naming rules.

Re-running it for the same person changes nothing: an existing account with the
computed login and the same given name and surname is that person. For a bulk
import (create or update), an existing account gets the groups it lacks and, with
`update_password: always`, a new password.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, ClassVar, Literal

from pydantic import Field

from adminkit.accounts import naming, passwords
from adminkit.accounts.actions.base import Text, fill, refuse_protected
from adminkit.accounts.actions.groups import (
    group_cache,
    membership_changes,
    refuse_protected_groups,
    resolve_groups,
)
from adminkit.accounts.actions.password import check_given, new_password
from adminkit.accounts.actions.state import expiry_instant
from adminkit.accounts.directory import NewUser, UserEntry, directory_of
from adminkit.core.action import Action, Applied, Params, Plan
from adminkit.core.context import Context
from adminkit.core.errors import ValidationError
from adminkit.core.result import Change
from adminkit.core.secrets import Secret

MAIL = r"^[^@\s,;<>()\\\"]+@[^@\s,;<>()\\\"]+\.[^@\s,;<>()\\\"]+$"


class CreateParams(Params):
    given_name: Text
    surname: Text
    login: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    display_name: Text | None = None
    mail: str | None = Field(None, max_length=254, pattern=MAIL)
    ou: Text | None = None
    groups: list[Text] | None = None  # None: the template's groups
    expires: date | None = None  # last working day
    password: Secret | None = None
    must_change: bool | None = None  # None: the template's setting
    enabled: bool = True
    update_password: Literal["on_create", "always"] = "on_create"  # noqa: S105


class CreateAccount(Action[CreateParams]):
    name = "account.create"
    params_model: ClassVar[type[Params]] = CreateParams

    def __init__(self, params: CreateParams, deliver: passwords.Deliver | None = None) -> None:
        super().__init__(params)
        self.deliver = deliver
        self.login: str | None = params.login
        self.existing: UserEntry | None = None

    def target(self) -> str:
        p = self.params
        return self.login or f"{p.given_name} {p.surname}"

    def _same_person(self, entry: UserEntry) -> bool:
        p = self.params
        return ((entry.given_name or "").casefold() == p.given_name.casefold()
                and (entry.surname or "").casefold() == p.surname.casefold())

    def plan(self, ctx: Context) -> Plan:
        p = self.params
        profile = ctx.require_profile()
        template, rules = profile.accounts.template, profile.accounts.naming
        directory = directory_of(ctx)
        try:
            wanted = p.login or naming.login_for(p.given_name, p.surname, style=rules.login,
                                                 german=rules.german_umlauts,
                                                 limit=rules.max_length)
        except ValueError as exc:
            raise ValidationError(f"{exc}; give a login") from None
        group_names = template.groups if p.groups is None else p.groups
        existing = directory.find_user(wanted)
        if existing is not None and self._same_person(existing):
            return self._plan_update(ctx, existing, group_names)
        if existing is not None and p.login:
            raise ValidationError(f"login {p.login} is taken by {existing.dn}",
                                  hint="choose another login, or leave it out to get a free one")
        if p.password is not None:
            check_given(directory, p.password)
        if p.password is None and self.deliver is None:
            raise ValidationError("a generated password needs a delivery (--deliver)")
        self.groups = resolve_groups(directory, group_names, group_cache(ctx))
        login = naming.unique(wanted, directory.login_taken, limit=rules.max_length)
        self.login = login
        values = {"login": login, "given_name": p.given_name, "surname": p.surname,
                  "display_name": p.display_name or f"{p.given_name} {p.surname}",
                  "mail": p.mail or ""}
        attrs = {k: fill(v, values) for k, v in template.attributes.items()}
        if template.home_directory:
            attrs["homeDirectory"] = fill(template.home_directory, values)
        if template.home_drive:
            attrs["homeDrive"] = template.home_drive
        last_day = p.expires or (date.today() + timedelta(days=template.expires_after_days)
                                 if template.expires_after_days else None)
        cfg = profile.directory
        assert cfg is not None
        self.new = NewUser(
            login=login, given_name=p.given_name, surname=p.surname,
            display_name=values["display_name"], password=Secret(""), mail=p.mail,
            ou=p.ou or template.ou or cfg.users_ou or cfg.base_dn, enabled=p.enabled,
            must_change=template.must_change if p.must_change is None else p.must_change,
            expires=expiry_instant(last_day), attributes=attrs)
        changes = [Change(op="create", field="account", after=login),
                   Change(op="set", field="displayName", after=self.new.display_name),
                   Change(op="set", field="ou", after=self.new.ou),
                   Change(op="set", field="enabled", after=p.enabled),
                   Change(op="set", field="password",
                          after="(given)" if p.password else "(generated)"),
                   Change(op="set", field="must_change_password", after=self.new.must_change)]
        if p.mail:
            changes.append(Change(op="set", field="mail", after=p.mail))
        if last_day:
            changes.append(Change(op="set", field="expires", after=f"after {last_day}"))
        changes += [Change(op="set", field=k, after=v) for k, v in attrs.items()]
        changes += [Change(op="add", field="group", after=g.name) for g in self.groups]
        return Plan(changes, summary=f"create account {login} ({self.new.display_name})",
                    data={"login": login, "ou": self.new.ou})

    def _plan_update(self, ctx: Context, entry: UserEntry, group_names: list[str]) -> Plan:
        self.existing, self.login = entry, entry.login
        directory = directory_of(ctx)
        self.groups, _ = membership_changes(directory, directory.user_groups(entry),
                                            add=group_names, remove=[], exact=None,
                                            cache=group_cache(ctx))
        changes = [Change(op="add", field="group", after=g.name) for g in self.groups]
        if self.params.update_password == "always":  # noqa: S105
            changes.append(Change(op="set", field="password",
                                  after="(given)" if self.params.password else "(generated)"))
        data = {"login": entry.login, "dn": entry.dn}
        if not changes:
            return Plan(summary=f"account {entry.login} already exists ({entry.dn})", data=data)
        return Plan(changes, summary=f"update existing account {entry.login}", data=data)

    def guard(self, ctx: Context, plan: Plan) -> None:
        refuse_protected(ctx, self.existing)
        refuse_protected_groups(ctx, self.groups)

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        directory = directory_of(ctx)
        p = self.params
        how: str | None = None
        if self.existing is not None:
            entry = self.existing
        else:
            password = p.password or new_password(ctx, directory)
            new = NewUser(**{**self.new.__dict__, "password": password})
            dn = directory.create_user(new)  # what we just wrote; no need to read it back
            entry = UserEntry(dn=dn, login=new.login, given_name=p.given_name,
                              surname=p.surname, display_name=new.display_name, mail=p.mail,
                              enabled=p.enabled)
            how = self._deliver(new.login, password, given=p.password is not None)
        for group in self.groups:
            directory.add_member(group, entry)
        if self.existing is not None and p.update_password == "always":  # noqa: S105
            password = p.password or new_password(ctx, directory)
            must = ctx.require_profile().accounts.template.must_change \
                if p.must_change is None else p.must_change
            directory.set_password(entry, password, must_change=must)
            how = self._deliver(entry.login, password, given=p.password is not None)
        data = {"dn": entry.dn, **({"password_delivery": how} if how else {})}
        verb = "created account" if self.existing is None else "updated account"
        tail = f"; password {how}" if how else ""
        return Applied(summary=f"{verb} {entry.login} ({entry.dn}){tail}", data=data)

    def undo(self) -> Action[Any] | None:
        from adminkit.accounts.actions.delete import DeleteAccount, DeleteParams
        from adminkit.accounts.actions.groups import AccountGroups, GroupsParams

        if self.existing is None and self.login:
            return DeleteAccount(DeleteParams(login=self.login, hard=True))
        if self.existing is not None and self.groups:
            return AccountGroups(GroupsParams(login=self.existing.login,
                                              remove=[g.dn for g in self.groups]))
        return None

    def _deliver(self, login: str, password: Secret, *, given: bool) -> str:
        if given:
            return "set as given"
        assert self.deliver is not None
        return self.deliver(login, password)


