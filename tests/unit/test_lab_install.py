"""The logic of `adminkit lab install` that leaves the machine as it found it.

Which services to disable given the boot links before and after, which processes to
stop, what the install added, and the policy-rc.d swap, on folders and processes of
the test's own; the whole install on the real machine is in
tests/integration/test_lab_install.py.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from adminkit.lab import bootlinks, daemons, packages
from adminkit.lab.bootlinks import Service
from adminkit.lab.daemons import ProcInfo
from adminkit.lab.install import (
    POLICY_TEXT,
    SAVED_SUFFIX,
    InstallReport,
    failure_line,
    services_held,
)
from adminkit.lab.packages import PackageChanges

# -- packages ---------------------------------------------------------------------------

DPKG_BEFORE = (
    "libc6:amd64\t2.36-9+deb12u9\tii \n"
    "openssl\t3.0.15-1~deb12u1\tii \n"
    "exim4-base\t4.96-15\tii \n"
    "slapd\t2.5.13+dfsg-5\trc \n"  # removed earlier, configuration left: not present
    "cups\t2.4.2-3+deb12u11\tun \n"
)
DPKG_AFTER = (
    "libc6:amd64\t2.36-9+deb12u9\tii \n"
    "openssl\t3.0.16-1~deb12u1\tii \n"
    "slapd\t2.5.13+dfsg-5+deb12u1\tii \n"
    "libldap-2.5-0:amd64\t2.5.13+dfsg-5+deb12u1\tii \n"
    "cups\t2.4.2-3+deb12u11\tiU \n"  # unpacked, not configured: on the system all the same
    "broken line\n"
)


def test_versions_count_only_packages_on_the_system() -> None:
    assert packages.parse_versions(DPKG_BEFORE) == {
        "libc6:amd64": "2.36-9+deb12u9", "openssl": "3.0.15-1~deb12u1", "exim4-base": "4.96-15"}


def test_changes_tell_new_upgraded_and_removed_packages() -> None:
    found = packages.changes(packages.parse_versions(DPKG_BEFORE),
                             packages.parse_versions(DPKG_AFTER))
    assert found == PackageChanges(installed=("cups", "libldap-2.5-0:amd64", "slapd"),
                                   upgraded=("openssl",), removed=("exim4-base",))


def test_no_change_is_falsy_and_says_nothing() -> None:
    same = packages.parse_versions(DPKG_BEFORE)
    found = packages.changes(same, same)
    assert not found
    assert packages.summary(found) == []


def test_summary_names_what_was_asked_for_and_counts_dependencies() -> None:
    found = PackageChanges(installed=("cups", "libldap-2.5-0:amd64", "slapd"),
                           upgraded=("openssl",), removed=("exim4-base",))
    assert packages.summary(found, requested=["slapd", "cups", "ldap-utils"]) == [
        "installed 3 packages: cups, slapd (+1 dependency)",
        "upgraded 1 package: openssl",
        "removed 1 package: exim4-base",
    ]


def test_summary_stays_short() -> None:
    many = tuple(f"lib{n:02d}" for n in range(40))
    lines = packages.summary(PackageChanges(installed=many, upgraded=many))
    assert lines == ["installed 40 packages: lib00, lib01, lib02, lib03, lib04 and 35 more",
                     "upgraded 40 packages: lib00, lib01, lib02, lib03, lib04 and 35 more"]


# -- boot links --------------------------------------------------------------------------


def _link(path: Path, target: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


@pytest.fixture
def etc(tmp_path: Path) -> Path:
    """A machine with dbus (SysV) and timesyncd (systemd, with an alias) enabled."""
    etc = tmp_path / "etc"
    system = etc / "systemd" / "system"
    _link(etc / "rc2.d" / "S01dbus", "../init.d/dbus")
    _link(etc / "rc0.d" / "K01dbus", "../init.d/dbus")
    _link(system / "sysinit.target.wants" / "systemd-timesyncd.service",
          "/lib/systemd/system/systemd-timesyncd.service")
    _link(system / "dbus-org.freedesktop.timesync1.service",
          "/lib/systemd/system/systemd-timesyncd.service")
    _link(system / "apt-daily.timer", "/dev/null")  # masked, not enabled
    (system / "local.service").write_text("[Unit]\n")  # the admin's own unit file
    return etc


def _names(services: list[Service]) -> list[str]:
    return [f"{s.kind}:{s.name}" for s in services]


def test_snapshot_sees_sysv_s_links_wants_links_and_aliases(etc: Path) -> None:
    assert sorted(f"{s.kind}:{s}" for s in bootlinks.enabled(bootlinks.snapshot(etc))) == [
        "systemd:systemd-timesyncd.service", "sysv:dbus"]


def test_services_a_package_enabled_are_the_ones_to_disable(etc: Path) -> None:
    before = bootlinks.snapshot(etc)
    # what installing cups does: a unit in two targets, its socket, and a SysV script
    system = etc / "systemd" / "system"
    _link(system / "multi-user.target.wants" / "cups.service", "/lib/systemd/system/cups.service")
    _link(system / "printer.target.wants" / "cups.service", "/lib/systemd/system/cups.service")
    _link(system / "sockets.target.wants" / "cups.socket", "/lib/systemd/system/cups.socket")
    for level in "2345":
        _link(etc / f"rc{level}.d" / "S01cups", "../init.d/cups")
    _link(etc / "rc1.d" / "K01cups", "../init.d/cups")
    # ...and an upgrade that gave an enabled service one more link
    _link(system / "multi-user.target.wants" / "systemd-timesyncd.service",
          "/lib/systemd/system/systemd-timesyncd.service")
    after = bootlinks.snapshot(etc)
    assert _names(bootlinks.newly_enabled(before, after)) == [
        "systemd:cups.service", "systemd:cups.socket", "sysv:cups"]
    assert bootlinks.lost(before, after) == []


def test_a_k_link_or_a_mask_enables_nothing(etc: Path) -> None:
    before = bootlinks.snapshot(etc)
    _link(etc / "rc2.d" / "K01slapd", "../init.d/slapd")  # `update-rc.d slapd disable`
    _link(etc / "systemd" / "system" / "multi-user.target.wants" / "smbd.service", "/dev/null")
    assert bootlinks.newly_enabled(before, bootlinks.snapshot(etc)) == []


def test_a_service_disabled_meanwhile_is_reported_lost(etc: Path) -> None:
    before = bootlinks.snapshot(etc)
    (etc / "rc2.d" / "S01dbus").unlink()
    (etc / "rc2.d" / "K01dbus").symlink_to("../init.d/dbus")
    assert _names(bootlinks.lost(before, bootlinks.snapshot(etc))) == ["sysv:dbus"]


# -- daemons -------------------------------------------------------------------------------


def _proc(pid: int, cmdline: str, *, tagged: bool = False, exe: str = "/usr/bin/sleep",
          ticks: int = 100) -> ProcInfo:
    return ProcInfo(pid=pid, start_ticks=ticks, exe=exe, cmdline=cmdline, tagged=tagged)


def test_only_processes_the_install_started_are_stopped() -> None:
    lab_slapd = _proc(10, "slapd -d 0 -f /lab/slapd.conf", exe="/usr/sbin/slapd")
    before = [lab_slapd, _proc(11, "sleep 5")]
    started = _proc(20, "/usr/sbin/slapd -h ldap:///", exe="/usr/sbin/slapd", tagged=True)
    after = [lab_slapd,  # the lab's own slapd, same program, untouched
             _proc(21, "sleep 5", ticks=300),  # someone's loop: not tagged
             started,
             _proc(22, "sleep 3600", tagged=True)]  # sleep 5 ended meanwhile: no cover
    assert daemons.to_stop(before, after) == [started, _proc(22, "sleep 3600", tagged=True)]


def test_a_restarted_daemon_that_ran_before_is_left_running() -> None:
    old = _proc(30, "/usr/sbin/sshd -D", exe="/usr/sbin/sshd")
    new = _proc(31, "/usr/sbin/sshd -D", exe="/usr/sbin/sshd", tagged=True, ticks=500)
    assert daemons.to_stop([old], [new]) == []
    # ...but not while the old one still runs: then the new one is an extra
    assert daemons.to_stop([old], [old, new]) == [new]


def test_scan_finds_a_real_process_by_its_tag_and_stop_ends_it(tmp_path: Path) -> None:
    token = "t" * 32
    env = {**os.environ, daemons.TAG_VAR: token}
    child = subprocess.Popen(["sleep", "60"], env=env, start_new_session=True)
    other = subprocess.Popen(["sleep", "61"], start_new_session=True)
    try:
        tagged = [p for p in daemons.scan(token) if p.tagged]
        assert [(p.pid, p.cmdline, p.exe) for p in tagged] == [
            (child.pid, "sleep 60", os.path.realpath("/usr/bin/sleep"))]
        assert [daemons.describe(p) for p in daemons.stop(tagged)] == [
            f"sleep (pid {child.pid})"]
        assert [p for p in daemons.scan(token) if p.tagged] == []
        assert other.poll() is None
    finally:
        for proc in (child, other):
            proc.kill()
            proc.wait()


# -- policy-rc.d -------------------------------------------------------------------------


def _policy_answer(path: Path) -> int:
    return subprocess.run([str(path), "cups", "start"], check=False).returncode


@pytest.fixture
def sbin(tmp_path: Path) -> Path:
    folder = tmp_path / "sbin"
    folder.mkdir()
    return folder


@pytest.fixture
def policy(sbin: Path) -> Path:
    """A machine's own policy-rc.d: allows everything, 0750, with a comment to keep."""
    path = sbin / "policy-rc.d"
    path.write_text("#!/bin/sh\n# the admin's\nexit 0\n")
    path.chmod(0o750)
    return path


def test_ours_refuses_every_action_and_the_original_comes_back_unchanged(policy: Path) -> None:
    original = (policy.read_bytes(), policy.stat().st_mode, policy.stat().st_ino)
    with services_held(policy):
        assert _policy_answer(policy) == 101  # invoke-rc.d(8): action forbidden
        assert stat.S_IMODE(policy.stat().st_mode) == 0o755
    assert (policy.read_bytes(), policy.stat().st_mode, policy.stat().st_ino) == original
    assert sorted(p.name for p in policy.parent.iterdir()) == ["policy-rc.d"]


def test_where_there_was_none_none_is_left(sbin: Path) -> None:
    path = sbin / "policy-rc.d"
    answers = []

    def interrupted_install() -> None:
        with services_held(path):
            answers.append(_policy_answer(path))
            raise RuntimeError("apt was interrupted")

    with pytest.raises(RuntimeError):
        interrupted_install()
    assert answers == [101]
    assert list(sbin.iterdir()) == []


def _killed_while_held(path: Path) -> None:
    """What a run killed (SIGKILL, power cut) during its install leaves on disk."""
    if path.exists():
        os.link(path, path.with_name(path.name + SAVED_SUFFIX))
    path.unlink(missing_ok=True)
    path.write_text(POLICY_TEXT)
    path.chmod(0o755)


def test_a_killed_install_is_repaired_by_the_next(policy: Path) -> None:
    original = (policy.read_bytes(), policy.stat().st_mode)
    _killed_while_held(policy)
    assert _policy_answer(policy) == 101
    with services_held(policy):
        assert _policy_answer(policy) == 101
    assert (policy.read_bytes(), policy.stat().st_mode) == original
    assert sorted(p.name for p in policy.parent.iterdir()) == ["policy-rc.d"]


def test_a_killed_install_where_there_was_none_leaves_none_after_the_next(sbin: Path) -> None:
    path = sbin / "policy-rc.d"
    _killed_while_held(path)
    with services_held(path):
        assert _policy_answer(path) == 101
    assert list(sbin.iterdir()) == []


# -- what the user reads -----------------------------------------------------------------


def test_the_failure_line_is_apts_last_error(tmp_path: Path) -> None:
    log = tmp_path / "install.log"
    log.write_text("$ apt-get install -y nosuch\nReading package lists...\n"
                   "E: Unable to locate package nosuch\nE: Second problem\n")
    assert failure_line(log) == "E: Second problem"
    log.write_text("$ pip install x\nERROR: No matching distribution found for x\n\n")
    assert failure_line(log) == "ERROR: No matching distribution found for x"
    assert failure_line(tmp_path / "absent.log") == "no output"


def test_nothing_installed_says_nothing() -> None:
    assert InstallReport().lines() == []


def test_an_install_that_ran_and_changed_nothing_still_names_its_log(tmp_path: Path) -> None:
    assert InstallReport(log=tmp_path / "install.log").lines() == [
        f"details: {tmp_path / 'install.log'}"]


def test_the_report_says_what_was_undone(tmp_path: Path) -> None:
    report = InstallReport(
        packages=PackageChanges(installed=("cups", "cups-daemon")), requested=("cups",),
        disabled=("cups.service", "cups.socket", "cups"), stopped=("cupsd (pid 42)",),
        lost=("dbus",), log=tmp_path / "install.log")
    assert report.lines() == [
        "installed 2 packages: cups (+1 dependency)",
        "disabled again at boot (the packages had enabled them): cups, cups.socket",
        "stopped (the packages had started them): cupsd (pid 42)",
        "warning: enabled at boot before the install and not now: dbus",
        f"details: {tmp_path / 'install.log'}",
    ]

