"""host.reboot: restart a host and wait until it answers with a new boot id.

Planned from the host: with `if_needed`, only a host whose facts say a reboot is
pending is restarted. The wait is the backend's (deploy/reboot.py): a host that never
went down, or does not come back by the timeout, fails alone.

The host's boot id is read while planning and kept in the journal's intent row, before
the restart is asked for. A resume of a run interrupted after that row (Ctrl-C or a kill
during the wait) reads the boot id again (`settle`): another one means the restart
happened, and the host is recorded as restarted, not restarted a second time; a host
still down is waited for; the same boot id means it never went down: it is restarted.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from pydantic import Field

from adminkit.core.action import Applied, Params, Plan
from adminkit.core.context import Context
from adminkit.core.errors import AdminkitError
from adminkit.core.result import Change
from adminkit.deploy.actions.base import HostAction, HostParams
from adminkit.deploy.reboot import DEFAULT_TIMEOUT, HostKeyRefused, Rebooted, wait_for_new_boot


class RebootParams(HostParams):
    if_needed: bool = False
    wait: bool = True
    timeout: float = Field(DEFAULT_TIMEOUT, ge=1, le=86400)  # as the CLI takes it


def restart() -> Change:
    """A plan's restart of its host (a new object each time: a plan's changes are its own)."""
    return Change(op="run", field="reboot", after="restart")


def rebooted_data(done: Rebooted) -> dict[str, object]:
    """The restart's record for the journal and the note."""
    return {"boot_id_before": done.before, "boot_id_after": done.after,
            "seconds": round(done.seconds, 1), "went_down": done.went_down}


def boot_id_now(action: HostAction[Any], ctx: Context, before: str, *, timeout: float) -> str:
    """The host's boot id as it answers now; while it is down (a restart under way), waited
    for until it answers with another one than `before`, or the timeout."""
    try:
        return action.backend(ctx).boot_id()
    except HostKeyRefused:
        raise
    except AdminkitError:  # down: the restart is under way
        targets = ctx.targets
        return wait_for_new_boot(action.params.host, before,
                                 lambda _left: action.backend(ctx).boot_id(),
                                 timeout=timeout, cancelled=lambda: targets.cancelled,
                                 started=time.monotonic()).after or ""


class RebootHost(HostAction[RebootParams]):
    name = "host.reboot"
    params_model: ClassVar[type[Params]] = RebootParams
    destructive = True  # many hosts at once: the profile's blast-radius limit counts it

    def plan(self, ctx: Context) -> Plan:
        host = self.params.host
        if self.params.if_needed and not self.backend(ctx).reboot_pending():
            return Plan(summary=f"{host}: no reboot pending")
        why = " (a reboot is pending)" if self.params.if_needed else ""
        # kept in the intent row: a resume tells by it whether the restart happened
        intent = {} if ctx.check else {"boot_id": self.backend(ctx).boot_id()}
        return Plan([restart()],
                    summary=f"restart {host}{why}", intent=intent)

    def settle(self, ctx: Context, intent: dict[str, Any]) -> Plan | None:
        """The interrupted attempt's restart happened if the host answers with a boot id
        other than the one journaled before it (waited for while the host is down)."""
        before = intent.get("boot_id")
        if not isinstance(before, str) or not before:
            return None
        started = time.monotonic()
        now = boot_id_now(self, ctx, before, timeout=self.params.timeout)
        if now == before:
            return None  # it never went down: restart it now
        done = Rebooted(before, now, time.monotonic() - started, True)
        return Plan(summary=f"{self.params.host}: restarted (it answers with a new boot id)",
                    data=rebooted_data(done))

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        done = self.backend(ctx).reboot(
            timeout=self.params.timeout if self.params.wait else None)
        return Applied(summary=f"{plan.summary}: {done.summary()}", data=rebooted_data(done))
