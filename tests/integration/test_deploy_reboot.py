"""`host reboot` and --reboot-if-needed on a fleet of lab hosts of this module's own
(127.0.14.N, started and stopped here by PID), whose `shutdown -r` restarts the lab host
only (lab/ssh.py, "A lab reboot"): each host comes back with a boot id of its own, read
back over a separate login; the machine, the other hosts and a process of the machine's
own are untouched; a host that never comes back, or never goes down, fails alone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from adminkit.journal.store import Filters, Journal
from adminkit.lab.ssh import PACKAGE, VERSIONS, SshFleet
from tests.integration.noted import by_pytest
from tests.integration.ownfleet import fleet_fixture
from tests.integration.rtread import notes
from tests.integration.test_deploy_ssh import Cli, by_host, report, write_profile
from tests.integration.test_lab_ssh import installed, run

pytestmark = pytest.mark.integration
SUBNET = "127.0.14"  # no lab server uses it (the shared fleet is 127.0.1, the bench's 127.0.9)
MACHINE_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


fleet = fleet_fixture("reboot-lab", hosts=3, subnet=SUBNET)


@pytest.fixture
def hosts(fleet: SshFleet) -> Iterator[SshFleet]:
    """Every host up and restarting in a second, as the tests expect it."""
    for host in fleet.fleet:
        fleet.reboot_delay(host, 1)
    fleet.wait_ready()
    yield fleet
    for host in fleet.fleet:
        fleet.reboot_delay(host, 1)


@pytest.fixture(scope="module")
def profile(fleet: SshFleet, lab_config_dir: Path, rt: Any) -> str:
    return write_profile(lab_config_dir, "lab-reboot", fleet)


def boot_id(fleet: SshFleet, n: int) -> str:
    """The host's boot id as a login to it reads it (not through adminkit)."""
    with closing(fleet.connect(fleet.fleet[n].address)) as client:
        rc, out = run(client, ["cat", "/proc/sys/kernel/random/boot_id"])
    assert rc == 0, out
    return out.strip()


def flag_reboot_required(fleet: SshFleet, n: int) -> None:
    """What a kernel or libc update leaves on Debian; in the host's own /run."""
    with closing(fleet.connect(fleet.fleet[n].address)) as client:
        assert run(client, ["touch", "/var/run/reboot-required"], sudo=True)[0] == 0


def results(r: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    return {x["target"]: x for x in report(r)["results"]}


def test_check_then_reboot_two_hosts_with_notes(hosts: SshFleet, profile: str, cli: Cli,
                                                rt: Any) -> None:
    machine = MACHINE_BOOT_ID.read_text()
    sentinel = subprocess.Popen(["sleep", "300"])  # a process of the machine's own
    before = [boot_id(hosts, n) for n in range(3)]
    boots = [hosts.boots(h) for h in hosts.fleet]
    try:
        r = cli("-p", profile, "--check", "-o", "json", "host", "reboot", "--hosts", "h1,h2")
        assert r.returncode == 0, r.stderr
        assert by_host(report(r)) == {"h1": "changed", "h2": "changed"}
        assert [boot_id(hosts, n) for n in range(3)] == before  # check: nothing restarted

        ticket = rt.new_ticket("Please restart h1 and h2")
        r = cli("-p", profile, "--ticket", str(ticket), "-o", "json", "host", "reboot",
                "--hosts", "h1,h2", "--timeout", "60")
        assert r.returncode == 0, r.stdout + r.stderr
        found = results(r)
        after = [boot_id(hosts, n) for n in range(3)]
        assert after[0] != before[0] and after[1] != before[1] and after[2] == before[2]
        for n, host in enumerate(("h1", "h2")):
            assert found[host]["status"] == "changed"
            assert found[host]["data"]["boot_id_before"] == before[n]
            assert found[host]["data"]["boot_id_after"] == after[n]
            assert found[host]["data"]["went_down"] is True
        assert [hosts.boots(h) for h in hosts.fleet] == [boots[0] + 1, boots[1] + 1, boots[2]]
        assert MACHINE_BOOT_ID.read_text() == machine
        assert sentinel.poll() is None  # the machine's processes live on
        texts = sorted(n.text for n in notes(rt, ticket))
        assert len(texts) == 2
        for host, text in zip(("h1", "h2"), texts, strict=True):
            assert f"host.reboot {host} by {by_pytest()} " in text and "new boot id" in text
    finally:
        sentinel.kill()
        sentinel.wait()


def test_one_never_back_one_never_down_each_fails_alone(hosts: SshFleet, profile: str,
                                                        cli: Cli) -> None:
    _, h2, h3 = hosts.fleet
    hosts.reboot_delay(h2, None)  # never comes back
    hosts.reboot_delay(h3, 1, ignored=True)  # says yes, stays up
    before = boot_id(hosts, 0), boot_id(hosts, 2)
    r = cli("-p", profile, "-o", "json", "host", "reboot", "--hosts", "all", "--timeout", "8")
    assert r.returncode == 1, r.stdout + r.stderr
    found = results(r)
    assert {k: v["status"] for k, v in found.items()} == {
        "h1": "changed", "h2": "failed", "h3": "failed"}
    assert "did not come back within 8 s" in found["h2"]["error"]
    assert "did not restart" in found["h3"]["error"]
    assert boot_id(hosts, 0) != before[0] and boot_id(hosts, 2) == before[1]
    # h2 is still down; the lab's restart brings it back for the next tests
    hosts.stop()
    hosts.start()


def test_a_host_rebooted_twice_has_three_boot_ids(hosts: SshFleet, profile: str,
                                                  cli: Cli) -> None:
    seen = [boot_id(hosts, 0)]
    for _ in range(2):
        r = cli("-p", profile, "-o", "json", "host", "reboot", "--hosts", "h1")
        assert r.returncode == 0, r.stdout + r.stderr
        data = results(r)["h1"]["data"]
        assert data["boot_id_before"] == seen[-1]
        seen.append(boot_id(hosts, 0))
        assert data["boot_id_after"] == seen[-1]
    assert len(set(seen)) == 3


def test_if_needed_and_install_reboot_if_needed(hosts: SshFleet, profile: str,
                                                cli: Cli) -> None:
    flag_reboot_required(hosts, 1)
    before = [boot_id(hosts, n) for n in range(3)]
    r = cli("-p", profile, "--check", "-o", "json", "host", "reboot", "--if-needed",
            "--hosts", "all")
    assert r.returncode == 0, r.stderr
    assert by_host(report(r)) == {"h1": "ok", "h2": "changed", "h3": "ok"}
    r = cli("-p", profile, "-o", "json", "host", "reboot", "--if-needed", "--hosts", "all")
    assert r.returncode == 0, r.stdout + r.stderr
    assert by_host(report(r)) == {"h1": "ok", "h2": "changed", "h3": "ok"}
    after = [boot_id(hosts, n) for n in range(3)]
    assert [a != b for a, b in zip(after, before, strict=True)] == [False, True, False]
    r = cli("-p", profile, "-o", "json", "host", "facts", "--hosts", "h2")
    assert json.loads(r.stdout)[0]["reboot_pending"] is False  # the boot emptied /run

    flag_reboot_required(hosts, 0)  # an update that wants a restart: the install sees it
    r = cli("-p", profile, "-o", "json", "app", "install", f"{PACKAGE}=1.0", "--hosts",
            "h1,h3", "--reboot-if-needed")
    assert r.returncode == 0, r.stdout + r.stderr
    found = results(r)
    assert found["h1"]["data"]["rebooted"]["boot_id_before"] == after[0]
    assert found["h1"]["data"]["rebooted"]["boot_id_after"] == boot_id(hosts, 0) != after[0]
    assert "rebooted" not in found["h3"]["data"] and boot_id(hosts, 2) == after[2]
    assert installed(hosts, hosts.fleet[0].address) == "1.0"  # read back after the boot
    assert installed(hosts, hosts.fleet[2].address) == "1.0"


@pytest.mark.parametrize("pattern", ["h1;reboot", "$(reboot)", "h1 h2", "`reboot`",
                                     "h1,-oProxyCommand=reboot", "../h1"])
def test_hostile_patterns_restart_nothing(hosts: SshFleet, profile: str, cli: Cli,
                                          pattern: str) -> None:
    boots = [hosts.boots(h) for h in hosts.fleet]
    r = cli("-p", profile, "host", "reboot", "--hosts", pattern)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert [hosts.boots(h) for h in hosts.fleet] == boots


def test_killed_mid_wait_the_host_comes_back_and_resume_finds_it_done(
        hosts: SshFleet, profile: str, cli: Cli) -> None:
    """adminkit killed (SIGKILL) while it waits: the host restarts anyway; the run stays
    unfinished in the journal, and its resume finds a boot id other than the one its
    intent row kept: the restart happened, and nothing is restarted a second time."""
    h1 = hosts.fleet[0]
    hosts.reboot_delay(h1, 4)
    flag_reboot_required(hosts, 0)
    before = boot_id(hosts, 0)
    killed_once_down(hosts, cli, before, "-p", profile, "host", "reboot", "--if-needed",
                     "--hosts", "h1")
    hosts.wait_ready()
    after = boot_id(hosts, 0)
    assert after != before and hosts.boots(h1) >= 1
    journal = Journal(cli.journal)  # type: ignore[attr-defined]
    try:
        assert journal.entries(Filters(kinds=("end",))) == []  # the run never ended
    finally:
        journal.close()
    boots = hosts.boots(h1)
    r = cli("-o", "json", "run", "--resume", "last")
    assert r.returncode == 0, r.stdout + r.stderr
    # journaled as started, found done on the host: reported changed, not done again
    assert by_host(report(r)) == {"h1": "changed"}, r.stdout
    assert "new boot id" in results(r)["h1"]["summary"], r.stdout
    assert boot_id(hosts, 0) == after and hosts.boots(h1) == boots  # not restarted again


def test_patch_killed_mid_restart_resume_waits_and_finds_it_done(
        hosts: SshFleet, profile: str, cli: Cli) -> None:
    """`host patch --reboot-if-needed` killed (SIGKILL) while its host restarts: the
    resume waits for the host instead of failing on it, finds the update in place and no
    restart wanted, and says the interrupted attempt did it; nothing is done twice."""
    h1 = hosts.fleet[0]
    r = cli("-p", profile, "app", "install", f"{PACKAGE}=1.0", "--hosts", "h1")
    assert r.returncode == 0, r.stdout + r.stderr
    hosts.reboot_delay(h1, 4)
    flag_reboot_required(hosts, 0)  # what the update leaves on a real host
    before, boots = boot_id(hosts, 0), hosts.boots(h1)
    killed_once_down(hosts, cli, before, "-p", profile, "host", "patch", "--reboot-if-needed",
                     "--hosts", "h1")
    r = cli("-o", "json", "run", "--resume", "last")  # while the host may still be down
    assert r.returncode == 0, r.stdout + r.stderr
    assert by_host(report(r)) == {"h1": "changed"}, r.stdout
    assert "done by the interrupted attempt" in results(r)["h1"]["summary"], r.stdout
    assert installed(hosts, h1.address) == VERSIONS[-1]  # the newest
    assert boot_id(hosts, 0) != before
    assert hosts.boots(h1) == boots + 1  # restarted once, by the attempt
    r = cli("-p", profile, "-o", "json", "host", "facts", "--hosts", "h1")
    assert json.loads(r.stdout)[0]["reboot_pending"] is False


def test_app_install_leaves_a_reboot_another_change_left_pending(
        hosts: SshFleet, profile: str, cli: Cli) -> None:
    """A host with the package in place that wants a restart for another reason (last
    night's updates): `app install --reboot-if-needed` installs nothing there, so restarts
    nothing, and says the reboot is pending (a resume of its own killed attempt does
    restart: the unit tests); `host reboot --if-needed` is what restarts it."""
    r = cli("-p", profile, "app", "install", f"{PACKAGE}=1.0", "--hosts", "h2")
    assert r.returncode == 0, r.stdout + r.stderr
    flag_reboot_required(hosts, 1)
    before = boot_id(hosts, 1)
    for check in (["--check"], []):
        r = cli("-p", profile, "-o", "json", *check, "app", "install", f"{PACKAGE}=1.0",
                "--hosts", "h2", "--reboot-if-needed")
        assert r.returncode == 0, r.stdout + r.stderr
        assert by_host(report(r)) == {"h2": "ok"}, r.stdout
        assert "a reboot is pending from another change" in results(r)["h2"]["summary"]
        assert boot_id(hosts, 1) == before
    r = cli("-p", profile, "-o", "json", "host", "reboot", "--if-needed", "--hosts", "h2")
    assert r.returncode == 0 and by_host(report(r)) == {"h2": "changed"}, r.stdout + r.stderr
    assert boot_id(hosts, 1) != before and installed(hosts, hosts.fleet[1].address) == "1.0"


def killed_once_down(hosts: SshFleet, cli: Cli, before: str, *args: str) -> None:
    """Run adminkit with `args` and SIGKILL it as soon as h1 is down or back with a boot
    id other than `before` (it is waiting for the restart then)."""
    h1 = hosts.fleet[0]
    proc = subprocess.Popen([*cli.argv, *args],  # type: ignore[attr-defined]
                            env={**os.environ, **cli.env},  # type: ignore[attr-defined]
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while hosts.boot_id(h1) == before and not _down(h1.address):
            assert proc.poll() is None, "adminkit ended before the host went down"
            assert time.monotonic() < deadline, "the host never went down"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()


def _down(address: str) -> bool:
    import socket

    try:
        socket.create_connection((address, 22), timeout=0.5).close()
    except OSError:
        return True
    return False


def test_patch_hosts_playbook_restarts_what_wants_it(hosts: SshFleet, profile: str,
                                                     cli: Cli) -> None:
    r = cli("-p", profile, "app", "remove", PACKAGE, "--purge", "--hosts", "all")
    assert r.returncode == 0, r.stdout + r.stderr
    r = cli("-p", profile, "app", "install", f"{PACKAGE}=1.0", "--hosts", "h1,h2")
    assert r.returncode == 0, r.stdout + r.stderr
    flag_reboot_required(hosts, 0)  # h1's updates leave it wanting a restart, h2's do not
    before = [boot_id(hosts, n) for n in range(3)]
    r = cli("-p", profile, "-o", "json", "run", "patch-hosts", "-i", "hosts=h1,h2,h3",
            "-i", "reboot=true", "--approved-by", "lead")
    assert r.returncode == 0, r.stdout + r.stderr
    found = results(r)
    assert {k: v["status"] for k, v in found.items()} == {
        "h1": "changed", "h2": "changed", "h3": "ok"}
    assert found["h1"]["data"]["rebooted"]["boot_id_after"] == boot_id(hosts, 0) != before[0]
    assert "rebooted" not in found["h2"]["data"]
    assert [boot_id(hosts, n) for n in (1, 2)] == before[1:]
    assert [installed(hosts, h.address) for h in hosts.fleet] == ["1.1", "1.1", None]
