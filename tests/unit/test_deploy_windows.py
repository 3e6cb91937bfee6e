"""The Windows host backend (deploy/windows.py) against the WinRM fake's Windows host.

The real pywinrm talks over HTTPS to adminkit.lab.winrm_fake in this process, whose
model (lab/winmodels/windows_host.py) answers the deploy scripts with winget's HRESULTs
and msiexec's exit codes; what the host then has installed is read back from the model.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from adminkit.core.config import load_profile
from adminkit.core.context import Context
from adminkit.core.errors import ActionFailed, ExitCode, Interrupted, ValidationError
from adminkit.core.result import Status
from adminkit.core.run import Run
from adminkit.core.runner import Runner
from adminkit.core.winrm import DeadlineExceeded, ScriptFailed
from adminkit.core.winrm.scripts import find_result
from adminkit.deploy.actions.base import PackagesParams
from adminkit.deploy.actions.packages import InstallApp, RemoveApp, RemoveParams, UpgradeApp
from adminkit.deploy.backend import PackageSpec
from adminkit.deploy.settings import HostConfig, MsiPackage, WindowsSettings
from adminkit.deploy.windows import WindowsBackend, hresult
from adminkit.lab.winmodels.windows_host import SHARE, WEB, WindowsHost
from tests.fakes import winrmrig
from tests.fakes.winrmrig import PASSWORD, USER, FakeWindows
from tests.unit.conftest import Env

MSI = {"contoso-agent": MsiPackage(display_name="Contoso Agent", versions={
           "1.2.0": SHARE + "agent-1.2.0.msi", "1.3.0": SHARE + "agent-1.3.0.msi"}),
       "contoso-reporter": MsiPackage(display_name="Contoso Reporter", versions={
           "5.0": WEB + "reporter-5.0.msi"})}

winrm_certs, win = winrmrig.winrm_certs, winrmrig.win  # the rig's fixtures


@pytest.fixture
def backend(win: FakeWindows) -> Iterator[WindowsBackend]:
    settings = WindowsSettings(user=USER, password="env:UNUSED", msi=MSI)
    host = HostConfig(name="win1", address="127.0.0.1", transport="winrm")
    backend = WindowsBackend(host, win.target(), settings, deadline=20)
    yield backend
    backend.close()
    assert win.host.open_shells() == []


def model(win: FakeWindows) -> WindowsHost:
    found: WindowsHost = win.host.model("windows")
    return found


def test_facts(backend: WindowsBackend) -> None:
    facts = backend.facts()
    assert (facts.os, facts.os_version) == ("Microsoft Windows Server 2022 Standard",
                                            "10.0.20348")
    assert facts.package_manager == "winget,choco,msiexec" and facts.reboot_pending is False
    assert facts.uptime_seconds and facts.uptime_seconds > 86400
    assert facts.free_disk_bytes == 48 << 30


def test_states_of_winget_ids_and_msi_products(backend: WindowsBackend) -> None:
    states = backend.package_states(["7zip.7zip", "Mozilla.Firefox", "contoso-agent"])
    assert (states["7zip.7zip"].installed, states["7zip.7zip"].candidate) == ("23.01", "24.08")
    assert states["Mozilla.Firefox"].installed is None
    assert states["Mozilla.Firefox"].available == ("129.0.1", "128.0.3")
    assert states["contoso-agent"].installed is None
    assert states["contoso-agent"].available == ("1.3.0", "1.2.0")


def test_winget_install_upgrade_remove_read_back(win: FakeWindows,
                                                 backend: WindowsBackend) -> None:
    assert not backend.install([PackageSpec("Mozilla.Firefox", "128.0.3")]).reboot_required
    assert model(win).installed["Mozilla.Firefox"] == "128.0.3"
    backend.upgrade([PackageSpec("Mozilla.Firefox", "129.0.1")])
    assert backend.package_states(["Mozilla.Firefox"])["Mozilla.Firefox"].installed == "129.0.1"
    assert {k: (u.installed, u.newest, u.origin) for k, u in backend.outdated().items()} == {
        "7zip.7zip": ("23.01", "24.08", "winget"), "git": ("2.45.2", "2.46.0", "choco")}
    backend.remove(["Mozilla.Firefox"])
    assert "Mozilla.Firefox" not in model(win).installed
    assert model(win).history == ["winget install Mozilla.Firefox 128.0.3",
                                  "winget upgrade Mozilla.Firefox 129.0.1",
                                  "winget uninstall Mozilla.Firefox"]
    assert win.host.requests.count("create") == 1  # one shell for all of it


@pytest.mark.parametrize("unsigned", [False, True])
def test_winget_reboot_required_is_success_signed_or_unsigned(
        win: FakeWindows, backend: WindowsBackend, unsigned: bool) -> None:
    model(win).control({"unsigned": unsigned})
    outcome = backend.install([PackageSpec("Contoso.Driver", "2.0")])
    assert outcome.reboot_required and "reboot is required" in outcome.detail
    assert model(win).installed["Contoso.Driver"] == "2.0"
    assert backend.facts().reboot_pending is True
    said = find_result(win.host.calls[0].stdout)  # as the host said it: 0x8A150109
    assert said is not None
    assert said["result"]["exit_code"] == (2316632329 if unsigned else -1978334967)
    assert hresult(-1978334967) == hresult(2316632329) == 0x8A150109


def test_chocolatey_where_the_host_says_so(win: FakeWindows) -> None:
    settings = WindowsSettings(user=USER, password="env:UNUSED", msi=MSI)
    host = HostConfig(name="win1", address="127.0.0.1", transport="winrm",
                      vars={"package_manager": "choco"})
    backend = WindowsBackend(host, win.target(), settings, deadline=20)
    try:
        states = backend.package_states(["git", "vcredist140", "contoso-agent"])
        assert (states["git"].installed, states["git"].candidate) == ("2.45.2", "2.46.0")
        assert states["vcredist140"].available == ("14.40.33810", "14.38.33135")
        outcome = backend.install([PackageSpec("vcredist140", "14.40.33810")])
        assert outcome.reboot_required and "choco: done, a reboot is required (3010)" \
            in outcome.detail
        assert outcome.states["vcredist140"].installed == "14.40.33810"
        assert backend.upgrade([PackageSpec("git")]).states["git"].installed == "2.46.0"
        backend.remove(["git"])
        assert model(win).choco == {"vcredist140": "14.40.33810"}
        assert backend.installed() == {"7zip.7zip": "23.01", "vcredist140": "14.40.33810"}
        model(win).control({"exit": {"choco install notepadplusplus": 350}})
        with pytest.raises(ActionFailed) as failed:
            backend.install([PackageSpec("notepadplusplus")])
        assert "exited 350" in failed.value.message and "reboot" in str(failed.value.hint)
        assert [h for h in model(win).history if h.startswith("choco")] == [
            "choco install vcredist140 14.40.33810", "choco upgrade git",
            "choco uninstall git", "choco install notepadplusplus"]
    finally:
        backend.close()


@pytest.mark.parametrize(("code", "detail"), [(0x8A150061, "already installed"),
                                              (0x8A15002B, "no applicable update")])
def test_winget_codes_that_mean_nothing_to_do(win: FakeWindows, backend: WindowsBackend,
                                              code: int, detail: str) -> None:
    model(win).control({"exit": {"winget install Mozilla.Firefox": code}})
    outcome = backend.install([PackageSpec("Mozilla.Firefox")])
    assert not outcome.reboot_required and detail in outcome.detail


def test_a_winget_failure_is_exit_1_with_its_hresult(win: FakeWindows,
                                                     backend: WindowsBackend) -> None:
    with pytest.raises(ActionFailed) as failed:
        backend.install([PackageSpec("Contoso.Missing")])
    assert failed.value.exit_code == ExitCode.FAILED
    assert "winget install Contoso.Missing failed with 0x8A150014: No package found" \
        in str(failed.value)


def test_msi_install_3010_is_done_with_a_reboot_required(win: FakeWindows,
                                                        backend: WindowsBackend) -> None:
    assert not backend.install([PackageSpec("contoso-agent", "1.2.0")]).reboot_required
    outcome = backend.upgrade([PackageSpec("contoso-agent", "1.3.0")])
    assert outcome.reboot_required and "(3010)" in outcome.detail
    assert model(win).products["Contoso Agent"][0] == "1.3.0"
    assert backend.installed()["contoso-agent"] == "1.3.0"
    assert model(win).reboots == 0  # reported, never done


def test_msi_1641_the_installer_rebooted_and_the_next_script_gets_a_new_shell(
        win: FakeWindows, backend: WindowsBackend) -> None:
    outcome = backend.install([PackageSpec("contoso-reporter")])
    assert outcome.reboot_required and "(1641)" in outcome.detail
    assert model(win).reboots == 1
    assert backend.package_states(["contoso-reporter"])["contoso-reporter"].installed == "5.0"
    assert backend.session.shells_opened == 2


def test_msi_remove_by_its_product_code(win: FakeWindows, backend: WindowsBackend) -> None:
    backend.install([PackageSpec("contoso-agent", "1.2.0")])
    backend.remove(["contoso-agent"])
    assert model(win).products == {}
    assert model(win).history[-1] == \
        "msiexec uninstall {6F1C2B8E-2A51-4B3C-9C1D-0A1B2C3D4E01}"
    assert backend.remove(["contoso-agent"]).detail == "contoso-agent: not installed"


@pytest.mark.parametrize(("code", "words"), [
    (1618, "exited 1618 (another installation is in progress)"),
    (1603, "exited 1603 (fatal error during installation): MSI (s)")])
def test_msi_failures_are_exit_1_with_the_log(win: FakeWindows, backend: WindowsBackend,
                                              code: int, words: str) -> None:
    model(win).control({"exit": {f"msiexec install {SHARE}agent-1.2.0.msi": code}})
    with pytest.raises(ActionFailed, match=words.replace("(", r"\(").replace(")", r"\)")):
        backend.install([PackageSpec("contoso-agent", "1.2.0")])


def test_a_hanging_installer_ends_at_the_deadline(win: FakeWindows) -> None:
    settings = WindowsSettings(user=USER, password="env:UNUSED")
    host = HostConfig(name="win1", address="127.0.0.1", transport="winrm")
    backend = WindowsBackend(host, win.target(), settings, deadline=0.5)
    model(win).control({"hang": "winget install Mozilla.Firefox"})
    try:
        with pytest.raises(DeadlineExceeded):
            backend.install([PackageSpec("Mozilla.Firefox")])
        assert win.host.calls[-1].signalled  # told to stop: nothing left running
    finally:
        backend.close()


def test_ctrl_c_stops_reads_and_commands_but_lets_a_package_write_finish(
        win: FakeWindows) -> None:
    settings = WindowsSettings(user=USER, password="env:UNUSED")
    host = HostConfig(name="win1", address="127.0.0.1", transport="winrm")
    backend = WindowsBackend(host, win.target(), settings, deadline=0.5)
    backend.cancelled = lambda: True  # what the run sets; Ctrl-C came
    model(win).control({"hang": "winget install Mozilla.Firefox"})
    try:
        with pytest.raises(Interrupted):
            backend.run(["hang"])
        with pytest.raises(DeadlineExceeded):  # not Interrupted: it ran to its deadline
            backend.install([PackageSpec("Mozilla.Firefox")])
        assert all(c.signalled for c in win.host.calls)
    finally:
        backend.close()


def test_names_are_checked_before_any_host_is_contacted(win: FakeWindows,
                                                        backend: WindowsBackend) -> None:
    for bad in ["foo; reboot", "$(id)", "a b", "x`y", "Mozilla.Firefox\"", "../x"]:
        with pytest.raises(ValidationError):
            backend.install([PackageSpec(bad)])
    with pytest.raises(ValidationError, match="no MSI for that version"):
        backend.install([PackageSpec("contoso-agent", "9.9")])
    assert win.host.calls == []


HOSTILE_ARGS = ["o'brien; Remove-Item C:\\ -Recurse #", "$(Stop-Computer)", "`whoami`",
                'say "hi"', "C:\\Program Files\\x\\", "", " ", "a\\\\\"b", "%PATH%", "^&|<>"]


def test_host_run_arguments_arrive_literally(backend: WindowsBackend) -> None:
    result = backend.run(["echoargs", *HOSTILE_ARGS])
    assert result.ok and result.stdout.split("\r\n")[:-1] == HOSTILE_ARGS
    assert backend.run(["hostname"]).stdout.strip() == "WIN1"


def test_host_run_ends_a_hanging_program_and_names_an_unknown_one(
        backend: WindowsBackend) -> None:
    with pytest.raises(ActionFailed, match="hang was ended at its deadline"):
        backend.run(["hang"], timeout=3)
    with pytest.raises(ScriptFailed, match="cannot find the file specified"):
        backend.run(["no-such-program"])


# -- through the actions, as the CLI runs them -------------------------------------------------
def _profile(env: Env, win: FakeWindows, tmp_path: Path) -> Any:
    secret = tmp_path / "winrm-password"
    secret.write_text(PASSWORD)
    secret.chmod(0o600)
    msi = {name: {"display_name": m.display_name, "versions": dict(m.versions)}
           for name, m in MSI.items()}
    (env.profiles / "win.yaml").write_text(yaml.safe_dump({"inventory": {
        "winrm": {"user": USER, "password": f"file:{secret}", "auth": "basic",
                  "port": win.server.port, "ca_file": str(win.tls.ca), "msi": msi,
                  "operation_timeout": 1, "read_timeout": 5},
        "hosts": [{"name": "win1", "address": "127.0.0.1", "transport": "winrm"}]}}))
    return load_profile("win")


def test_actions_install_upgrade_remove_report_the_reboot(env: Env, win: FakeWindows,
                                                          tmp_path: Path) -> None:
    ctx = Context(run=Run(command="app"), profile=_profile(env, win, tmp_path))
    try:
        report = Runner(ctx).execute([
            InstallApp(PackagesParams(host="win1", packages=["contoso-agent=1.2.0",
                                                             "Mozilla.Firefox"])),
            UpgradeApp(PackagesParams(host="win1", packages=["contoso-agent", "7zip.7zip"])),
            InstallApp(PackagesParams(host="win1", packages=["Mozilla.Firefox"])),
            RemoveApp(RemoveParams(host="win1", packages=["Mozilla.Firefox"]))])
    finally:
        ctx.close()
    install, upgrade, again, remove = report.results
    assert install.status is Status.CHANGED and "reboot" not in install.summary
    assert upgrade.status is Status.CHANGED, upgrade.error
    assert upgrade.summary == ("upgrade contoso-agent 1.3.0, 7zip.7zip 24.08 on win1 "
                               "(reboot required)")
    assert upgrade.data["reboot_required"] is True
    assert again.status is Status.OK  # already there: nothing to do
    assert remove.status is Status.CHANGED
    assert model(win).installed == {"7zip.7zip": "24.08"}
    assert model(win).products["Contoso Agent"][0] == "1.3.0"
    assert win.host.requests.count("create") == 1 and win.host.open_shells() == []


def test_the_readme_windows_inventory_is_valid() -> None:
    from adminkit.core.config import profile_model

    readme = Path(__file__).resolve().parents[2] / "README.md"
    blocks = [b.split("```", 1)[0] for b in readme.read_text().split("```yaml\n")[1:]]
    [block] = [b for b in blocks if b.startswith("# Windows hosts")]
    profile = profile_model().model_validate({"name": "acme", **yaml.safe_load(block)})
    inventory = profile.inventory
    assert inventory.winrm.msi["contoso-agent"].versions == {
        "1.3.0": "\\\\files\\msi\\agent-1.3.0.msi"}
    assert [(h.name, h.transport) for h in inventory.hosts] == [("ws042", "winrm")]
