"""apt as a PackageManager: Debian's grammar, argument lists, and parsing what hosts say."""

from __future__ import annotations

import pytest

from adminkit.core.errors import ValidationError
from adminkit.deploy.apt import Apt, parse_policy
from adminkit.deploy.backend import PackageSpec, parse_spec

HOSTILE = ["foo; reboot", "$(id)", "`id`", "foo bar", "-oAPT::x=1", "--purge", "foo\nbar",
           "a'b", 'a"b', "foo|sh", "../etc", "foo&", "*"]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_names_are_refused_before_any_host(text: str) -> None:
    with pytest.raises(ValidationError):
        parse_spec(text)


@pytest.mark.parametrize("text", ["curl=$(id)", "curl=1.0;reboot", "curl=", "curl=-1"])
def test_hostile_versions_are_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        parse_spec(text)


def test_debian_grammar_is_stricter_than_the_generic_one() -> None:
    apt = Apt()
    apt.check(PackageSpec("libc6:amd64", "2.36-9+deb12u4"))
    apt.check(PackageSpec("g++", "4:12.2.0-3"))
    for spec in [PackageSpec("Firefox"), PackageSpec("a"), PackageSpec("foo", "v1.0"),
                 PackageSpec("foo_bar")]:
        with pytest.raises(ValidationError):
            apt.check(spec)


def test_names_travel_as_arguments_never_in_the_script() -> None:
    argv = Apt().query(["adminkit-demo-app", "curl"])
    assert argv[:2] == ["sh", "-c"]
    assert "adminkit-demo-app" not in argv[2] and argv[-2:] == ["adminkit-demo-app", "curl"]
    install = Apt().install([PackageSpec("curl", "7.88")])
    assert install[-2:] == ["install", "curl=7.88"] and "--allow-downgrades" in install


POLICY = """\
adminkit-demo-app:
  Installed: 1.0
  Candidate: 1.1
  Version table:
     1.1 500
        500 file:/run/adminkit-lab-ssh/repo ./ Packages
 *** 1.0 500
        500 file:/run/adminkit-lab-ssh/repo ./ Packages
        100 /var/lib/dpkg/status
local-only:
  Installed: 2.0
  Candidate: 2.0
  Version table:
 *** 2.0 100
        100 /var/lib/dpkg/status
"""


def test_policy_and_dpkg_parse_into_states() -> None:
    assert parse_policy(POLICY) == {"adminkit-demo-app": ("1.1", ("1.1", "1.0")),
                                    "local-only": ("2.0", ())}
    text = ("adminkit-demo-app\t1.0\tii \ngone\t3.1\trc \n--adminkit-policy--\n" + POLICY)
    assert not Apt().reboot_required(text)
    assert Apt().reboot_required(text + "--adminkit-reboot-required--\n")
    states = Apt().parse_query(text, ["adminkit-demo-app", "gone", "unknown"])
    assert states["adminkit-demo-app"].installed == "1.0"
    assert states["adminkit-demo-app"].candidate == "1.1"
    assert states["gone"].installed is None and states["gone"].leftovers
    assert states["unknown"].installed is None and states["unknown"].candidate is None


def test_outdated_reads_the_simulation() -> None:
    text = ("Reading package lists...\nInst adminkit-demo-app [1.0] (1.1 localhost [all])\n"
            "Inst libssl3 [3.0.15-1~deb12u1] (3.0.17-1~deb12u2 Debian-Security:12/"
            "stable-security [amd64])\nInst newdep (2.0 Debian:12.9/stable [amd64])\n"
            "Conf adminkit-demo-app (1.1 localhost [all])\n")
    found = Apt().parse_outdated(text)
    assert sorted(found) == ["adminkit-demo-app", "libssl3"]
    assert (found["adminkit-demo-app"].installed, found["adminkit-demo-app"].newest) == (
        "1.0", "1.1")
    assert not found["adminkit-demo-app"].security and found["libssl3"].security
    assert found["libssl3"].origin == "Debian-Security:12/stable-security"


def test_dnf_grammar_argv_and_answers() -> None:
    from adminkit.deploy.dnf import ALL_MARK, LATEST_MARK, Dnf

    dnf = Dnf()
    dnf.check(PackageSpec("NetworkManager", "1:1.42.2-1.el9"))
    for spec in [PackageSpec("-x"), PackageSpec("foo", "1.0"), PackageSpec("foo", "1.0-1;id")]:
        with pytest.raises(ValidationError):
            dnf.check(spec)
    argv = dnf.query(["adminkit-demo-app"])
    assert argv[:2] == ["sh", "-c"] and argv[-1] == "adminkit-demo-app"
    assert "adminkit-demo-app" not in argv[2]
    assert dnf.install([PackageSpec("curl", "1:8.0-2")])[-1] == "curl-8.0-2"
    text = (f"adminkit-demo-app\t1.0-1\n{LATEST_MARK}\nadminkit-demo-app\t1.1-1\n{ALL_MARK}\n"
            "adminkit-demo-app\t1.0-1\nadminkit-demo-app\t1.1-1\n")
    states = dnf.parse_query(text, ["adminkit-demo-app", "nosuch"])
    assert states["adminkit-demo-app"].installed == "1.0-1"
    assert states["adminkit-demo-app"].candidate == "1.1-1"
    assert states["adminkit-demo-app"].available == ("1.0-1", "1.1-1")
    assert states["nosuch"].installed is None and states["nosuch"].candidate is None
    found = dnf.parse_outdated(f"adminkit-demo-app\t1.0-1\n{LATEST_MARK}\n"
                               "adminkit-demo-app\t1.1-1\tadminkit-lab\n")
    assert (found["adminkit-demo-app"].installed, found["adminkit-demo-app"].newest) == (
        "1.0-1", "1.1-1")
