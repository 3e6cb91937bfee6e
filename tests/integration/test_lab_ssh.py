"""The SSH fleet is real: strict host keys, sudo and apt per host, isolated hosts, a reset
that forgets installs, and a stop that leaves nothing behind in the hosts' namespaces."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from contextlib import closing
from pathlib import Path

import paramiko
import pytest

from adminkit.deploy.settings import InventoryConfig
from adminkit.lab import base, process
from adminkit.lab.ssh import PACKAGE, SshFleet

pytestmark = pytest.mark.integration


@pytest.fixture
def fleet(ssh_fleet: base.LabServer) -> SshFleet:
    assert isinstance(ssh_fleet, SshFleet)
    return ssh_fleet


def run(client: paramiko.SSHClient, argv: list[str], *, sudo: bool = False) -> tuple[int, str]:
    cmd = shlex.join((["sudo", "-n", "--"] if sudo else []) + argv)
    stdin, stdout, stderr = client.exec_command(cmd, timeout=120)
    stdin.close()
    out = stdout.read().decode() + stderr.read().decode()
    return stdout.channel.recv_exit_status(), out


def installed(fleet: SshFleet, address: str) -> str | None:
    """The package's version if dpkg has it installed (`ii`) on that host, else None."""
    with closing(fleet.connect(address)) as client:
        rc, out = run(client, ["dpkg-query", "-W", "-f", "${Version} ${db:Status-Abbrev}", PACKAGE])
    version, _, status = out.partition(" ")
    return version if rc == 0 and status.strip() == "ii" else None


def install(fleet: SshFleet, address: str, version: str) -> None:
    with closing(fleet.connect(address)) as client:
        rc, out = run(client, ["apt-get", "-q", "update"], sudo=True)
        assert rc == 0, out
        rc, out = run(client, ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-q",
                               "install", "-y", f"{PACKAGE}={version}"], sudo=True)
        assert rc == 0, out


def leave_process_behind(fleet: SshFleet, address: str) -> None:
    """What a careless session does: a detached process that outlives sshd."""
    with closing(fleet.connect(address)) as client:
        rc, out = run(client, ["sh", "-c", "setsid nohup sleep 300 </dev/null >/dev/null 2>&1 &"])
    assert rc == 0, out


def host_processes(fleet: SshFleet) -> dict[int, tuple[int | None, str]]:
    """PID -> (start time, command) of every process in the hosts' mount namespaces (each
    host's, recorded at start, and each boot's), found through /proc (ids are reused later,
    so callers compare PIDs with start times, not namespace ids)."""
    recorded = {p.extra.get("mntns", "") for p in fleet.procs.load("ssh")}
    assert "" not in recorded, "every host's record carries its mount namespace"
    assert len(recorded) == len(fleet.fleet)
    found = {}
    for pid in (pid for pids in fleet.namespaces().values() for pid in pids):
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        found[pid] = (process.start_ticks(pid), comm)
    return found


def processes_with_leftover(fleet: SshFleet) -> dict[int, tuple[int | None, str]]:
    """host_processes() once the detached `sleep` shows up (setsid forks, then execs)."""
    deadline = time.monotonic() + 10
    while True:
        found = host_processes(fleet)
        if "sleep" in [comm for _, comm in found.values()]:
            return found
        assert time.monotonic() < deadline, f"no leftover sleep in the hosts: {found}"
        time.sleep(0.05)


def still_running(before: dict[int, tuple[int | None, str]]) -> list[int]:
    """Those of `before` still alive; zombies count as gone (PID 1 here reaps lazily)."""
    return [pid for pid, (ticks, comm) in before.items()
            if ticks is not None and process.alive(process.Proc(pid, ticks, comm))]


def overlays_in_use(mount_tag: str) -> list[int]:
    """PIDs whose mount namespace still shows one of the fleet's overlays."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            if f" - overlay {mount_tag}-" in Path(f"/proc/{entry}/mountinfo").read_text():
                found.append(int(entry))
        except OSError:
            continue
    return found


def test_every_host_answers_with_its_own_name(fleet: SshFleet) -> None:
    assert len(fleet.fleet) >= 3
    for host in fleet.fleet:
        with closing(fleet.connect(host.address)) as client:
            rc, out = run(client, ["hostname"])
        assert (rc, out.strip()) == (0, host.name)


def test_profile_matches_the_inventory_schema(fleet: SshFleet) -> None:
    inventory = InventoryConfig.model_validate(fleet.profile()["inventory"])
    assert inventory.ssh is not None
    assert inventory.ssh.known_hosts.read_text().count("ssh-ed25519") >= len(fleet.fleet)
    assert [(h.name, h.address) for h in inventory.hosts] == [
        (f"h{n}", f"127.0.1.{n}") for n in range(1, len(fleet.fleet) + 1)]


def test_a_host_missing_from_known_hosts_is_refused(fleet: SshFleet, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
        fleet.connect(fleet.fleet[0].address, known_hosts=empty)


def test_a_changed_host_key_is_refused(fleet: SshFleet, tmp_path: Path) -> None:
    h1, h2 = fleet.fleet[:2]
    h2_key = (h2.dir / "ssh_host_ed25519_key.pub").read_text().split()[:2]
    forged = tmp_path / "known_hosts"
    forged.write_text(f"{h1.address} {' '.join(h2_key)}\n")  # h1's address, h2's key
    with pytest.raises(paramiko.BadHostKeyException):
        fleet.connect(h1.address, known_hosts=forged)


def test_an_install_lands_on_its_host_only(fleet: SshFleet) -> None:
    h1, h2 = fleet.fleet[:2]
    install(fleet, h1.address, "1.0")
    assert installed(fleet, h1.address) == "1.0"
    with closing(fleet.connect(h1.address)) as client:
        assert run(client, [PACKAGE]) == (0, f"{PACKAGE} 1.0\n")
    assert installed(fleet, h2.address) is None
    local = subprocess.run(["dpkg-query", "-W", PACKAGE], capture_output=True, check=False)
    assert local.returncode != 0, "the machine itself must not have the package"
    assert not Path("/usr/bin", PACKAGE).exists()


def test_reset_forgets_installs_and_ends_leftover_processes(fleet: SshFleet) -> None:
    h1 = fleet.fleet[0]
    if installed(fleet, h1.address) is None:
        install(fleet, h1.address, "1.0")
    leave_process_behind(fleet, h1.address)
    before = processes_with_leftover(fleet)

    fleet.reset()

    assert still_running(before) == []
    assert installed(fleet, h1.address) is None
    fleet.probe()


def test_stop_leaves_no_process_in_the_host_namespaces(fleet: SshFleet) -> None:
    leave_process_behind(fleet, fleet.fleet[1].address)
    before = processes_with_leftover(fleet)
    try:
        fleet.stop()
        assert still_running(before) == []
        assert overlays_in_use(fleet.mount_tag) == []
        assert fleet.procs.load("ssh") == []
        assert all(base.port_free(h.address, 22) for h in fleet.fleet)
    finally:  # the session fixture expects a running fleet
        fleet.start()
        fleet.wait_ready()
