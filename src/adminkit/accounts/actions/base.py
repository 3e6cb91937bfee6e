"""What account actions share: parameters naming a login, the looked-up entry, policy."""

from __future__ import annotations

import string
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from adminkit.accounts.directory import Directory, UserEntry, directory_of
from adminkit.accounts.logins import Login, Text, login_length, printable
from adminkit.core.action import Action, Params, Plan
from adminkit.core.context import Context
from adminkit.core.errors import PolicyRefused, ValidationError

__all__ = ["Login", "Text", "login_length", "printable"]


class LoginParams(Params):
    login: Login


P = TypeVar("P", bound=LoginParams)


def same_twice(keys: Sequence[object], labels: Sequence[str],
               say: Callable[[str, str], str]) -> list[str]:
    """Rows whose key an earlier row had, each said with its label and the first's."""
    first: dict[object, str] = {}
    problems = []
    for key, label in zip(keys, labels, strict=True):
        if key in first:
            problems.append(say(label, first[key]))
        first.setdefault(key, label)
    return problems


class Prefetched:
    """Accounts a bulk run looked up for all its rows in a few searches.

    Each answer is handed out once: the row it was fetched for takes it, and any later
    lookup of that login (after a row may have changed it) asks the directory again.
    """

    def __init__(self) -> None:
        self._users: dict[str, UserEntry | None] = {}
        self._lock = threading.Lock()

    def put(self, users: Mapping[str, UserEntry | None]) -> None:
        with self._lock:
            self._users.update(users)

    def take(self, login: str) -> tuple[bool, UserEntry | None]:
        """(known, entry): known is False when the directory has to be asked."""
        with self._lock:
            key = login.casefold()
            if key not in self._users:
                return False, None
            return True, self._users.pop(key)


def prefetched(ctx: Context) -> Prefetched:
    return ctx.resource("accounts:prefetched", Prefetched)


def find_user(ctx: Context, login: str) -> UserEntry | None:
    known, entry = prefetched(ctx).take(login)
    return entry if known else directory_of(ctx).find_user(login)


class UserAction(Action[P]):
    """An action on one existing account, found by login; protected accounts are refused."""

    entry: UserEntry | None = None
    target_param = "login"

    @classmethod
    def batch_problems(cls, actions: Sequence[Action[Any]], labels: Sequence[str]) -> list[str]:
        """The same login twice in one file is a mistake, whatever the operation."""
        return same_twice([a.target().casefold() for a in actions], labels,
                          lambda label, first: f"{label}: the same login again "
                                               f"(first at {first})")

    def target(self) -> str:
        return self.params.login

    def directory(self, ctx: Context) -> Directory:
        return directory_of(ctx)

    @classmethod
    def prepare(cls, ctx: Context, actions: Sequence[Action[Any]]) -> None:
        logins = [a.params.login for a in actions if isinstance(a, UserAction)]
        prefetched(ctx).put(directory_of(ctx).lookup_logins(logins).users)

    def lookup(self, ctx: Context) -> UserEntry:
        entry = find_user(ctx, self.params.login)
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
