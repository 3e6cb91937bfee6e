"""A lab SSH host cannot reach the machine: each boot of a host is a PID namespace of its
own (its /proc shows its processes only), the kernel's knobs are read-only in it, and the
kernel's reboot(2) called by root in a host restarts that host only. On a fleet of this
module's own (127.0.41.N, started and stopped here by PID).

reboot(2) is called only after the isolation is proved from both sides, and the call
itself refuses to run in the machine's PID namespace (GUARDED_REBOOT)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import paramiko
import pytest

from adminkit.lab import process
from adminkit.lab.ssh import SshFleet
from tests.integration.ownfleet import fleet_fixture
from tests.integration.test_deploy_reboot import MACHINE_BOOT_ID, _down, boot_id
from tests.integration.test_lab_ssh import leave_process_behind, run

pytestmark = pytest.mark.integration
SUBNET = "127.0.41"  # no lab server, test or bench uses it
MACHINE_PID_NS = os.readlink("/proc/self/ns/pid")
RB_AUTOBOOT, RB_POWER_OFF = 0x01234567, 0x4321FEDC

# Run in a host as root: refuses (exit 99) in the machine's PID namespace, given as argv[1].
GUARDED_REBOOT = """
import ctypes, os, sys
machine, cmd = sys.argv[1], int(sys.argv[2], 0)
if not machine.startswith("pid:[") or os.readlink("/proc/self/ns/pid") == machine:
    print("refused: the machine's PID namespace"); sys.exit(99)
libc = ctypes.CDLL(None, use_errno=True)
print("reboot", libc.reboot(cmd), ctypes.get_errno(), flush=True)
"""

# Opens (never writes) each path for writing; prints the errno name, or "opened".
OPEN_FOR_WRITING = """
import errno, os, sys
for path in sys.argv[1:]:
    try:
        os.close(os.open(path, os.O_WRONLY))
        print(path, "opened")
    except OSError as exc:
        print(path, errno.errorcode[exc.errno])
"""


fleet = fleet_fixture("isolation-lab", hosts=2, subnet=SUBNET)


@pytest.fixture
def hosts(fleet: SshFleet) -> SshFleet:
    for host in fleet.fleet:
        fleet.reboot_delay(host, 1)
    if not fleet.is_running():  # a test powered a host off
        fleet.stop()
        fleet.start()
    fleet.wait_ready()
    return fleet


def in_host(fleet: SshFleet, n: int, argv: list[str], *, sudo: bool = False) -> str:
    with closing(fleet.connect(fleet.fleet[n].address)) as client:
        rc, out = run(client, argv, sudo=sudo)
    assert rc == 0, out
    return out


def prove_isolated(fleet: SshFleet, n: int) -> None:
    """The host's PID namespace is not the machine's, its PID 1 is the lab's boot script,
    and it sees none of the machine's processes (a sentinel with a marker in its argv)."""
    marker = f"adminkit-isolation-{os.getpid()}"
    sentinel = subprocess.Popen(["sh", "-c", "sleep 300", marker])
    try:
        ns = in_host(fleet, n, ["readlink", "/proc/self/ns/pid"]).strip()
        assert ns.startswith("pid:[") and ns != MACHINE_PID_NS, ns
        init = in_host(fleet, n, ["cat", "/proc/1/cmdline"]).split("\0")
        assert init[1:2] == ["/run/adminkit-lab-ssh/host-boot.sh"], init
        seen = in_host(fleet, n, ["sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '"])
        assert marker not in seen and "host-init.sh" not in seen, seen
    finally:
        sentinel.kill()
        sentinel.wait()


def call_reboot(fleet: SshFleet, n: int, cmd: int) -> None:
    """reboot(2) as root in host n, once its isolation is proved; the host's end of the
    connection goes with it."""
    prove_isolated(fleet, n)
    try:
        with closing(fleet.connect(fleet.fleet[n].address)) as client:
            rc, out = run(client, ["python3", "-c", GUARDED_REBOOT, MACHINE_PID_NS, hex(cmd)],
                          sudo=True)
    except (paramiko.SSHException, OSError, EOFError):
        return
    assert "refused" not in out and rc != 99, out
    assert rc == -1, f"reboot(2) returned: {rc} {out}"  # no exit status: the host went


def test_each_host_has_a_pid_namespace_and_a_proc_of_its_own(hosts: SshFleet) -> None:
    prove_isolated(hosts, 0)
    prove_isolated(hosts, 1)
    first, second = (in_host(hosts, n, ["readlink", "/proc/self/ns/pid"]) for n in (0, 1))
    assert first != second


def test_the_kernels_knobs_are_read_only_even_for_root(hosts: SshFleet) -> None:
    """Opened for writing, never written: /proc/sysrq-trigger (absent where the kernel has
    no magic SysRq), /proc/sys (the boot id among it) and /sys/power."""
    out = in_host(hosts, 0, ["python3", "-c", OPEN_FOR_WRITING, "/proc/sysrq-trigger",
                             "/proc/sys/kernel/hostname", "/proc/sys/kernel/random/boot_id",
                             "/sys/power/state"], sudo=True)
    found = dict(line.split() for line in out.splitlines())
    assert found.pop("/proc/sysrq-trigger") in (
        "EROFS" if Path("/proc/sysrq-trigger").exists() else "ENOENT",), out
    assert set(found.values()) == {"EROFS"}, out


def test_reboot_syscall_restarts_that_host_only(hosts: SshFleet) -> None:
    machine = MACHINE_BOOT_ID.read_text()
    sentinel = subprocess.Popen(["sleep", "300"])  # a process of the machine's own
    before = [boot_id(hosts, n) for n in (0, 1)]
    boots = [hosts.boots(h) for h in hosts.fleet]
    try:
        call_reboot(hosts, 0, RB_AUTOBOOT)
        hosts.wait_ready()
        assert boot_id(hosts, 0) != before[0] and boot_id(hosts, 1) == before[1]
        assert [hosts.boots(h) for h in hosts.fleet] == [boots[0] + 1, boots[1]]
        assert MACHINE_BOOT_ID.read_text() == machine
        assert sentinel.poll() is None
    finally:
        sentinel.kill()
        sentinel.wait()


def test_power_off_syscall_leaves_that_host_down_and_the_rest_up(hosts: SshFleet) -> None:
    machine = MACHINE_BOOT_ID.read_text()
    other = boot_id(hosts, 1)
    call_reboot(hosts, 0, RB_POWER_OFF)
    h1 = hosts.fleet[0]
    # its recorded init ends with the host: the lab sees it stopped, not hung
    procs = {p.extra["host"]: p for p in hosts.procs.load("ssh")}
    _wait(lambda: not process.alive(procs["h1"]))
    assert _down(h1.address)
    assert boot_id(hosts, 1) == other and MACHINE_BOOT_ID.read_text() == machine


def test_the_shims_restart_ends_the_boots_processes(hosts: SshFleet) -> None:
    before = boot_id(hosts, 0)
    leave_process_behind(hosts, hosts.fleet[0].address)
    assert in_host(hosts, 0, ["reboot"], sudo=True) == ""
    _wait(lambda: _down(hosts.fleet[0].address))
    hosts.wait_ready()
    assert boot_id(hosts, 0) != before
    prove_isolated(hosts, 0)
    assert "sleep" not in in_host(hosts, 0, ["ps", "-e", "-o", "comm="])  # the boot's end


def test_stop_ends_every_boot_and_leaves_nothing(hosts: SshFleet) -> None:
    """Each boot's PID 1 (forked by `unshare --fork`, never recorded) ends with the lab."""
    leave_process_behind(hosts, hosts.fleet[1].address)
    inits = [pid for pids in hosts.namespaces().values() for pid in pids
             if _comm(pid) == "host-boot.sh"]
    assert len(inits) == 2
    ticks = {pid: process.start_ticks(pid) for pid in inits}
    hosts.stop()
    try:
        assert hosts.namespaces() == {} and hosts.procs.load("ssh") == []
        assert [p for p, t in ticks.items()
                if t is not None and process.alive(process.Proc(p, t, "sh"))] == []
    finally:
        hosts.start()


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:  # gone meanwhile (a session that ended)
        return ""


def _wait(done: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
