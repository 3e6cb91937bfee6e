"""account.password: an administrative reset, delivered once, never recorded."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import ClassVar, TypeVar

from adminkit.accounts import passwords
from adminkit.accounts.actions.base import LoginParams, UserAction
from adminkit.accounts.directory import Directory
from adminkit.accounts.settings import account_settings
from adminkit.core.action import Applied, Params, Plan
from adminkit.core.context import Context
from adminkit.core.delivery import Delivery
from adminkit.core.errors import AdminkitError, OutcomeUnknown, ValidationError
from adminkit.core.result import Change
from adminkit.core.secrets import Secret

T = TypeVar("T")


class PasswordParams(LoginParams):
    password: Secret | None = None  # None: generate one that satisfies the directory's policy
    must_change: bool = True


def new_password(ctx: Context, directory: Directory) -> Secret:
    length = max(account_settings(ctx.require_profile()).password_length,
                 directory.password_policy().min_length)
    return passwords.generate(length)


# AD holds at most 256 characters (unicodePwd), as Entra ID does; Samba spent so long
# hashing a password of 160,000 that the reset timed out as "may or may not be done".
MAX_GIVEN = 256


def check_given(directory: Directory, password: Secret) -> None:
    """Catch the obvious before the directory does, with a clearer message. A control
    character (a tab or a stray escape pasted in) is refused: no one types it at a logon,
    and ldap3's SASLprep refuses it in a bind, and on OpenLDAP in the reset itself."""
    if len(password) > MAX_GIVEN:
        raise ValidationError(f"the password is {len(password)} characters long: at most "
                              f"{MAX_GIVEN}")
    if any(unicodedata.category(ch) == "Cc" for ch in password.reveal()):
        raise ValidationError("the password contains a control character",
                              hint="give it as typed at a logon, on one line")
    policy = directory.password_policy()
    if len(password) < policy.min_length:
        raise ValidationError(f"the password is shorter than the directory's minimum "
                              f"of {policy.min_length} characters")


def deliver_then_set(deliver: Delivery | None, login: str, password: Secret, *, given: bool,
                     write: Callable[[], T], delivered: str | None = None) -> tuple[T, str]:
    """Hand a generated password over first, then set it: a crash in between leaves a
    delivered password that is not set yet (the resume sets it again), never a set
    password nobody has. If setting it fails, the delivery is taken back. `delivered`:
    how it was handed over already (with the other rows of a bulk unit)."""
    if given:
        return write(), "set as given"
    assert deliver is not None
    how = delivered if delivered is not None else deliver(login, password)
    try:
        return write(), how
    except Exception as exc:
        not_set(deliver, login, how, exc)
        raise


def not_set(deliver: Delivery, login: str, how: str, exc: Exception) -> None:
    """A delivered password whose write failed with `exc`: taken back, unless the write
    may have been done (then it stays delivered); `exc` says which."""
    if isinstance(exc, OutcomeUnknown):  # it may be set: the delivery stays
        exc.message = f"{exc.message} (the new password was delivered: {how})"
        return
    taken_back = deliver.withdraw(login)
    if isinstance(exc, AdminkitError):
        exc.message = f"{exc.message} (the new password was not set: {taken_back})"


class ResetPassword(UserAction[PasswordParams]):
    """A password cannot be read back, so a reset always reports `changed`, honestly."""

    name = "account.password"
    params_model: ClassVar[type[Params]] = PasswordParams

    delivers_secret = True

    def __init__(self, params: PasswordParams, deliver: Delivery | None = None) -> None:
        super().__init__(params, deliver)

    def plan(self, ctx: Context) -> Plan:
        entry = self.lookup(ctx)
        p = self.params
        if p.password is not None:
            check_given(self.directory(ctx), p.password)
        elif self.deliver is None:
            raise ValidationError("a generated password needs a delivery (--deliver)")
        else:
            self.deliver.check(entry.login)
        changes = [Change(op="set", field="password",
                          after="(given)" if p.password else "(generated)"),
                   Change(op="set", field="must_change_password", before=entry.must_change,
                          after=p.must_change)]
        return Plan(changes, summary=f"reset the password of {entry.login}")

    def still_to_do(self, plan: Plan) -> bool:
        """Never: every plan resets the password, done or not; a resume that reset it
        again would take back the password it delivered before."""
        return False

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        assert self.entry is not None
        directory = self.directory(ctx)
        password = self.params.password or new_password(ctx, directory)
        entry = self.entry
        _, how = deliver_then_set(
            self.deliver, entry.login, password, given=self.params.password is not None,
            write=lambda: directory.set_password(entry, password,
                                                 must_change=self.params.must_change))
        return Applied(summary=f"reset the password of {self.entry.login}; password {how}",
                       data={"password_delivery": how})
