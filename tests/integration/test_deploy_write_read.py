"""A package write and its read-back are one exec on the host (deploy/ssh.py): on a fleet
of this module's own, the read-back still tells what the host has (dpkg-query over a
separate login agrees), and a write that fails on one host fails that host alone, with
the manager's own words, and reads nothing back as done."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest
import yaml

from adminkit.lab.ssh import PACKAGE, SshFleet
from tests.integration.ownfleet import fleet_fixture
from tests.integration.test_deploy_ssh import Cli, by_host, report
from tests.integration.test_lab_ssh import installed, run

pytestmark = pytest.mark.integration
SUBNET = "127.0.62"  # no lab server, test or bench uses it
BROKEN = "/usr/local/sbin/apt-get"  # before /usr/bin in sudo's secure_path

fleet = fleet_fixture("writeread-lab", hosts=2, subnet=SUBNET)


@pytest.fixture(scope="module")
def profile(fleet: SshFleet, lab_config_dir: Path) -> str:
    (lab_config_dir / "profiles").mkdir(exist_ok=True)
    data = {"name": "lab-writeread", "inventory": fleet.profile()["inventory"]}
    (lab_config_dir / "profiles" / "lab-writeread.yaml").write_text(yaml.safe_dump(data))
    return "lab-writeread"


def on_host(fleet: SshFleet, index: int, argv: list[str]) -> None:
    with closing(fleet.connect(fleet.fleet[index].address)) as client:
        rc, out = run(client, argv, sudo=True)
    assert rc == 0, out


def test_install_upgrade_remove_read_back_in_the_same_exec(fleet: SshFleet, profile: str,
                                                           cli: Cli) -> None:
    r = cli("-p", profile, "-o", "json", "app", "install", f"{PACKAGE}=1.0", "--hosts", "all")
    assert r.returncode == 0, r.stderr
    data = report(r)
    assert by_host(data) == {"h1": "changed", "h2": "changed"}
    assert {c["after"] for res in data["results"] for c in res["changes"]} == {"1.0"}
    assert [installed(fleet, h.address) for h in fleet.fleet] == ["1.0", "1.0"]

    r = cli("-p", profile, "-o", "json", "app", "upgrade", PACKAGE, "--hosts", "h1")
    assert r.returncode == 0, r.stderr
    assert report(r)["results"][0]["changes"][0]["after"] == "1.1"
    assert [installed(fleet, h.address) for h in fleet.fleet] == ["1.1", "1.0"]

    r = cli("-p", profile, "-o", "json", "app", "remove", PACKAGE, "--purge", "--hosts", "all",
            "--force")
    assert r.returncode == 0, r.stderr
    assert by_host(report(r)) == {"h1": "changed", "h2": "changed"}
    assert [installed(fleet, h.address) for h in fleet.fleet] == [None, None]


def test_a_write_that_fails_on_one_host_fails_it_alone(fleet: SshFleet, profile: str,
                                                       cli: Cli) -> None:
    on_host(fleet, 1, ["sh", "-c", f"printf '#!/bin/sh\\necho \"E: lab: broken apt\" >&2\\n"
                                   f"exit 100\\n' > {BROKEN} && chmod 755 {BROKEN}"])
    try:
        r = cli("-p", profile, "-o", "json", "app", "install", f"{PACKAGE}=1.0", "--hosts",
                "all")
    finally:
        on_host(fleet, 1, ["rm", "-f", BROKEN])
    assert r.returncode == 1, r.stderr
    data = report(r)
    assert by_host(data) == {"h1": "changed", "h2": "failed"}
    failed = next(res for res in data["results"] if res["target"] == "h2")
    assert "exited 100" in failed["error"] and "E: lab: broken apt" in failed["error"]
    assert [installed(fleet, h.address) for h in fleet.fleet] == ["1.0", None]



PRECONFIGURE = "/usr/sbin/dpkg-preconfigure"
RAN = "/root/adminkit-lab-preconfigure-ran"
SPY = f"""#!/bin/sh
touch {RAN}
exec {PRECONFIGURE}.real "$@"
"""


def ran(fleet: SshFleet, index: int, path: str) -> bool:
    with closing(fleet.connect(fleet.fleet[index].address)) as client:
        rc, _ = run(client, ["test", "-e", path], sudo=True)
    return rc == 0


def test_debconf_preconfigures_only_where_the_host_has_other_hooks(
        fleet: SshFleet, profile: str, cli: Cli) -> None:
    r = cli("-p", profile, "app", "remove", PACKAGE, "--purge", "--hosts", "all", "--force")
    assert r.returncode == 0, r.stderr
    hook = "/root/adminkit-lab-hook-ran"
    conf = "/etc/apt/apt.conf.d/99adminkit-lab-hook"
    for index in (0, 1):  # each host's own /usr: a spy in front of debconf's hook
        on_host(fleet, index, ["sh", "-c", f'mv {PRECONFIGURE} {PRECONFIGURE}.real && '
                               f'printf "%s" "$0" > {PRECONFIGURE} && chmod 755 {PRECONFIGURE}',
                               SPY])
    on_host(fleet, 1, ["sh", "-c", f"echo 'DPkg::Pre-Install-Pkgs {{\"touch {hook}\";}};' "
                                   f"> {conf}"])
    try:
        r = cli("-p", profile, "-o", "json", "app", "install", f"{PACKAGE}=1.0", "--hosts",
                "all")
        assert r.returncode == 0, r.stderr
        assert not ran(fleet, 0, RAN)  # the stock list alone: left out
        assert ran(fleet, 1, hook) and ran(fleet, 1, RAN)  # another hook: the list whole
    finally:
        on_host(fleet, 1, ["rm", "-f", hook, conf])
        for index in (0, 1):
            on_host(fleet, index, ["sh", "-c", f"mv {PRECONFIGURE}.real {PRECONFIGURE}; "
                                   f"rm -f {RAN}"])
    assert by_host(report(r)) == {"h1": "changed", "h2": "changed"}
    assert [installed(fleet, h.address) for h in fleet.fleet] == ["1.0", "1.0"]
