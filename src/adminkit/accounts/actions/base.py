"""What account actions share: parameters naming a login, the looked-up entry, policy."""

from __future__ import annotations

import string
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, Field

from adminkit.accounts.directory import Directory, UserEntry, directory_of
from adminkit.core.action import Action, Params, Plan
from adminkit.core.context import Context
from adminkit.core.errors import PolicyRefused, ValidationError


def printable(value: str) -> str:
    """Values are data: refuse control characters and stray spaces instead of storing them."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("contains a control character (a line break?)")
    if value != value.strip():
        raise ValueError("has leading or trailing spaces")
    return value


Text = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(printable)]
Login = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(printable)]


class LoginParams(Params):
    login: Login


P = TypeVar("P", bound=LoginParams)


class UserAction(Action[P]):
    """An action on one existing account, found by login; protected accounts are refused."""

    entry: UserEntry | None = None

    def target(self) -> str:
        return self.params.login

    def directory(self, ctx: Context) -> Directory:
        return directory_of(ctx)

    def lookup(self, ctx: Context) -> UserEntry:
        entry = self.directory(ctx).find_user(self.params.login)
        if entry is None:
            raise ValidationError(f"no account with the login {self.params.login!r}",
                                  hint="`adminkit account find TEXT` searches by name and mail")
        self.entry = entry
        return entry

    def guard(self, ctx: Context, plan: Plan) -> None:
        refuse_protected(ctx, self.entry)


def refuse_protected(ctx: Context, entry: UserEntry | None) -> None:
    if entry is None:
        return
    policy = ctx.require_profile().policy
    reason = directory_of(ctx).protected_reason(entry, policy)
    if reason:
        raise PolicyRefused(f"{entry.login} is protected: {reason}",
                            hint="protected accounts are changed by a domain administrator, "
                                 "not through adminkit")


class _Fields(string.Formatter):
    """`{login}`-style placeholders only: no attribute access, no indexing, no conversion."""

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> Any:
        if not field_name.isidentifier():
            raise ValidationError(f"template placeholder {{{field_name}}} is not a plain name")
        return super().get_field(field_name, args, kwargs)


def fill(template: str, values: dict[str, Any]) -> str:
    """Fill a profile template such as `\\\\fs1\\home\\{login}`; unknown names are errors."""
    try:
        return _Fields().vformat(template, (), values)
    except KeyError as exc:
        raise ValidationError(f"template {template!r}: unknown placeholder {exc}") from None
    except (ValueError, IndexError) as exc:
        raise ValidationError(f"template {template!r}: {exc}") from None
