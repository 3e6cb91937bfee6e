"""Account actions. Each reads the directory, plans, and applies only what differs."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator

from adminkit.accounts import naming, passwords
from adminkit.accounts.directory import NewUser, UserEntry, directory_of
from adminkit.core.action import Action, Applied, Params, Plan
from adminkit.core.context import Context
from adminkit.core.errors import ValidationError
from adminkit.core.result import Change
from adminkit.core.secrets import Secret

NAME_MAX = 64


class CreateParams(Params):
    given_name: str = Field(min_length=1, max_length=NAME_MAX)
    surname: str = Field(min_length=1, max_length=NAME_MAX)
    login: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9._-]{0,19}$")
    display_name: str | None = Field(None, max_length=NAME_MAX * 2 + 1)
    mail: str | None = Field(None, pattern=r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
    ou: str | None = None
    password: Secret | None = None
    must_change: bool = True
    enabled: bool = True

    @field_validator("given_name", "surname", "display_name")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        """Names are data: refuse control characters and stray spaces instead of storing them."""
        if value is None:
            return value
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            raise ValueError("contains a control character (a line break?)")
        if value != value.strip():
            raise ValueError("has leading or trailing spaces")
        return value


class CreateAccount(Action[CreateParams]):
    """account.create: a new, enabled user with a password it must change at first logon."""

    name = "account.create"
    params_model: ClassVar[type[Params]] = CreateParams

    def __init__(self, params: CreateParams, deliver: passwords.Deliver | None = None) -> None:
        super().__init__(params)
        self.deliver = deliver
        self.login: str | None = params.login

    def target(self) -> str:
        p = self.params
        return self.login or f"{p.given_name} {p.surname}"

    def _same_person(self, entry: UserEntry) -> bool:
        p = self.params
        return (entry.given_name or "").casefold() == p.given_name.casefold() and \
            (entry.surname or "").casefold() == p.surname.casefold()

    def plan(self, ctx: Context) -> Plan:
        p = self.params
        display = p.display_name or f"{p.given_name} {p.surname}"
        directory = directory_of(ctx)
        try:
            wanted = p.login or naming.login_for(p.given_name, p.surname)
        except ValueError as exc:
            raise ValidationError(f"{exc}; give --login") from None
        existing = directory.find_user(wanted)
        if existing is not None and self._same_person(existing):
            self.login = existing.login
            return Plan(summary=f"account {existing.login} already exists ({existing.dn})",
                        data={"login": existing.login, "dn": existing.dn})
        if existing is not None and p.login:
            raise ValidationError(f"login {p.login} is taken by {existing.dn}",
                                  hint="choose another --login, or leave it out to get a free one")
        login = naming.unique(wanted, directory.login_taken)
        self.login = login
        ou = p.ou or directory.config.users_ou or directory.config.base_dn
        changes = [
            Change(op="create", field="account", after=login),
            Change(op="set", field="displayName", after=display),
            Change(op="set", field="ou", after=ou),
            Change(op="set", field="enabled", after=p.enabled),
            Change(op="set", field="password",
                   after="(given)" if p.password else "(generated)"),
            Change(op="set", field="must_change_password", after=p.must_change),
        ]
        if p.mail:
            changes.append(Change(op="set", field="mail", after=p.mail))
        return Plan(changes=changes, summary=f"create account {login} ({display})",
                    data={"login": login, "ou": ou, "display_name": display})

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        p = self.params
        login = plan.data["login"]
        password = p.password or passwords.generate()
        directory = directory_of(ctx)
        dn = directory.create_user(NewUser(
            login=login, given_name=p.given_name, surname=p.surname,
            display_name=plan.data["display_name"], password=password, ou=plan.data["ou"],
            mail=p.mail, enabled=p.enabled, must_change=p.must_change))
        how = "set as given"
        if p.password is None:
            if self.deliver is None:
                raise ValidationError("no way to deliver the generated password")
            how = self.deliver(login, password)
        return Applied(summary=f"created account {login} ({dn}); password {how}",
                       data={"dn": dn, "password_delivery": how})
