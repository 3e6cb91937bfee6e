"""Hostile review of deploy's restart and known_hosts handling (issue 14): a host whose
boot id comes back unreadable, a host re-keyed while it restarts, a known_hosts file
replaced by one of the same size and mtime (a restore with `cp -p` / `rsync -a`)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import paramiko
import pytest

from adminkit.core.errors import ActionFailed
from adminkit.deploy.reboot import HostKeyRefused, wait_for_new_boot
from adminkit.deploy.ssh import _trust
from tests.unit.test_deploy_reboot import answers, wait


def test_a_blank_boot_id_after_the_restart_is_not_a_new_boot() -> None:
    """/proc unreadable after the boot (an empty answer): not proof of a restart."""
    with pytest.raises(ActionFailed, match="did not"):
        wait(answers(None, "", "  \n"), timeout=0.3)


def test_a_host_rekeyed_during_the_restart_fails_at_once_and_is_not_trusted() -> None:
    """The host answers with another host key: refused (exit 3) at once, not retried
    as if it were still down until --timeout."""
    tries: list[float] = []

    def read(left: float) -> str:
        tries.append(left)
        raise HostKeyRefused("host h1 (127.0.1.1): its host key CHANGED")

    started = time.monotonic()
    with pytest.raises(HostKeyRefused, match="CHANGED") as caught:
        wait_for_new_boot("h1", "old", read, timeout=30.0, cancelled=lambda: False,
                          started=started, poll=0.01)
    assert len(tries) == 1
    assert caught.value.exit_code == 3


def _line(address: str) -> str:
    """A known_hosts line with a fresh ed25519 key (every such line has the same size)."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", f"{tmp}/k"],
                       check=True)
        keytype, blob = Path(f"{tmp}/k.pub").read_text().split()[:2]
    return f"{address} {keytype} {blob}\n"


def test_known_hosts_replaced_with_same_size_and_mtime_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    old, new = _line("127.0.1.1"), _line("127.0.1.1")
    assert len(old) == len(new) and old != new
    path.write_text(old)
    stamp = os.stat(path).st_mtime_ns
    first = paramiko.SSHClient()
    _trust(first, str(path), "127.0.1.1", 22)
    # the operator revokes the old key: a restored file, its mtime preserved (cp -p)
    replacement = tmp_path / "restored"
    replacement.write_text(new)
    os.utime(replacement, ns=(stamp, stamp))
    replacement.replace(path)
    assert os.stat(path).st_mtime_ns == stamp and os.stat(path).st_size == len(old)
    second = paramiko.SSHClient()
    _trust(second, str(path), "127.0.1.1", 22)
    trusted = second.get_host_keys().lookup("127.0.1.1")
    assert trusted is not None
    assert [k.get_base64() for k in trusted.values()] == [new.split()[2]]


@pytest.mark.parametrize(("argv", "refused"), [
    (["-ff", "reboot"], True), (["--force", "--force", "poweroff"], True),
    (["-qff", "halt"], True), (["start", "reboot.target"], True), (["kexec"], True),
    (["isolate", "rescue"], True), (["soft-reboot"], True),
    (["status", "ssh"], False), (["--version"], False), (["is-active", "--quiet", "cron"], False),
])
def test_the_lab_systemctl_guard_refuses_power_verbs(tmp_path: Path, argv: list[str],
                                                     refused: bool) -> None:
    """The guard the lab puts over a host's systemctl, with `echo` standing for the real
    one (nothing here can reach the machine's reboot)."""
    import subprocess

    from adminkit.lab.ssh import SYSTEMCTL_GUARD

    guard = tmp_path / "systemctl"
    guard.write_text(SYSTEMCTL_GUARD.replace("/usr/lib/adminkit-lab/systemctl", "echo REAL"))
    r = subprocess.run(["sh", str(guard), *argv], capture_output=True, text=True,
                       check=False)
    if refused:
        assert r.returncode == 1 and "refused" in r.stderr and "REAL" not in r.stdout
    else:
        assert r.returncode == 0 and r.stdout.split() == ["REAL", *argv]


def test_zypper_xml_cut_short_is_an_error_not_nothing_installed() -> None:
    """The output kept of a command is bounded (4 MiB): an answer cut there must not read
    as "no package installed" (app remove --check would say "nothing to remove")."""
    from adminkit.deploy.zypper import Zypper

    whole = ('<?xml version="1.0"?>\n<stream>\n<search-result version="0.0"><solvable-list>'
             '<solvable status="installed" name="demo" kind="package" edition="1.0-1" '
             'repository="(System Packages)"/></solvable-list></search-result>\n</stream>\n')
    assert Zypper().parse_installed(whole) == {"demo": "1.0-1"}
    with pytest.raises(ActionFailed, match="incomplete"):
        Zypper().parse_installed(whole[:120])
    with pytest.raises(ActionFailed, match="incomplete"):
        Zypper().parse_query(whole[:120], ["demo"])


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", 0, -1, 1e9, 1e-300, 0.5])
def test_a_reboot_timeout_from_a_playbook_or_resume_is_bounded_as_on_the_cli(
        value: object) -> None:
    """A playbook step or a resumed run builds the params without click's min=1: a
    timeout of 1e-300 s failed a restart that happened ("did not restart")."""
    from pydantic import ValidationError

    from adminkit.deploy.actions.reboot import RebootParams

    with pytest.raises(ValidationError):
        RebootParams(host="h1", timeout=value)
