"""A lab SSH host's dpkg writes its unpacked files as a real server's does (fsync each one):
the build machine's Docker setting `force-unsafe-io` is dropped in the host's own /etc, never
in the machine's. Without it the install bench would time a cheaper dpkg than a server runs.
On a fleet of this module's own (127.0.53.N, started and stopped here by PID)."""

from __future__ import annotations

import re
import subprocess
from contextlib import closing
from pathlib import Path

import pytest

from adminkit.lab.ssh import PACKAGE, VERSIONS, VIEW, SshFleet
from tests.integration.ownfleet import fleet_fixture
from tests.integration.test_lab_ssh import run

pytestmark = pytest.mark.integration
SUBNET = "127.0.53"  # no lab server, test or bench uses it
UNSAFE = re.compile(r"^\s*force-unsafe-io", re.MULTILINE)

fleet = fleet_fixture("dpkg-fsync-lab", hosts=1, subnet=SUBNET)


def _machine_unsafe() -> list[Path]:
    """The machine's own dpkg config files that say force-unsafe-io."""
    files = [Path("/etc/dpkg/dpkg.cfg"), *Path("/etc/dpkg/dpkg.cfg.d").glob("*")]
    return [f for f in files if f.is_file() and UNSAFE.search(f.read_text(errors="replace"))]


def test_the_hosts_dpkg_config_has_no_unsafe_io_and_the_machines_is_untouched(
        fleet: SshFleet) -> None:
    before = {f: f.read_bytes() for f in _machine_unsafe()}
    with closing(fleet.connect(fleet.fleet[0].address)) as client:
        rc, out = run(client, ["grep", "-rs", "force-unsafe-io", "/etc/dpkg"])
    assert rc == 1, out  # grep: no line found (2 would be an error)
    assert {f: f.read_bytes() for f in _machine_unsafe()} == before


def test_dpkg_in_a_host_fsyncs_the_files_it_unpacks(fleet: SshFleet) -> None:
    """Read from the system calls dpkg makes: the package's program is fsynced under its
    `.dpkg-new` name before the rename, which force-unsafe-io would skip."""
    deb = f"{VIEW}/repo/{PACKAGE}_{VERSIONS[0]}_all.deb"
    with closing(fleet.connect(fleet.fleet[0].address)) as client:
        rc, out = run(client, ["strace", "-f", "-y", "-e", "trace=fsync,fdatasync", "-o",
                               "/tmp/dpkg.trace", "dpkg", "-i", deb], sudo=True)
        assert rc == 0, out
        rc, trace = run(client, ["cat", "/tmp/dpkg.trace"], sudo=True)
        assert rc == 0, trace
        run(client, ["dpkg", "--purge", PACKAGE], sudo=True)
    assert re.search(rf"fsync\(\d+</usr/bin/{PACKAGE}\.dpkg-new>\) += 0", trace), trace


def test_dpkg_with_unsafe_io_skips_that_fsync(fleet: SshFleet, tmp_path: Path) -> None:
    """The control: dpkg with force-unsafe-io (what the machine's config says) makes no
    such call, so the test above tells the two apart. Into a scratch root, never /."""
    root = tmp_path / "root"
    admin = root / "var/lib/dpkg"
    for d in (admin / "info", admin / "updates", admin / "triggers", root / "usr/bin"):
        d.mkdir(parents=True)
    (admin / "status").write_text("")
    trace = tmp_path / "trace"
    result = subprocess.run(
        ["strace", "-f", "-y", "-e", "trace=fsync,fdatasync", "-o", str(trace),
         "dpkg", "--force-unsafe-io", "--force-script-chrootless", f"--root={root}",
         f"--admindir={admin}", "-i", str(fleet.repo / f"{PACKAGE}_{VERSIONS[0]}_all.deb")],
        capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (root / "usr/bin" / PACKAGE).exists()
    text = trace.read_text()
    assert re.search(r"fsync\(", text), text  # dpkg's own database is still synced
    assert not re.search(rf"fsync\(\d+<[^>]*/usr/bin/{PACKAGE}\.dpkg-new>\)", text), text
