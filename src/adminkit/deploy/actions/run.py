"""host.run: an argument list on a host, where the profile's policy allows it.

Never a shell line: the arguments arrive on the host as they were given (the SSH
backend quotes each for the remote shell). Nothing can be planned from the host, so
every run is a change; `--check` says what would run.
"""

from __future__ import annotations

import shlex
from typing import Annotated, ClassVar

from pydantic import AfterValidator, Field

from adminkit.core.action import Applied, Params, Plan
from adminkit.core.context import Context
from adminkit.core.errors import ActionFailed, PolicyRefused
from adminkit.core.result import Change
from adminkit.deploy import hosts
from adminkit.deploy.actions.base import HostAction, HostParams

KEPT = 4000  # characters of stdout and stderr kept in the result (journal, note)
# The command as one quoted line, in bytes. Over SSH that line (and sudo's, timeout's
# words) is one argument of the login shell on the host, which Linux bounds at 128 KiB:
# a longer one failed on every host ("Argument list too long", or sshd reset the
# connection: exit 3, "unreachable"), after a journal row and a note carrying it whole.
MAX_LINE = 64 * 1024


def _argv(value: list[str]) -> list[str]:
    if any("\x00" in arg for arg in value):
        raise ValueError("an argument holds a NUL character, which no program can take")
    size = len(shlex.join(value).encode())
    if size > MAX_LINE:
        raise ValueError(f"the command is {size} bytes quoted, over {MAX_LINE}: pass large "
                         "data in a file on the host, not as arguments")
    return value


class RunParams(HostParams):
    argv: Annotated[list[str], AfterValidator(_argv)] = Field(min_length=1, max_length=1000)
    sudo: bool = False
    # bounded as a restart's wait: `inf` (click and pydantic take it) or 1e300 failed every
    # host only once connected (an OverflowError, exit 1), not as a usage error
    timeout: float | None = Field(None, gt=0, le=86400)


class RunCommand(HostAction[RunParams]):
    name = "host.run"
    params_model: ClassVar[type[Params]] = RunParams

    def plan(self, ctx: Context) -> Plan:
        line = shlex.join(self.params.argv)
        who = "as root " if self.params.sudo else ""
        return Plan([Change(op="run", field="command", after=line)],
                    summary=f"run {who}{line} on {self.params.host}")

    def guard(self, ctx: Context, plan: Plan) -> None:
        policy = hosts.inventory_of(ctx.require_profile()).run
        program = self.params.argv[0]
        if not policy.allow:
            raise PolicyRefused("host run is off in this profile",
                                hint="set inventory.run.allow and inventory.run.programs")
        if "*" not in policy.programs and program not in policy.programs:
            raise PolicyRefused(f"host run: {program!r} is not among the programs the "
                                "profile allows", hint="inventory.run.programs lists them")
        if self.params.sudo and not policy.sudo:
            raise PolicyRefused("host run --sudo is not allowed by this profile",
                                hint="inventory.run.sudo")

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        result = self.backend(ctx).run(self.params.argv, sudo=self.params.sudo,
                                       timeout=self.params.timeout)
        data = {"exit": result.exit, "stdout": result.stdout[:KEPT],
                "stderr": result.stderr[:KEPT], "seconds": round(result.seconds, 3)}
        if not result.ok:
            raise ActionFailed(f"host {self.params.host}: {self.params.argv[0]} exited "
                               f"{result.exit}: {result.tail(3)}")
        first = result.stdout.strip().splitlines()[:1]
        return Applied(summary=f"{plan.summary}: {first[0] if first else 'exit 0'}",
                       data=data)
