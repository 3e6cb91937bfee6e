"""Restarting hosts: the wait for a new boot id (deploy/reboot.py), and the Windows
backend's Restart-Computer against the WinRM fake (real pywinrm), whose model goes down
(503, shells forgotten) and comes back with a new LastBootUpTime; the actions'
--reboot-if-needed after a 3010. The SSH side runs on lab hosts:
tests/integration/test_deploy_reboot.py."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adminkit.automation.service import _intents
from adminkit.core.context import Context
from adminkit.core.errors import ActionFailed, ConnectionFailed, Interrupted
from adminkit.core.result import Result, Status
from adminkit.core.run import Run
from adminkit.core.runner import Runner
from adminkit.deploy.actions.base import PackagesParams
from adminkit.deploy.actions.packages import InstallApp
from adminkit.deploy.actions.reboot import RebootHost, RebootParams
from adminkit.deploy.reboot import wait_for_new_boot
from adminkit.deploy.settings import HostConfig, WindowsSettings
from adminkit.deploy.windows import WindowsBackend
from adminkit.journal.hook import JournalHook
from adminkit.journal.store import Filters, Journal
from adminkit.lab.winmodels.windows_host import WindowsHost
from tests.fakes import winrmrig
from tests.fakes.winrmrig import USER, FakeWindows
from tests.unit.conftest import Env
from tests.unit.test_deploy_windows import _profile

winrm_certs, win = winrmrig.winrm_certs, winrmrig.win  # the rig's fixtures


def answers(*seq: str | None) -> Iterator[str | None]:
    """A host's answers to `read`, one per attempt: a boot id, or None (unreachable);
    the last repeats."""
    return itertools.chain(seq, itertools.repeat(seq[-1]))


def reader(seq: Iterator[str | None]) -> tuple[list[float], object]:
    asked: list[float] = []

    def read(left: float) -> str:
        asked.append(left)
        value = next(seq)
        if value is None:
            raise ConnectionFailed("host h1: connection refused")
        return value

    return asked, read


def wait(seq: Iterator[str | None], timeout: float = 5.0, cancelled: bool = False) -> object:
    _, read = reader(seq)
    return wait_for_new_boot("h1", "old", read, timeout=timeout,  # type: ignore[arg-type]
                             cancelled=lambda: cancelled, started=time.monotonic(), poll=0.01)


def test_back_with_a_new_boot_id_after_going_down() -> None:
    done = wait(answers("old", "old", None, None, "new"))
    assert (done.before, done.after, done.went_down) == ("old", "new", True)  # type: ignore[attr-defined]


def test_a_host_that_never_goes_down_fails() -> None:
    with pytest.raises(ActionFailed, match="did not restart: it still answers with the boot id"):
        wait(answers("old"), timeout=0.2)


def test_a_host_that_never_comes_back_fails_with_the_last_error() -> None:
    with pytest.raises(ActionFailed, match=r"did not come back within 0.2 s .*refused"):
        wait(answers("old", None), timeout=0.2)


def test_down_then_up_with_the_old_id_is_not_a_reboot() -> None:
    """A dropped connection alone proves nothing: the same boot id again is no restart."""
    with pytest.raises(ActionFailed, match="did not come back"):
        wait(answers(None, "old"), timeout=0.2)


def test_ctrl_c_ends_the_wait() -> None:
    with pytest.raises(Interrupted, match="restart requested"):
        wait(answers(None), cancelled=True)


# -- Windows, against the fake -----------------------------------------------------------
@pytest.fixture
def backend(win: FakeWindows) -> Iterator[WindowsBackend]:
    settings = WindowsSettings(user=USER, password="env:UNUSED")
    host = HostConfig(name="win1", address="127.0.0.1", transport="winrm")
    backend = WindowsBackend(host, win.target(), settings, deadline=20)
    yield backend
    backend.close()


def model(win: FakeWindows) -> WindowsHost:
    found: WindowsHost = win.host.model("windows")
    return found


def test_windows_restart_comes_back_with_a_new_boot_time(win: FakeWindows,
                                                         backend: WindowsBackend) -> None:
    before = backend.boot_id()
    done = backend.reboot(timeout=30)
    assert done.before == before and done.after == model(win).boot_id() != before
    assert done.went_down  # it answered 503 in between
    assert model(win).reboots == 1 and "Restart-Computer" in model(win).history
    assert backend.facts().uptime_seconds is not None
    assert backend.facts().uptime_seconds < 60  # type: ignore[operator]
    backend.close()
    assert win.host.open_shells() == []


def test_windows_host_not_back_fails_at_its_timeout(win: FakeWindows,
                                                   backend: WindowsBackend) -> None:
    model(win).control({"reboot_delay": None})
    with pytest.raises(ActionFailed, match="did not come back within 3 s"):
        backend.reboot(timeout=3)
    assert model(win).down and model(win).reboots == 0


def test_windows_restart_without_waiting(win: FakeWindows, backend: WindowsBackend) -> None:
    done = backend.reboot(timeout=None)
    assert done.after is None and "not waited for" in done.summary()


def test_install_reboot_if_needed_restarts_after_a_3010(env: Env, win: FakeWindows,
                                                       tmp_path: Path) -> None:
    ctx = Context(run=Run(command="app"), profile=_profile(env, win, tmp_path))
    try:
        report = Runner(ctx).execute([
            InstallApp(PackagesParams(host="win1", packages=["Mozilla.Firefox"],
                                      reboot_if_needed=True)),  # no reboot wanted
            InstallApp(PackagesParams(host="win1", packages=["contoso-agent=1.3.0"],
                                      reboot_if_needed=True)),  # 3010
            RebootHost(RebootParams(host="win1", if_needed=True))])  # none pending now
    finally:
        ctx.close()
    firefox, agent, again = report.results
    assert firefox.status is Status.CHANGED and "rebooted" not in firefox.data
    assert agent.status is Status.CHANGED, agent.error
    assert "(reboot required); restarted: back after" in agent.summary
    assert agent.data["rebooted"]["boot_id_after"] == model(win).boot_id()
    assert agent.data["reboot_required"] is False
    assert again.status is Status.OK and again.summary == "win1: no reboot pending"
    assert model(win).reboots == 1 and model(win).reboot_pending is False
    assert win.host.open_shells() == []


# -- resuming an interrupted restart (Action.settle, from the journal's intent row) ------
def resumed(env: Env, win: FakeWindows, tmp_path: Path, intent: dict[str, Any],
            journal: Journal | None = None) -> Result:
    """Row 0 of a resumed run: `host reboot win1`, announced by an earlier attempt with
    `intent` and never reported."""
    ctx = Context(run=Run(command="host reboot"), profile=_profile(env, win, tmp_path))
    hooks = [JournalHook(journal)] if journal else []
    try:
        report = Runner(ctx, hooks, unsettled=[0], intents={0: intent}).execute(
            [RebootHost(RebootParams(host="win1", timeout=30))])
    finally:
        ctx.close()
    return report.results[0]


def test_the_intent_row_keeps_the_boot_id_before_the_restart(env: Env, win: FakeWindows,
                                                             tmp_path: Path) -> None:
    journal = Journal(env.journal)
    try:
        before = model(win).boot_id()
        ctx = Context(run=Run(command="host reboot"), profile=_profile(env, win, tmp_path))
        try:
            Runner(ctx, [JournalHook(journal)]).execute(
                [RebootHost(RebootParams(host="win1", timeout=30))])
        finally:
            ctx.close()
        run_id = ctx.run.id
        rows = journal.entries(Filters(run_id=run_id, kinds=("action",),
                                       settled_intents=True))
        assert (rows[0]["status"], rows[0]["detail"]) == ("started", {"intent": {
            "boot_id": before}})
        assert _intents(journal, run_id, {0}) == {0: {"boot_id": before}}
        assert _intents(journal, run_id, set()) == {}  # only rows never settled
    finally:
        journal.close()


def test_resume_finds_the_interrupted_restart_done(env: Env, win: FakeWindows,
                                                   tmp_path: Path,
                                                   backend: WindowsBackend) -> None:
    before = backend.boot_id()
    backend.reboot(timeout=30)  # what the interrupted attempt did
    result = resumed(env, win, tmp_path, {"boot_id": before})
    assert result.status is Status.CHANGED, result.error
    assert "done by the interrupted attempt" in result.summary
    assert model(win).reboots == 1  # not restarted again
    assert (result.data["boot_id_before"], result.data["boot_id_after"]) == (
        before, model(win).boot_id())


def test_resume_waits_for_a_host_still_down(env: Env, win: FakeWindows, tmp_path: Path,
                                            backend: WindowsBackend) -> None:
    before = backend.boot_id()
    model(win).control({"reboot_delay": 2})
    backend.reboot(timeout=None)  # interrupted before the host came back
    deadline = time.monotonic() + 10
    while not model(win).down:  # it goes down a moment after answering
        assert time.monotonic() < deadline
        time.sleep(0.02)
    result = resumed(env, win, tmp_path, {"boot_id": before})
    assert result.status is Status.CHANGED, result.error
    assert model(win).reboots == 1 and not model(win).down
    assert result.data["boot_id_after"] == model(win).boot_id() != before


def test_resume_restarts_a_host_that_never_went_down(env: Env, win: FakeWindows,
                                                     tmp_path: Path) -> None:
    """Interrupted after the intent row, before the restart was asked for."""
    before = model(win).boot_id()
    result = resumed(env, win, tmp_path, {"boot_id": before})
    assert result.status is Status.CHANGED, result.error
    assert model(win).reboots == 1 and result.data["boot_id_after"] != before


# -- --reboot-if-needed across an interruption (the package writes' intent row) ---------
def install_agent(env: Env, win: FakeWindows, tmp_path: Path, *, reboot: bool = True,
                  unsettled: dict[int, dict[str, Any]] | None = None,
                  journal: Journal | None = None) -> Result:
    """`app install contoso-agent=1.3.0 --reboot-if-needed` on win1; with `unsettled`, as
    the resume of an attempt that announced row 0 with that intent and never reported."""
    ctx = Context(run=Run(command="app install"), profile=_profile(env, win, tmp_path))
    hooks = [JournalHook(journal)] if journal else []
    try:
        report = Runner(ctx, hooks, unsettled=list(unsettled or ()),
                        intents=unsettled or {}).execute([InstallApp(PackagesParams(
                            host="win1", packages=["contoso-agent=1.3.0"],
                            reboot_if_needed=reboot))])
    finally:
        ctx.close()
    return report.results[0]


def test_nothing_to_install_but_a_restart_pending_is_restarted(env: Env, win: FakeWindows,
                                                              tmp_path: Path) -> None:
    """What an attempt killed between its install and its restart leaves: the package in
    place and the host still wanting a restart. Its resume makes the restart (and only
    with the option); a fresh run, which changes nothing here, leaves it (and says so)."""
    before = model(win).boot_id()
    assert install_agent(env, win, tmp_path, reboot=False).status is Status.CHANGED
    assert model(win).reboot_pending and model(win).reboots == 0  # 3010, not restarted
    again = install_agent(env, win, tmp_path, reboot=False)
    assert again.status is Status.OK and model(win).reboots == 0
    fresh = install_agent(env, win, tmp_path)
    assert fresh.status is Status.OK and model(win).reboots == 0
    assert "a reboot is pending from another change" in fresh.summary
    result = install_agent(env, win, tmp_path, unsettled={0: {"boot_id": before}})
    assert result.status is Status.CHANGED, result.error
    assert result.summary.startswith("restart win1 (a reboot is pending): back after")
    assert model(win).reboots == 1 and model(win).reboot_pending is False
    assert result.data["rebooted"]["boot_id_after"] == model(win).boot_id()
    assert install_agent(env, win, tmp_path).status is Status.OK  # nothing left to want
    assert model(win).reboots == 1


def test_install_check_shows_the_pending_reboot_it_leaves(env: Env, win: FakeWindows,
                                                          tmp_path: Path) -> None:
    install_agent(env, win, tmp_path, reboot=False)
    ctx = Context(run=Run(command="app install", check=True),
                  profile=_profile(env, win, tmp_path))
    try:
        report = Runner(ctx).execute([InstallApp(PackagesParams(
            host="win1", packages=["contoso-agent=1.3.0"], reboot_if_needed=True))])
    finally:
        ctx.close()
    assert report.results[0].status is Status.OK  # nothing this run would change
    assert "a reboot is pending from another change, left to `host reboot --if-needed`" \
        in report.results[0].summary
    assert model(win).reboots == 0 and model(win).reboot_pending


def test_an_install_with_the_option_journals_the_boot_id_first(env: Env, win: FakeWindows,
                                                              tmp_path: Path) -> None:
    journal = Journal(env.journal)
    try:
        before = model(win).boot_id()
        result = install_agent(env, win, tmp_path, journal=journal)
        assert result.status is Status.CHANGED and model(win).reboots == 1, result.error
        rows = journal.entries(Filters(kinds=("action",), settled_intents=True))
        assert [r["detail"] for r in rows if r["status"] == "started"] == [
            {"intent": {"boot_id": before}}]
    finally:
        journal.close()


def test_resume_of_an_install_killed_during_its_restart_waits_for_the_host(
        env: Env, win: FakeWindows, tmp_path: Path, backend: WindowsBackend) -> None:
    """Killed while the host restarted: the resume does not fail on a host that is down,
    it waits for it, finds the package in place and nothing pending, and says the
    interrupted attempt did it; the host is not restarted a second time."""
    before = backend.boot_id()
    install_agent(env, win, tmp_path, reboot=False)  # the attempt's install (3010)
    model(win).control({"reboot_delay": 2})
    backend.reboot(timeout=None)  # its restart, interrupted before the host came back
    deadline = time.monotonic() + 10
    while not model(win).down:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    result = install_agent(env, win, tmp_path, unsettled={0: {"boot_id": before}})
    assert result.status is Status.CHANGED, result.error
    assert "done by the interrupted attempt" in result.summary
    assert model(win).reboots == 1 and not model(win).down and not model(win).reboot_pending


def test_resume_of_an_install_killed_before_its_restart_restarts(
        env: Env, win: FakeWindows, tmp_path: Path) -> None:
    before = model(win).boot_id()
    install_agent(env, win, tmp_path, reboot=False)  # the attempt's install, then killed
    result = install_agent(env, win, tmp_path, unsettled={0: {"boot_id": before}})
    assert result.status is Status.CHANGED, result.error
    assert "a reboot is pending" in result.summary
    assert model(win).reboots == 1 and model(win).reboot_pending is False
