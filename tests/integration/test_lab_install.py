"""`adminkit lab install` on the real machine: it leaves services as it found them.

The lab's own packages are already installed on a test machine (and must stay), so
the install machinery is exercised with a package of the test's own that behaves like
a server package at its worst: its postinst enables a SysV script, a systemd service
and a timer, asks invoke-rc.d to start the service, and starts a daemon directly,
behind policy-rc.d's back. The test purges it afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from adminkit.core.errors import LabError
from adminkit.lab import bootlinks, daemons
from adminkit.lab.install import POLICY_RC, SAVED_SUFFIX, apt_install

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("apt-get")
                       or not shutil.which("dpkg-deb"),
                       reason="installs a Debian package: needs root, apt-get and dpkg-deb"),
]

PROBE = "adminkit-lab-probe"
DAEMON = f"/usr/libexec/{PROBE}/daemon"
STARTED = Path(f"/run/{PROBE}.started")  # what the postinst saw, for the test to check
PIDFILES = (Path(f"/run/{PROBE}.pid"), Path(f"/run/{PROBE}-direct.pid"))

INIT_SCRIPT = f"""#!/bin/sh
### BEGIN INIT INFO
# Provides:          {PROBE}
# Required-Start:    $remote_fs
# Required-Stop:     $remote_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: adminkit lab test service
### END INIT INFO
case "$1" in
  start) start-stop-daemon --start --background --make-pidfile --pidfile {PIDFILES[0]} \\
           --exec {DAEMON} ;;
  stop) start-stop-daemon --stop --pidfile {PIDFILES[0]} --remove-pidfile ;;
esac
exit 0
"""
POSTINST = f"""#!/bin/sh
set -e
if [ "$1" = configure ]; then
  update-rc.d {PROBE} defaults >/dev/null
  deb-systemd-helper enable {PROBE}.service {PROBE}.timer >/dev/null || true
  invoke-rc.d {PROBE} start || true
  start-stop-daemon --start --background --make-pidfile --pidfile {PIDFILES[1]} --exec {DAEMON}
  {{ ls /etc/rc2.d/ /etc/systemd/system/timers.target.wants/ | grep {PROBE}
     cat {PIDFILES[1]}; }} > {STARTED}
fi
"""
POSTRM = f"""#!/bin/sh
set -e
if [ "$1" = purge ]; then
  update-rc.d {PROBE} remove >/dev/null
  deb-systemd-helper purge {PROBE}.service {PROBE}.timer >/dev/null || true
fi
"""
FILES = {
    f"etc/init.d/{PROBE}": INIT_SCRIPT,
    DAEMON.lstrip("/"): "#!/bin/sh\n# a daemon: runs until stopped\nwhile :; do sleep 3600; done\n",
    f"lib/systemd/system/{PROBE}.service":
        f"[Unit]\nDescription=adminkit lab test\n[Service]\nExecStart={DAEMON}\n"
        "[Install]\nWantedBy=multi-user.target\n",
    f"lib/systemd/system/{PROBE}.timer":
        f"[Timer]\nOnCalendar=daily\nUnit={PROBE}.service\n[Install]\nWantedBy=timers.target\n",
    "DEBIAN/control": f"Package: {PROBE}\nVersion: 1.0\nArchitecture: all\n"
                      "Maintainer: adminkit lab <lab@example.invalid>\n"
                      "Description: adminkit test package that enables and starts itself\n",
    "DEBIAN/postinst": POSTINST,
    "DEBIAN/postrm": POSTRM,
}
EXECUTABLE = ("DEBIAN/postinst", "DEBIAN/postrm", f"etc/init.d/{PROBE}", DAEMON.lstrip("/"))


@pytest.fixture(scope="module")
def probe_deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("probe") / PROBE
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o755 if rel in EXECUTABLE else 0o644)
    deb = root.parent / f"{PROBE}_1.0_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(deb)],
                   check=True, capture_output=True)
    return deb


def _probe_daemons() -> list[daemons.ProcInfo]:
    return [p for p in daemons.scan() if DAEMON in p.cmdline]


def _policy_rc() -> tuple[bytes, int] | None:
    try:
        return POLICY_RC.read_bytes(), POLICY_RC.stat().st_mode
    except FileNotFoundError:
        return None


@pytest.fixture
def machine() -> Iterator[frozenset[bootlinks.BootLink]]:
    """The boot links before; afterwards the probe is purged and nothing of it is left."""
    assert _probe_daemons() == [], "a probe daemon from an earlier run is still running"
    before = bootlinks.snapshot()
    policy = _policy_rc()
    yield before
    subprocess.run(["apt-get", "-q", "-o", "DPkg::Lock::Timeout=900", "purge", "-y", PROBE],
                   capture_output=True, check=False,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    leftovers = _probe_daemons()
    daemons.stop(leftovers)  # a failed test must not leave one running
    for path in (STARTED, *PIDFILES):
        path.unlink(missing_ok=True)
    assert leftovers == []
    assert bootlinks.snapshot() == before
    assert sorted(Path("/etc").glob(f"rc?.d/*{PROBE}")) == []
    assert _policy_rc() == policy


def test_install_leaves_boot_services_and_daemons_as_it_found_them(
        machine: frozenset[bootlinks.BootLink], probe_deb: Path, tmp_path: Path) -> None:
    policy = _policy_rc()
    log = tmp_path / "install.log"

    report = apt_install([str(probe_deb)], log, update=False)

    # The package did its worst: links made and a daemon started, during the install.
    seen = STARTED.read_text().split()
    assert f"S01{PROBE}" in seen
    assert f"{PROBE}.timer" in seen
    direct_pid = int(seen[-1])
    # ...and none of it is left.
    assert bootlinks.snapshot() == machine
    assert _probe_daemons() == []
    assert not Path(f"/proc/{direct_pid}").exists() or DAEMON not in Path(
        f"/proc/{direct_pid}/cmdline").read_bytes().decode(errors="replace")
    assert _policy_rc() == policy
    assert not POLICY_RC.with_name(POLICY_RC.name + SAVED_SUFFIX).exists()
    # invoke-rc.d was refused by the lab's policy-rc.d: no pidfile from the init script
    assert not PIDFILES[0].exists()
    # What the user is told, and what the log holds.
    assert report.packages.installed == (PROBE,)
    assert sorted(report.disabled) == sorted(
        [PROBE, f"{PROBE}.service", f"{PROBE}.timer"])
    assert sorted(s.split()[0] for s in report.stopped) == ["dash", "sleep"]  # sh + its sleep
    assert report.still_enabled == () and report.lost == ()
    lines = report.lines()
    assert lines[0] == f"installed 1 package: {PROBE}"
    assert lines[-1] == f"details: {log}"
    text = log.read_text()
    assert f"Setting up {PROBE} (1.0)" in text
    assert f"update-rc.d {PROBE} disable" in text


def test_a_failed_install_says_why_in_one_line_and_puts_policy_rc_back(tmp_path: Path) -> None:
    policy = _policy_rc()
    log = tmp_path / "install.log"
    with pytest.raises(LabError) as failed:
        apt_install(["adminkit-lab-no-such-package"], log, update=False)
    assert failed.value.message == ("apt-get install failed (exit 100): "
                                    "E: Unable to locate package adminkit-lab-no-such-package")
    assert failed.value.hint == f"apt's output is in {log}"
    assert "Unable to locate package" in log.read_text()
    assert _policy_rc() == policy


def test_lab_install_with_everything_present_changes_nothing(tmp_path: Path) -> None:
    """The real command, as `./dev test` runs it, on a machine that has the lab."""
    before = bootlinks.snapshot()
    policy = _policy_rc()
    env = {**os.environ, "ADMINKIT_LAB_DIR": str(tmp_path / "lab"),
           "ADMINKIT_CONFIG": str(tmp_path / "config")}
    done = subprocess.run([sys.executable, "-m", "adminkit.cli.main", "lab", "install"],
                          capture_output=True, text=True, env=env, timeout=600, check=False)
    assert (done.returncode, done.stdout) == (0, "nothing to install\n"), done.stderr
    assert bootlinks.snapshot() == before
    assert _policy_rc() == policy
