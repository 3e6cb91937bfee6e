"""Hostile review of `--reboot-if-needed` on app writes (the WinRM fake's Windows host).

`app install X --reboot-if-needed --hosts all` on hosts where X already is, but which
want a reboot for another reason (last night's updates): mergework planned a restart on
every one of them, a fleet-wide restart from a command that installs nothing. An app
write restarts a host only for its own change (or, resuming its own attempt killed
before its restart, for that); host.patch still restarts a host a patch left pending.
"""

from __future__ import annotations

from pathlib import Path

from adminkit.core.context import Context
from adminkit.core.result import Status
from adminkit.core.run import Run
from adminkit.core.runner import Runner
from adminkit.deploy.actions.packages import RemoveApp, RemoveParams
from tests.fakes import winrmrig
from tests.fakes.winrmrig import FakeWindows
from tests.unit.conftest import Env
from tests.unit.test_deploy_reboot import install_agent, model
from tests.unit.test_deploy_windows import _profile

winrm_certs, win = winrmrig.winrm_certs, winrmrig.win  # the rig's fixtures
PENDING = "a reboot is pending from another change, left to `host reboot --if-needed`"


def pending_from_before(env: Env, win: FakeWindows, tmp_path: Path) -> str:
    """The agent installed without the option (a 3010): a reboot pending. Its boot id."""
    before = model(win).boot_id()
    assert install_agent(env, win, tmp_path, reboot=False).status is Status.CHANGED
    assert model(win).reboot_pending and model(win).reboots == 0
    return before


def test_install_of_what_is_there_does_not_restart_for_another_changes_reboot(
        env: Env, win: FakeWindows, tmp_path: Path) -> None:
    pending_from_before(env, win, tmp_path)
    result = install_agent(env, win, tmp_path)  # --reboot-if-needed, a fresh run
    assert result.status is Status.OK, result.summary
    assert PENDING in result.summary
    assert model(win).reboots == 0 and model(win).reboot_pending


def test_remove_of_what_is_not_there_does_not_restart(env: Env, win: FakeWindows,
                                                      tmp_path: Path) -> None:
    pending_from_before(env, win, tmp_path)
    ctx = Context(run=Run(command="app remove"), profile=_profile(env, win, tmp_path))
    try:
        report = Runner(ctx).execute([RemoveApp(RemoveParams(
            host="win1", packages=["not-installed-app"], reboot_if_needed=True))])
    finally:
        ctx.close()
    assert report.results[0].status is Status.OK, report.results[0].summary
    assert PENDING in report.results[0].summary
    assert model(win).reboots == 0


def test_a_resume_of_its_own_attempt_still_restarts(env: Env, win: FakeWindows,
                                                    tmp_path: Path) -> None:
    before = pending_from_before(env, win, tmp_path)  # as the killed attempt left it
    result = install_agent(env, win, tmp_path, unsettled={0: {"boot_id": before}})
    assert result.status is Status.CHANGED, result.error
    assert model(win).reboots == 1 and not model(win).reboot_pending
