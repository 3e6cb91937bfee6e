"""Enable, disable, unlock and expiry: one attribute each, planned against what is there."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator

from adminkit.accounts.actions.base import LoginParams, UserAction
from adminkit.core.action import Action, Applied, Params, Plan, Skip
from adminkit.core.context import Context
from adminkit.core.result import Change


def not_applicable(directory: Any, notion: str) -> None:
    """A directory without this notion (Entra ID has no account expiry, and no lockout
    that Graph can clear) skips the step, saying why, instead of failing a playbook."""
    why = getattr(directory, "lacks", {}).get(notion)
    if why:
        raise Skip(f"does not apply: {why}")


class DisableAccount(UserAction[LoginParams]):
    """account.disable: the account can no longer log on; nothing else changes."""

    name = "account.disable"
    params_model: ClassVar[type[Params]] = LoginParams
    destructive = True
    enabled = False

    def plan(self, ctx: Context) -> Plan:
        entry = self.lookup(ctx)
        verb = "enable" if self.enabled else "disable"
        if entry.enabled == self.enabled:
            return Plan(summary=f"{entry.login} is already {verb}d")
        return Plan([Change(op="set", field="enabled", before=entry.enabled, after=self.enabled)],
                    summary=f"{verb} {entry.login}")

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        assert self.entry is not None
        self.directory(ctx).set_enabled(self.entry, self.enabled)
        return Applied()

    def undo(self) -> Action[Any] | None:
        back = DisableAccount if self.enabled else EnableAccount
        return back(LoginParams(login=self.params.login))


class EnableAccount(DisableAccount):
    """account.enable: allow logons again."""

    name = "account.enable"
    destructive = False
    enabled = True


class UnlockAccount(UserAction[LoginParams]):
    """account.unlock: clear a lockout after failed logons (the password stays)."""

    name = "account.unlock"
    params_model: ClassVar[type[Params]] = LoginParams

    def plan(self, ctx: Context) -> Plan:
        not_applicable(self.directory(ctx), "lockout")
        entry = self.lookup(ctx)
        if not entry.locked:
            return Plan(summary=f"{entry.login} is not locked out")
        return Plan([Change(op="set", field="locked", before=True, after=False)],
                    summary=f"unlock {entry.login}")

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        assert self.entry is not None
        self.directory(ctx).unlock(self.entry)
        return Applied()


# The last day an account works, as every directory can hold it: AD's accountExpires
# counts from 1601 and Samba reads a value before that as "never expires"; ppolicy's
# pwdEndTime has four-digit years; shadowExpire counts days from 1970. The day after
# the last (when it stops) must be a date too: 9999-12-31 has none.
FIRST_LAST_DAY, FINAL_LAST_DAY = date(1970, 1, 1), date(9999, 12, 30)


def last_day_in_range(day: date) -> date:
    if not FIRST_LAST_DAY <= day <= FINAL_LAST_DAY:
        raise ValueError(f"{day.isoformat()} is out of range: a last working day is from "
                         f"{FIRST_LAST_DAY.isoformat()} to {FINAL_LAST_DAY.isoformat()}")
    return day


LastDay = Annotated[date, AfterValidator(last_day_in_range)]


class ExpireParams(LoginParams):
    on: LastDay | None = None  # the last day the account works; None: never expires


def expiry_instant(last_day: date | None) -> datetime | None:
    """The account works through `last_day` (as AD Users and Computers means "end of")."""
    if last_day is None:
        return None
    return datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=UTC)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


class ExpireAccount(UserAction[ExpireParams]):
    """account.expire: set or clear the date after which the account stops working."""

    name = "account.expire"
    params_model: ClassVar[type[Params]] = ExpireParams
    # a last day in the past cuts access as a disable does, and a near one soon will:
    # the blast-radius limit counts every expiry set (clearing one is counted too)
    destructive = True

    def plan(self, ctx: Context) -> Plan:
        not_applicable(self.directory(ctx), "expiry")
        entry = self.lookup(ctx)
        wanted = expiry_instant(self.params.on)
        current = entry.expires
        if current == wanted or (current and wanted and abs(current - wanted).total_seconds() < 1):
            return Plan(summary=f"{entry.login} already expires "
                                f"{'never' if wanted is None else f'after {self.params.on}'}")
        return Plan([Change(op="set", field="expires", before=_iso(current), after=_iso(wanted))],
                    summary=f"set {entry.login} to expire "
                            f"{'never' if wanted is None else f'after {self.params.on}'}")

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        assert self.entry is not None
        self.directory(ctx).set_expiry(self.entry, expiry_instant(self.params.on))
        return Applied()
