"""zypper's argument lists and its XML answers (deploy/zypper.py), as zypper 1.14 prints
them; the commands themselves run on a lab host in tests/integration/test_deploy_zypper.py."""

from __future__ import annotations

import pytest

from adminkit.core.errors import ValidationError
from adminkit.deploy.backend import PackageSpec
from adminkit.deploy.zypper import REBOOT_MARK, Zypper

SEARCH = """<?xml version='1.0'?>
<stream>
<message type="info">Loading repository data...</message>
<search-result version="0.0">
<solvable-list>
<solvable status="other-version" name="demo" kind="package" edition="1.1-1" repository="lab"/>
<solvable status="installed" name="demo" kind="package" edition="1.0-1" repository="lab"/>
<solvable status="installed" name="local" edition="2-1" repository="(System Packages)"/>
</solvable-list>
</search-result>
</stream>
"""
UPDATES = """<?xml version='1.0'?>
<stream>
<update-status version="0.6">
<update-list>
<update kind="package" name="demo" edition="1.1-1" arch="noarch" edition-old="1.0-1">
<summary>x</summary><source url="file:/repo" alias="lab"/></update>
</update-list>
</update-status>
</stream>
"""


def test_states_installed_candidate_offered_and_the_reboot_flag() -> None:
    z = Zypper()
    states = z.parse_query(SEARCH + REBOOT_MARK + "\n", ["demo", "local", "nothing"])
    assert (states["demo"].installed, states["demo"].candidate) == ("1.0-1", "1.1-1")
    assert states["demo"].available == ("1.1-1", "1.0-1")
    assert (states["local"].installed, states["local"].candidate) == ("2-1", None)
    assert states["nothing"].installed is None and states["nothing"].available == ()
    assert z.reboot_required(SEARCH + REBOOT_MARK + "\n") and not z.reboot_required(SEARCH)
    assert z.parse_installed(SEARCH) == {"demo": "1.0-1", "local": "2-1"}
    assert z.parse_query("zypper: no such command\n", ["demo"])["demo"].installed is None


def test_updates() -> None:
    [(name, update)] = Zypper().parse_outdated(UPDATES).items()
    assert (name, update.installed, update.newest, update.origin) == ("demo", "1.0-1", "1.1-1",
                                                                      "lab")


def test_names_only_as_arguments_after_the_options() -> None:
    z = Zypper()
    argv = z.install([PackageSpec("demo", "1.0-1"), PackageSpec("tool")])
    assert argv[:2] == ["sh", "-c"] and "$@" in argv[2]
    assert argv[3:] == ["sh", "--non-interactive", "--no-color", "install", "--oldpackage",
                        "--no-recommends", "--", "demo=1.0-1", "tool"]
    assert z.remove(["demo"], purge=True)[-2:] == ["--", "demo"]
    assert z.query(["demo"])[3:] == ["sh", "demo"]
    for bad in (PackageSpec("-oProxy"), PackageSpec("a b"), PackageSpec("x*"),
                PackageSpec("demo", "1.0"), PackageSpec("demo", "1.0-1;id")):
        with pytest.raises(ValidationError):
            z.check(bad)
