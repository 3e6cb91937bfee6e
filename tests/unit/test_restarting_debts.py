"""`--reboot-if-needed` asks a host only whether it wants a restart (`reboot_pending()`),
not for every fact; and an app write learns it is resuming its own attempt from the
runner, not from `settle` having been called. The Windows backend against the WinRM
fake (real pywinrm); what was asked is read back from the fake's calls.
"""

from __future__ import annotations

from pathlib import Path

from adminkit.core.result import Status
from tests.fakes import winrmrig
from tests.fakes.winrmrig import FakeWindows
from tests.unit.conftest import Env
from tests.unit.test_deploy_reboot import install_agent, model
from tests.unit.test_revids_reboot import pending_from_before

winrm_certs, win = winrmrig.winrm_certs, winrmrig.win  # the rig's fixtures


def test_a_pending_reboot_is_asked_alone_not_with_every_fact(env: Env, win: FakeWindows,
                                                            tmp_path: Path) -> None:
    pending_from_before(env, win, tmp_path)
    win.host.calls.clear()
    result = install_agent(env, win, tmp_path)  # nothing to install, a reboot pending
    assert result.status is Status.OK, result.summary
    ops = [c.op for c in win.host.calls]
    assert "deploy.reboot_pending" in ops and "deploy.facts" not in ops, ops


def test_a_resume_without_an_intent_kept_still_restarts_for_its_own_write(
        env: Env, win: FakeWindows, tmp_path: Path) -> None:
    """The attempt announced its write, but no intent row survived (nothing to settle):
    the runner still says the row is resuming, so the restart it left is made."""
    pending_from_before(env, win, tmp_path)
    result = install_agent(env, win, tmp_path, unsettled={0: {}})
    assert result.status is Status.CHANGED, result.summary
    assert model(win).reboots == 1 and not model(win).reboot_pending
