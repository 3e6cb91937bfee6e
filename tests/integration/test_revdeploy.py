"""Hostile review of `host reboot` and zypper (issue 14) on a fleet of this module's own
(127.0.77.N, started and stopped here by PID): a host re-keyed by its restart, a zypper
lock held by another process, --check with --reboot-if-needed, hostile --timeout
values, and a run interrupted while it waits for the restart, then resumed."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from adminkit.lab.ssh import PACKAGE, SshFleet
from tests.integration import test_deploy_zypper
from tests.integration.ownfleet import fleet_fixture
from tests.integration.test_deploy_reboot import _down, boot_id, flag_reboot_required, results
from tests.integration.test_deploy_ssh import Cli, by_host, report, write_profile
from tests.integration.test_lab_ssh import installed, run

pytestmark = pytest.mark.integration
SUBNET = "127.0.77"  # no lab server, test or bench uses it


fleet = fleet_fixture("revdeploy-lab", hosts=2, subnet=SUBNET)


zypper_host = test_deploy_zypper.zypper_host  # h2 as a zypper host, on this module's fleet


@pytest.fixture(scope="module")
def profile(fleet: SshFleet, zypper_host: str, lab_config_dir: Path, rt: Any) -> str:
    hosts = [{**h, "vars": {"package_manager": "zypper"}} if h["name"] == zypper_host else h
             for h in fleet.profile()["inventory"]["hosts"]]
    return write_profile(lab_config_dir, "lab-revdeploy", fleet, hosts=hosts)


@pytest.fixture
def hosts(fleet: SshFleet) -> SshFleet:
    for host in fleet.fleet:
        fleet.reboot_delay(host, 1)
    fleet.wait_ready()
    return fleet


def test_a_host_rekeyed_by_its_restart_is_refused_with_exit_3(hosts: SshFleet, profile: str,
                                                             cli: Cli) -> None:
    """The key is replaced while the host is down: the login after the restart meets it."""
    h1 = hosts.fleet[0]
    hosts.reboot_delay(h1, 3)
    key = h1.dir / "ssh_host_ed25519_key"
    saved = key.read_bytes(), key.with_suffix(".pub").read_bytes()
    known = hosts.known_hosts.read_text()
    before = boot_id(hosts, 0)
    argv = [*cli.argv, "-p", profile, "-o", "json", "host", "reboot",  # type: ignore[attr-defined]
            "--hosts", "h1", "--timeout", "120"]
    proc = subprocess.Popen(argv, env={**os.environ, **cli.env},  # type: ignore[attr-defined]
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not _down(h1.address):
            assert time.monotonic() < deadline, "the host never went down"
            time.sleep(0.05)
        key.unlink()
        key.with_suffix(".pub").unlink()
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                       check=True)
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 3, out + err
        error = results(subprocess.CompletedProcess(argv, 3, out, err))["h1"]["error"]
        assert "CHANGED" in error and "did not come back" not in error, error
        assert hosts.known_hosts.read_text() == known  # nothing was learnt
        assert hosts.boot_id(h1) != before  # it did restart: only its new key is refused
    finally:
        proc.kill()
        proc.wait()
        key.write_bytes(saved[0])
        key.with_suffix(".pub").write_bytes(saved[1])
        hosts.stop()
        hosts.start()
        hosts.wait_ready()


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "-inf", "1e9", "0.0001", "x"])
def test_hostile_timeouts_restart_nothing(hosts: SshFleet, profile: str, cli: Cli,
                                          value: str) -> None:
    boots = [hosts.boots(h) for h in hosts.fleet]
    r = cli("-p", profile, "host", "reboot", "--hosts", "all", f"--timeout={value}")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert [hosts.boots(h) for h in hosts.fleet] == boots


def test_check_with_reboot_if_needed_restarts_and_installs_nothing(
        hosts: SshFleet, profile: str, cli: Cli) -> None:
    flag_reboot_required(hosts, 0)
    before = boot_id(hosts, 0)
    for argv in (["app", "install", f"{PACKAGE}=1.0", "--hosts", "h1", "--reboot-if-needed"],
                 ["host", "patch", "--hosts", "h1", "--reboot-if-needed"],
                 ["host", "reboot", "--hosts", "all"]):
        r = cli("-p", profile, "--check", "-o", "json", *argv)
        assert r.returncode == 0, r.stdout + r.stderr
    assert boot_id(hosts, 0) == before and hosts.boots(hosts.fleet[0]) == 0
    assert installed(hosts, hosts.fleet[0].address) is None


def _hold_zypp_lock(fleet: SshFleet) -> None:
    """Another zypper (a PID alive on the host) holds libzypp's lock, /run/zypp.pid."""
    with closing(fleet.connect(fleet.fleet[1].address)) as client:
        rc, out = run(client, ["sh", "-c", "sleep 300 >/dev/null 2>&1 </dev/null & "
                               "echo $! > /run/zypp.pid"], sudo=True)
        assert rc == 0, out


def _release_zypp_lock(fleet: SshFleet) -> None:
    with closing(fleet.connect(fleet.fleet[1].address)) as client:
        run(client, ["sh", "-c", 'kill "$(cat /run/zypp.pid)"; rm -f /run/zypp.pid'],
            sudo=True)


def test_a_zypper_lock_never_reads_as_nothing_installed(hosts: SshFleet, zypper_host: str,
                                                        profile: str, cli: Cli) -> None:
    r = cli("-p", profile, "-o", "json", "app", "list", "--hosts", zypper_host,
            "--name", "adminkit-lab-base")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "adminkit-lab-base" in r.stdout  # installed by the fixture
    _hold_zypp_lock(hosts)
    try:
        r = cli("-p", profile, "-o", "json", "--check", "app", "remove", "adminkit-lab-base",
                "--hosts", zypper_host)
        assert r.returncode == 1, r.stdout + r.stderr  # locked: failed, not "not installed"
        assert "lock" in r.stdout.lower(), r.stdout
        r = cli("-p", profile, "-o", "json", "app", "list", "--hosts", zypper_host,
                "--name", "adminkit-lab-base")
        assert r.returncode == 1, r.stdout + r.stderr
    finally:
        _release_zypp_lock(hosts)


def test_interrupted_wait_then_resume_restarts_once(hosts: SshFleet, profile: str,
                                                    cli: Cli) -> None:
    h1 = hosts.fleet[0]
    hosts.reboot_delay(h1, 3)
    before = boot_id(hosts, 0)
    argv = [*cli.argv, "-p", profile, "host", "reboot", "--hosts", "h1"]  # type: ignore[attr-defined]
    proc = subprocess.Popen(argv, env={**os.environ, **cli.env},  # type: ignore[attr-defined]
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while hosts.boot_id(h1) == before and hosts.boots(h1) == 0:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)  # Ctrl-C while it waits
        proc.wait(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    hosts.wait_ready()
    boots = hosts.boots(h1)
    assert boots == 1
    r = cli("-o", "json", "run", "--resume", "last")
    hosts.wait_ready()
    assert hosts.boots(h1) == boots, r.stdout  # the resume must not restart it again
    assert by_host(report(r)) == {"h1": "changed"}
    found = results(r)["h1"]  # told by the boot id journaled before the restart
    assert "new boot id" in found["summary"] and "interrupted attempt" in found["summary"]
    assert found["data"]["boot_id_before"] == before != found["data"]["boot_id_after"]


def test_every_power_command_of_a_lab_host_is_the_labs_own(hosts: SshFleet) -> None:
    """Read back, never run in a harmful form: the hosts share the machine's kernel, so
    `poweroff -ff` or `systemctl reboot -ff` as root in a host would reach the machine.
    Only `--help` (harmless even were the shim missing) and `--version` are run."""
    from adminkit.lab.ssh import REBOOT_SHIM, SYSTEMCTL_GUARD

    with closing(hosts.connect(hosts.fleet[0].address)) as client:
        for cmd in ("reboot", "shutdown", "halt", "poweroff", "telinit"):
            assert run(client, ["cat", f"/usr/sbin/{cmd}"]) == (0, REBOOT_SHIM), cmd
        assert run(client, ["cat", "/usr/bin/systemctl"]) == (0, SYSTEMCTL_GUARD)
        rc, out = run(client, ["poweroff", "--help"], sudo=True)
        assert rc == 1 and "only a restart is modelled" in out, out
        rc, out = run(client, ["systemctl", "--version"])
        assert rc == 0 and "systemd" in out, out


@pytest.fixture(scope="module")
def limited(fleet: SshFleet, zypper_host: str, lab_config_dir: Path, profile: str) -> str:
    """The module's profile with a bulk limit of one host."""
    import yaml

    path = lab_config_dir / "profiles" / f"{profile}.yaml"
    data = yaml.safe_load(path.read_text())
    data["name"] = "lab-revdeploy-limited"
    data["policy"] = {"bulk_limit": 1}
    (lab_config_dir / "profiles" / "lab-revdeploy-limited.yaml").write_text(yaml.safe_dump(data))
    return "lab-revdeploy-limited"


@pytest.mark.parametrize(("argv", "limited_run"), [
    (["host", "reboot"], True),
    (["host", "patch", "--reboot-if-needed"], True),
    (["host", "patch"], True),
    (["app", "remove", PACKAGE], True),
    (["app", "install", PACKAGE, "--reboot-if-needed"], True),
    (["app", "upgrade", PACKAGE, "--reboot-if-needed"], True),
    (["app", "install", PACKAGE], False),
])
def test_bulk_limit_holds_for_every_verb_that_removes_patches_or_restarts(
        hosts: SshFleet, limited: str, cli: Cli, argv: list[str], limited_run: bool) -> None:
    """Two hosts, a limit of one: refused (exit 4) before any host is contacted, unless
    --force; checked in --check mode, so nothing on the hosts changes either way."""
    boots = [hosts.boots(h) for h in hosts.fleet]
    r = cli("-p", limited, "--check", "-o", "json", *argv, "--hosts", "all")
    if limited_run:
        assert r.returncode == 4, r.stdout + r.stderr
        assert "over the profile's limit of 1" in r.stderr, r.stderr
        r = cli("-p", limited, "--check", "-o", "json", *argv, "--hosts", "all", "--force")
    assert r.returncode == 0, r.stdout + r.stderr
    assert [hosts.boots(h) for h in hosts.fleet] == boots
