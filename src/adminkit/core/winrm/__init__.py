"""WinRM: PowerShell scripts on Windows hosts, for every domain that needs them.

    from adminkit.core.winrm import WinRMTarget, load_script, run_script

    SCRIPT = load_script("adminkit.printing.scripts", "printer_list")  # printer_list.ps1
    target = WinRMTarget.from_settings(name, address, settings, profile)  # or WinRMTarget(…)
    result = run_script(ctx, target, SCRIPT, {"name": name})  # the script's JSON result

- A script is a packaged `.ps1` file, one per operation, starting with the line
  `# adminkit-op: <domain>.<op>` and `param($p)`; it returns one hashtable (see
  `scripts.py`). `$p` holds the parameters: they travel as base64 JSON on stdin, never
  in script text or on a command line; a `Secret` value is revealed only there.
- `run_script` uses the session the current unit of work holds to that host (the run's
  connection registry, `ctx.connection`): one shell per host, opened at the first
  script and reused by the run's scripts, deleted when the run ends (Ctrl-C too).
- Each script has a deadline (`target.deadline`, or `deadline=`): past it the command is
  told to terminate and `DeadlineExceeded` (exit 1) is raised.
- Errors: `ScriptFailed` (exit 1; the script's message, `error_id`, `category`),
  `AuthenticationFailed` (401/403/access denied, exit 3, says what to fix),
  `ConnectionFailed` (refused, timed out, TLS, service down: exit 3, names the host).
  Messages and results are scrubbed of every known secret.
- pywinrm is imported only when a session first talks to a host.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from adminkit.core.targets import Limits
from adminkit.core.winrm.scripts import Script, load_script
from adminkit.core.winrm.session import DeadlineExceeded, ScriptFailed, WinRMSession
from adminkit.core.winrm.target import WinRMSettings, WinRMTarget

if TYPE_CHECKING:  # not at run time: printing's and deploy's settings import this package
    from adminkit.core.context import Context

__all__ = ["BACKEND", "LIMITS", "DeadlineExceeded", "Script", "ScriptFailed",
           "WinRMSession", "WinRMSettings", "WinRMTarget", "check", "load_script",
           "run_script", "session"]

BACKEND = "winrm"
LIMITS = Limits(per_target=1)  # one shell per host: a host's scripts take turns


def session(ctx: Context, target: WinRMTarget, *, limits: Limits | None = None) -> WinRMSession:
    """The session to `target` that this unit of work holds (see core/targets.py)."""
    targets = ctx.targets  # the registry travels with the session on a handover

    def open_session() -> WinRMSession:
        return WinRMSession(target, cancelled=lambda: targets.cancelled)

    return ctx.connection(BACKEND, target.key, open_session, WinRMSession.close,
                          limits=limits or LIMITS)


def run_script(ctx: Context, target: WinRMTarget, script: Script,
               params: Mapping[str, Any], *, deadline: float | None = None) -> Any:
    """Run `script` on `target` with `params`; its JSON result (see the module doc)."""
    return session(ctx, target).run_script(script, params, deadline=deadline)


def check(target: WinRMTarget) -> str:
    """`profile check` of one host: log in, run the probe script, delete the shell."""
    live = WinRMSession(target)
    try:
        found = live.run_script(load_script("adminkit.core.winrm.ps", "probe"), {})
    finally:
        live.close()
    found = found if isinstance(found, dict) else {}
    return (f"WinRM as {found.get('user', '?')} on {found.get('os', '?')} "
            f"(PowerShell {found.get('powershell', '?')})")
