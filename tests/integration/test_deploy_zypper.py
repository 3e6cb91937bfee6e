"""zypper on a lab host: Debian's zypper 1.14 (libzypp) against an rpm-md repository the
test builds (rpmbuild, createrepo_c) in the lab folder, which the host sees at
/run/adminkit-lab-ssh. Every outcome is read back over a separate login with zypper's
own XML, and with rpm on zypp's database (/var/lib/rpm: Debian's rpm keeps another one
per user).

What the lab needs that a SUSE host has: an installed rpm that provides glibc (zypp's
/etc/zypp/systemCheck requires it, and rpmdb2solv fails on an empty rpm database after
the last package is removed): `adminkit-lab-base`, installed first.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from adminkit.lab.ssh import PACKAGE, SshFleet
from tests.integration import test_deploy_reboot
from tests.integration.noted import by_pytest
from tests.integration.test_deploy_ssh import RPM_SPEC, Cli, by_host, report, write_profile
from tests.integration.test_lab_ssh import run

pytestmark = pytest.mark.integration
fleet = test_deploy_reboot.fleet  # the module's own lab hosts (127.0.14.N)
BASE_SPEC = """Name: adminkit-lab-base
Version: 1
Release: 1
Summary: what a SUSE host has installed, for zypp's checks
License: MIT
BuildArch: noarch
AutoReqProv: no
Provides: glibc

%description
adminkit lab: stands for the system's own packages

%files
"""
REPO_FILE = ("[adminkit-lab]\nname=adminkit lab\nbaseurl=file:///run/adminkit-lab-ssh/"
             "rpmrepo\ngpgcheck=0\nenabled=1\nautorefresh=0\n")


@pytest.fixture(scope="module")
def zypper_host(fleet: SshFleet, tmp_path_factory: pytest.TempPathFactory) -> str:
    """h2 as a zypper host: the repository, its .repo file, the base package."""
    if shutil.which("zypper") is None:
        pytest.fail("zypper is not installed on this machine: apt-get install zypper")
    tmp = tmp_path_factory.mktemp("rpm")
    repo = fleet.dir / "rpmrepo"
    shutil.rmtree(repo, ignore_errors=True)
    repo.mkdir()
    specs = {f"{v}.spec": RPM_SPEC.format(name=PACKAGE, version=v) for v in ("1.0", "1.1")}
    specs["base.spec"] = BASE_SPEC
    for name, text in specs.items():
        (tmp / name).write_text(text)
        subprocess.run(["rpmbuild", "-bb", "--define", f"_topdir {tmp / 'top'}",
                        str(tmp / name)], check=True, capture_output=True)
    for rpm in (tmp / "top" / "RPMS" / "noarch").glob("*.rpm"):
        shutil.copy(rpm, repo)
    subprocess.run(["createrepo_c", "-q", str(repo)], check=True, capture_output=True)
    for path in [repo, *repo.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    with closing(fleet.connect(fleet.fleet[1].address)) as client:
        rc, out = run(client, ["sh", "-c", 'mkdir -p /etc/zypp/repos.d && printf %s "$0" > '
                               "/etc/zypp/repos.d/adminkit-lab.repo && zypper -n refresh && "
                               "zypper -n install adminkit-lab-base", REPO_FILE], sudo=True)
        assert rc == 0, out
    return fleet.fleet[1].name


@pytest.fixture(scope="module")
def profile(fleet: SshFleet, zypper_host: str, lab_config_dir: Path, rt: Any) -> str:
    hosts = [{**h, "vars": {"package_manager": "zypper"}} if h["name"] == zypper_host else h
             for h in fleet.profile()["inventory"]["hosts"]]
    return write_profile(lab_config_dir, "lab-deploy-zypper", fleet, hosts=hosts)


def zypp_version(fleet: SshFleet, host: str) -> str | None:
    """The installed edition as rpm reads zypp's database on the host."""
    n = int(host[1:]) - 1
    with closing(fleet.connect(fleet.fleet[n].address)) as client:
        rc, out = run(client, ["rpm", "--dbpath", "/var/lib/rpm", "-q", "--qf",
                               "%{VERSION}-%{RELEASE}", PACKAGE], sudo=True)
    return out.strip() if rc == 0 else None


def test_install_upgrade_downgrade_remove_read_back(fleet: SshFleet, zypper_host: str,
                                                    profile: str, cli: Cli, rt: Any) -> None:
    h = zypper_host
    r = cli("-p", profile, "--check", "-o", "json", "app", "install", f"{PACKAGE}=1.0-1",
            "--hosts", h)
    assert r.returncode == 0, r.stdout + r.stderr
    assert by_host(report(r)) == {h: "changed"} and zypp_version(fleet, h) is None

    ticket = rt.new_ticket("Please install the demo app on the SUSE host")
    r = cli("-p", profile, "--ticket", str(ticket), "-o", "json", "app", "install",
            f"{PACKAGE}=1.0-1", "--hosts", h)
    assert r.returncode == 0, r.stdout + r.stderr
    assert zypp_version(fleet, h) == "1.0-1"
    from tests.integration.rtread import notes
    [note] = notes(rt, ticket)
    assert f"app.install {h} by {by_pytest()} " in note.text and "1.0-1" in note.text

    r = cli("-p", profile, "-o", "json", "app", "outdated", "--hosts", h)
    assert r.returncode == 0, r.stdout + r.stderr
    assert [(x["package"], x["installed"], x["newest"]) for x in json.loads(r.stdout)] == [
        (PACKAGE, "1.0-1", "1.1-1")]
    r = cli("-p", profile, "-o", "json", "app", "upgrade", PACKAGE, "--hosts", h)
    assert r.returncode == 0, r.stdout + r.stderr
    assert zypp_version(fleet, h) == "1.1-1"
    r = cli("-p", profile, "-o", "json", "app", "install", PACKAGE, "--hosts", h)
    assert by_host(report(r)) == {h: "ok"}  # installed: left as it is
    r = cli("-p", profile, "-o", "json", "app", "install", f"{PACKAGE}=1.0-1", "--hosts", h)
    assert r.returncode == 0, r.stdout + r.stderr  # a downgrade, pinned
    assert zypp_version(fleet, h) == "1.0-1"
    r = cli("-p", profile, "-o", "json", "app", "list", "--hosts", h, "--name", "adminkit*")
    assert {(x["package"], x["version"]) for x in json.loads(r.stdout)} == {
        (PACKAGE, "1.0-1"), ("adminkit-lab-base", "1-1")}
    r = cli("-p", profile, "-o", "json", "app", "remove", PACKAGE, "--hosts", h)
    assert r.returncode == 0, r.stdout + r.stderr
    assert zypp_version(fleet, h) is None
    r = cli("-p", profile, "-o", "json", "app", "remove", PACKAGE, "--hosts", h)
    assert by_host(report(r)) == {h: "ok"}  # not installed: nothing to do


def test_bad_editions_and_unknown_names(zypper_host: str, profile: str, cli: Cli) -> None:
    h = zypper_host
    r = cli("-p", profile, "app", "install", f"{PACKAGE}=1.1", "--hosts", h)
    assert r.returncode == 2 and "not an RPM edition for zypper" in r.stdout + r.stderr
    r = cli("-p", profile, "app", "install", f"{PACKAGE}=9.9-1", "--hosts", h)
    assert r.returncode == 2 and "is not offered" in r.stdout + r.stderr
    r = cli("-p", profile, "-o", "json", "app", "install", "no-such-package", "--hosts", h)
    assert r.returncode == 2 and "no package 'no-such-package'" in r.stdout
    for bad in ["foo; reboot", "$(id)", "-oProxy", "a*"]:
        r = cli("-p", profile, "app", "install", bad, "--hosts", h)
        assert r.returncode == 2, (bad, r.stdout + r.stderr)
