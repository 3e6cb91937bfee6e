"""Deploy on the lab's Windows hosts (the WinRM fake, `adminkit lab up winrm`) through
the CLI: every outcome read back from the fake's model of each host (what winget and
the Uninstall keys hold), faults injected over its control endpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from adminkit.journal.store import Filters, Journal
from adminkit.lab import base
from adminkit.lab.winrm import WinRMLab

pytestmark = pytest.mark.integration
Cli = Callable[..., subprocess.CompletedProcess[str]]
HOSTS = ("win1", "win2", "win3")
HOSTILE = ["o'brien; Remove-Item C:\\ -Recurse #", "$(Stop-Computer)", "`whoami`",
           'say "hi"', "C:\\Program Files\\x\\", "", "%PATH%", "^&|<>", "é ü"]


@pytest.fixture
def wlab(winrm_lab: base.LabServer) -> Iterator[WinRMLab]:
    assert isinstance(winrm_lab, WinRMLab)
    winrm_lab.reset()
    yield winrm_lab
    winrm_lab.reset()


def write_profile(config: Path, name: str, lab: WinRMLab, **inventory: Any) -> str:
    data = {"name": name, "inventory": {**lab.profile()["inventory"], **inventory}}
    data["inventory"]["run"] = {"allow": True, "programs": ["echoargs", "hostname", "hang"]}
    (config / "profiles" / f"{name}.yaml").write_text(yaml.safe_dump(data))
    return name


@pytest.fixture
def profile(wlab: WinRMLab, lab_config_dir: Path) -> str:
    return write_profile(lab_config_dir, "lab-windows", wlab)


def windows(lab: WinRMLab, host: str) -> dict[str, Any]:
    """The fake's model of `host`: installed (winget), products (MSI), reboot_pending."""
    found: dict[str, Any] = lab.control(host, {"model": "windows", "do": {}})["result"]
    return found


def statuses(r: subprocess.CompletedProcess[str]) -> dict[str, str]:
    assert r.stdout, r.stderr
    return {x["target"]: x["status"] for x in json.loads(r.stdout)["results"]}


def test_facts_and_check(wlab: WinRMLab, profile: str, cli: Cli) -> None:
    r = cli("-p", profile, "-o", "json", "host", "facts", "--hosts", "group:windows")
    assert r.returncode == 0, r.stdout + r.stderr
    rows = {x["host"]: x for x in json.loads(r.stdout)}
    assert set(rows) == set(HOSTS)
    assert rows["win1"]["os"] == "Microsoft Windows Server 2022 Standard"
    assert rows["win1"]["package_manager"] == "winget,choco,msiexec"
    r = cli("-p", profile, "-o", "json", "host", "check", "--hosts", "win*")
    assert r.returncode == 0, r.stdout + r.stderr
    assert all("logged in over WinRM as LAB\\lab-admin" in x["detail"]
               for x in json.loads(r.stdout))
    for host in HOSTS:  # every run's shells were deleted
        assert wlab.control(host)["shells"] == []


def test_install_check_apply_then_nothing_to_do(wlab: WinRMLab, profile: str, cli: Cli) -> None:
    r = cli("-p", profile, "--check", "-o", "json", "app", "install", "Mozilla.Firefox",
            "--hosts", "group:windows")
    assert r.returncode == 0, r.stderr
    assert statuses(r) == dict.fromkeys(HOSTS, "changed")
    assert all("Mozilla.Firefox" not in windows(wlab, h)["installed"] for h in HOSTS)

    r = cli("-p", profile, "-o", "json", "app", "install", "Mozilla.Firefox", "--hosts",
            "group:windows")
    assert r.returncode == 0, r.stderr
    assert statuses(r) == dict.fromkeys(HOSTS, "changed")
    assert all(windows(wlab, h)["installed"]["Mozilla.Firefox"] == "129.0.1" for h in HOSTS)

    r = cli("-p", profile, "-o", "json", "app", "install", "Mozilla.Firefox", "--hosts",
            "group:windows")
    assert statuses(r) == dict.fromkeys(HOSTS, "ok")


def test_msi_3010_is_done_with_a_reboot_required_and_no_reboot(wlab: WinRMLab, profile: str,
                                                             cli: Cli) -> None:
    r = cli("-p", profile, "-o", "json", "app", "install", "contoso-agent=1.3.0",
            "--hosts", "win1")
    assert r.returncode == 0, r.stdout + r.stderr
    result = json.loads(r.stdout)["results"][0]
    assert result["status"] == "changed"
    assert result["summary"] == "install contoso-agent 1.3.0 on win1 (reboot required)"
    state = windows(wlab, "win1")
    assert state["products"] == {"Contoso Agent": ["1.3.0",
                                                   "{6F1C2B8E-2A51-4B3C-9C1D-0A1B2C3D4E02}"]}
    assert state["reboot_pending"] is True and state["reboots"] == 0
    r = cli("-p", profile, "-o", "json", "host", "facts", "--hosts", "win1")
    assert json.loads(r.stdout)[0]["reboot_pending"] is True

    r = cli("-p", profile, "-o", "json", "app", "remove", "contoso-agent", "--hosts", "win1")
    assert statuses(r) == {"win1": "changed"} and windows(wlab, "win1")["products"] == {}


def test_winget_reboot_code_upgrade_list_and_outdated(wlab: WinRMLab, profile: str,
                                                      cli: Cli) -> None:
    r = cli("-p", profile, "-o", "json", "app", "outdated", "--hosts", "win2")
    assert r.returncode == 0, r.stderr
    assert {(x["package"], x["installed"], x["newest"]) for x in json.loads(r.stdout)} == {
        ("7zip.7zip", "23.01", "24.08"), ("git", "2.45.2", "2.46.0")}  # winget, Chocolatey
    r = cli("-p", profile, "-o", "json", "app", "upgrade", "7zip.7zip", "Contoso.Driver",
            "--hosts", "win2")
    assert statuses(r) == {"win2": "changed"}  # Contoso.Driver is not installed: left out
    r = cli("-p", profile, "-o", "json", "app", "install", "Contoso.Driver=2.0", "--hosts",
            "win2")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["results"][0]["summary"].endswith("(reboot required)")
    r = cli("-p", profile, "-o", "json", "app", "list", "--hosts", "win2")
    assert {(x["package"], x["version"]) for x in json.loads(r.stdout)} == {
        ("7zip.7zip", "24.08"), ("Contoso.Driver", "2.0"), ("git", "2.45.2")}


@pytest.mark.parametrize("name", ["foo; reboot", "$(id)", "`id`", "a'b"])
def test_hostile_names_stop_before_any_host(wlab: WinRMLab, profile: str, cli: Cli,
                                            name: str) -> None:
    r = cli("-p", profile, "app", "install", "--hosts", "win1", "--", name)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert wlab.control("win1")["calls"] == []


def test_host_run_arguments_arrive_as_literals(wlab: WinRMLab, profile: str, cli: Cli) -> None:
    r = cli("-p", profile, "-o", "json", "host", "run", "--hosts", "win1,win3", "--",
            "echoargs", *HOSTILE)
    assert r.returncode == 0, r.stdout + r.stderr
    for result in json.loads(r.stdout)["results"]:
        assert result["data"]["stdout"].split("\r\n")[:-1] == HOSTILE


def test_a_hung_installer_ends_at_its_deadline_and_the_host_fails_alone(
        wlab: WinRMLab, lab_config_dir: Path, cli: Cli) -> None:
    name = write_profile(lab_config_dir, "lab-windows-hang", wlab, deadline=2)
    wlab.control("win1", {"model": "windows", "do": {"hang": "winget install Notepad++.Notepad++"}})
    wlab.control("win3", {"inject": {"kind": "access_denied"}})
    r = cli("-p", name, "-o", "json", "app", "install", "Notepad++.Notepad++", "--hosts",
            "group:windows")
    assert r.returncode == 3, r.stdout + r.stderr  # win3 refused the login
    results = {x["target"]: x for x in json.loads(r.stdout)["results"]}
    assert {k: v["status"] for k, v in results.items()} == {
        "win1": "failed", "win2": "changed", "win3": "failed"}
    assert "gave no result within 2 s" in results["win1"]["error"]
    assert "access denied to LAB\\lab-admin" in results["win3"]["error"]
    win1 = wlab.control("win1")
    assert [c["signalled"] for c in win1["calls"] if c["op"] == "deploy.winget"] == [True]
    assert win1["shells"] == [] and windows(wlab, "win2")["installed"]["Notepad++.Notepad++"]


def test_host_patch_takes_every_pending_update_and_reports_the_reboot(
        wlab: WinRMLab, profile: str, cli: Cli) -> None:
    wlab.control("win2", {"model": "windows", "do": {"installed": {
        "7zip.7zip": "23.01", "Contoso.Driver": "1.0"}}})
    r = cli("-p", profile, "-o", "json", "host", "patch", "--hosts", "win2")
    assert r.returncode == 0, r.stdout + r.stderr
    result = json.loads(r.stdout)["results"][0]
    assert result["status"] == "changed" and result["summary"].endswith("(reboot required)")
    state = windows(wlab, "win2")
    assert state["installed"] == {"7zip.7zip": "24.08", "Contoso.Driver": "2.0"}
    assert state["choco"] == {"git": "2.46.0"}  # what Chocolatey had, patched too
    assert state["reboots"] == 0 and state["reboot_pending"] is True
    r = cli("-p", profile, "-o", "json", "host", "patch", "--hosts", "win2", "--security-only")
    assert r.returncode == 0 and json.loads(r.stdout)["results"][0]["status"] == "ok"


def test_chocolatey_host_through_the_cli(wlab: WinRMLab, lab_config_dir: Path,
                                         cli: Cli) -> None:
    hosts = [{**h, "vars": {"package_manager": "choco"}} if h["name"] == "win3" else h
             for h in wlab.profile()["inventory"]["hosts"]]
    name = write_profile(lab_config_dir, "lab-windows-choco", wlab, hosts=hosts)
    r = cli("-p", name, "-o", "json", "app", "install", "vcredist140", "--hosts", "win3")
    assert r.returncode == 0, r.stdout + r.stderr
    result = json.loads(r.stdout)["results"][0]
    assert result["summary"] == "install vcredist140 14.40.33810 on win3 (reboot required)"
    r = cli("-p", name, "-o", "json", "app", "upgrade", "git", "--hosts", "win3")
    assert statuses(r) == {"win3": "changed"}
    assert windows(wlab, "win3")["choco"] == {"git": "2.46.0", "vcredist140": "14.40.33810"}


def test_ctrl_c_terminates_the_scripts_and_deletes_the_shells(wlab: WinRMLab, profile: str,
                                                              cli: Cli) -> None:
    for host in ("win1", "win2"):
        wlab.control(host, {"inject": {"kind": "hang"}})  # every command runs forever
    argv = [*cli.argv, "-p", profile, "host", "run", "--hosts", "win1,win2", "--",  # type: ignore[attr-defined]
            "hostname"]
    proc = subprocess.Popen(argv, env={**os.environ, **cli.env},  # type: ignore[attr-defined]
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not all(any(c["receives"] for c in wlab.control(h)["calls"])
                      for h in ("win1", "win2")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the scripts never started on both hosts"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out + err
    for host in ("win1", "win2"):
        state = wlab.control(host)
        assert [c["signalled"] for c in state["calls"]] == [True]
        assert state["shells"] == [] and len(state["deleted"]) == 1
    journal = Journal(cli.journal)  # type: ignore[attr-defined]
    try:
        [end] = journal.entries(Filters(kinds=("end",)))
    finally:
        journal.close()
    assert end["status"] == "interrupted"
