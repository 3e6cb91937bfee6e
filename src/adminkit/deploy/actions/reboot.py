"""host.reboot: restart a host and wait until it answers with a new boot id.

Planned from the host: with `if_needed`, only a host whose facts say a reboot is
pending is restarted. The wait is the backend's (deploy/reboot.py): a host that never
went down, or does not come back by the timeout, fails alone. A resumed run plans
afresh: with `if_needed` a host already restarted is found done; without, it is
restarted again (nothing on the host tells that this run restarted it).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from adminkit.core.action import Applied, Params, Plan
from adminkit.core.context import Context
from adminkit.core.result import Change
from adminkit.deploy.actions.base import HostAction, HostParams
from adminkit.deploy.reboot import DEFAULT_TIMEOUT, Rebooted


class RebootParams(HostParams):
    if_needed: bool = False
    wait: bool = True
    timeout: float = Field(DEFAULT_TIMEOUT, ge=1, le=86400)  # as the CLI takes it


def rebooted_data(done: Rebooted) -> dict[str, object]:
    """The restart's record for the journal and the note."""
    return {"boot_id_before": done.before, "boot_id_after": done.after,
            "seconds": round(done.seconds, 1), "went_down": done.went_down}


class RebootHost(HostAction[RebootParams]):
    name = "host.reboot"
    params_model: ClassVar[type[Params]] = RebootParams
    destructive = True  # many hosts at once: the profile's blast-radius limit counts it

    def plan(self, ctx: Context) -> Plan:
        host = self.params.host
        if self.params.if_needed and not self.backend(ctx).facts().reboot_pending:
            return Plan(summary=f"{host}: no reboot pending")
        why = " (a reboot is pending)" if self.params.if_needed else ""
        return Plan([Change(op="run", field="reboot", after="restart")],
                    summary=f"restart {host}{why}")

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        done = self.backend(ctx).reboot(
            timeout=self.params.timeout if self.params.wait else None)
        return Applied(summary=f"{plan.summary}: {done.summary()}", data=rebooted_data(done))
