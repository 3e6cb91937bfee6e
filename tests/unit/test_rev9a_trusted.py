"""Review of the approver map's trusted-file check (automation/trusted.py), as a local
user who wants to approve their own request: each test is a path the kernel opens to a
file that user controls, or a file that user could swap, while the check judged another.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from adminkit.automation.trusted import check_map_file
from adminkit.core.errors import PolicyRefused
from tests.unit.test_approve_console import rig  # noqa: F401 - the fixture, shared

NOBODY = 65534  # a uid that is not the test's
MAP = {"alice": "snow:1"}
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")


def _profile(owner: str | None, console: dict[str, str] = MAP) -> str:
    import yaml

    return yaml.safe_dump({"name": "p", "automation": {
        "console_approvers": console, "console_approvers_owner": owner}})


def _good(tmp_path: Path, owner: str | None = None) -> Path:
    """A profile only its owner (root, or the test's user as the map's owner) can write."""
    good = tmp_path / "good"
    good.mkdir(mode=0o755)
    tmp_path.chmod(0o755)
    (good / "p.yaml").write_text(_profile(owner))
    (good / "p.yaml").chmod(0o644)
    return good / "p.yaml"


def _me() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def test_dot_dot_after_a_link_is_resolved_as_the_kernel_does(tmp_path: Path) -> None:
    """`l/../good/p.yaml` with l -> theirs/x/y opens theirs/x/good/p.yaml; reading the
    path as text (l/.. gone) judged good/p.yaml instead."""
    _good(tmp_path, _me())
    theirs = tmp_path / "theirs"
    (theirs / "x" / "y").mkdir(parents=True)
    (theirs / "x" / "good").mkdir()
    (theirs / "x" / "good" / "p.yaml").write_text("fake\n")
    for folder in (theirs, theirs / "x"):
        folder.chmod(0o777)  # anyone's
    (tmp_path / "l").symlink_to(theirs / "x" / "y")
    tricky = f"{tmp_path}/l/../good/p.yaml"
    assert Path(tricky).read_text() == "fake\n"  # what the profile loader reads
    with pytest.raises(PolicyRefused, match="writable by group or others"):
        check_map_file(tricky, _me(), MAP)


def test_dot_dot_in_a_relative_path_from_a_linked_folder(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    _good(tmp_path, _me())
    theirs = tmp_path / "theirs"
    (theirs / "y").mkdir(parents=True)
    (theirs / "good").mkdir()
    (theirs / "good" / "p.yaml").write_text("fake\n")
    theirs.chmod(0o777)
    (tmp_path / "l").symlink_to(theirs / "y")
    monkeypatch.chdir(tmp_path)
    assert Path("l/../good/p.yaml").read_text() == "fake\n"
    with pytest.raises(PolicyRefused, match="writable by group or others"):
        check_map_file("l/../good/p.yaml", _me(), MAP)


def test_a_plain_trusted_path_still_passes(tmp_path: Path) -> None:
    good = _good(tmp_path, _me())
    check_map_file(good, _me(), MAP)
    (tmp_path / "l").symlink_to(good.parent)
    check_map_file(f"{tmp_path}/l/../good/p.yaml", _me(), MAP)  # l/.. is tmp_path itself


@root_only
def test_a_link_someone_else_owns_in_a_sticky_folder_is_refused(tmp_path: Path) -> None:
    """In /tmp the link's owner may replace it at will: between the profile's read (the
    link led to their copy) and this check (it leads to the real one)."""
    good = _good(tmp_path)
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)
    link = sticky / "p.yaml"
    link.symlink_to(good)
    os.lchown(link, NOBODY, -1)
    with pytest.raises(PolicyRefused, match=rf"{link}: a link owned by nobody \(uid {NOBODY}\)"):
        check_map_file(link, None, MAP)
    os.lchown(link, 0, -1)  # root's own link in the same folder is fine
    check_map_file(link, None, MAP)


@root_only
def test_a_second_name_for_the_map_is_refused(tmp_path: Path) -> None:
    """A hard link elsewhere keeps the old map alive after the profile is replaced (an
    approver removed from it still approves through the other name)."""
    good = _good(tmp_path)
    os.link(good, tmp_path / "kept.yaml")
    with pytest.raises(PolicyRefused, match="2 names"):
        check_map_file(good, None, MAP)


@root_only
def test_root_in_a_user_namespace_is_not_root() -> None:
    """`unshare -r` makes any user uid 0 in a namespace of their own: their files look
    root's, and SUDO_USER (theirs to set) would name the login."""
    import shutil
    import tempfile

    python = "/usr/bin/python3"  # one that uid NOBODY may run (the venv's may be private)
    if not all(map(shutil.which, ("unshare", "setpriv", python))):
        pytest.skip("needs util-linux's unshare and setpriv, and /usr/bin/python3")
    nobody = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
              "unshare", "-r"]
    probe = subprocess.run([*nobody, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"no user namespaces here: {probe.stderr.strip()}")
    top = Path(tempfile.mkdtemp(prefix="rev9a-"))  # /tmp: a folder NOBODY can reach
    try:
        top.chmod(0o755)
        theirs = top / "theirs"
        theirs.mkdir()
        (theirs / "p.yaml").write_text("fake\n")
        for p in (theirs, theirs / "p.yaml"):
            os.chown(p, NOBODY, NOBODY)
        src = top / "src"
        shutil.copytree(Path(__file__).resolve().parents[2] / "src" / "adminkit" ,
                        src / "adminkit")  # stdlib-only modules below: no venv needed
        out = subprocess.run([*nobody, python, "-c", _PROBE, str(theirs / "p.yaml")],
                             capture_output=True, text=True, cwd="/",
                             env={"PATH": os.environ["PATH"], "PYTHONPATH": str(src),
                                  "SUDO_USER": "boss", "HOME": "/"})
    finally:
        shutil.rmtree(top)
    assert "file refused" in out.stdout and "login refused" in out.stdout, \
        (out.stdout, out.stderr)
    assert "user namespace" in out.stdout


_PROBE = """
import sys
from adminkit.automation.trusted import check_map_file
from adminkit.automation.console import console_login
from adminkit.core.errors import PolicyRefused
try:
    check_map_file(sys.argv[1], None, {"boss": "snow:1"})
    print("file trusted")
except PolicyRefused as exc:
    print("file refused:", exc)
try:
    print("login", console_login())
except PolicyRefused as exc:
    print("login refused:", exc)
"""


def test_the_map_checked_is_the_map_loaded(tmp_path: Path) -> None:
    """The profile is read, then (later) its file judged by path: the file judged must
    hold the map the command runs with, or another file was read than judged."""
    good = _good(tmp_path)
    check_map_file(good, None, MAP)
    with pytest.raises(PolicyRefused, match="not the one the profile was read with"):
        check_map_file(good, None, {"alice": "snow:2"})  # what a swapped file had said
    with pytest.raises(PolicyRefused, match="not the one the profile was read with"):
        check_map_file(good, "nobody", MAP)
    good.write_text("name: p\n")  # no map in it now
    with pytest.raises(PolicyRefused, match="not the one the profile was read with"):
        check_map_file(good, None, MAP)


def test_approve_through_a_dot_dot_config_path_is_refused(
        rig: Any, cli: Any, tmp_path: Path,  # noqa: F811 - the fixture
        monkeypatch: pytest.MonkeyPatch) -> None:
    """End to end: ADMINKIT_CONFIG=.../l/../config opens the copy below the link's
    target, one that maps this login to the boss; the real profile maps someone else."""
    import shutil

    import yaml

    from adminkit.automation.console import console_login

    rig.profile({"someone-else": f"snow:{rig.boss}"})
    run_id = rig.wait()
    theirs = tmp_path / "theirs"
    (theirs / "x" / "y").mkdir(parents=True)
    shutil.copytree(rig.env.config, theirs / "x" / "config")
    copy = theirs / "x" / "config" / "profiles" / "acme.yaml"
    data = yaml.safe_load(copy.read_text())
    data["automation"]["console_approvers"] = {console_login(): f"snow:{rig.boss}"}
    copy.write_text(yaml.safe_dump(data))
    for folder in (theirs, theirs / "x"):
        folder.chmod(0o777)
    (tmp_path / "l").symlink_to(theirs / "x" / "y")
    monkeypatch.setenv("ADMINKIT_CONFIG", f"{tmp_path}/l/../config")
    r = cli("-p", "acme", "approve", run_id)
    assert r.code == 4, (r.code, r.out, r.err)
    assert f"{theirs}: the folder is writable by group or others" in r.err
    assert not any("approved by" in b for b in rig.said())


@pytest.mark.parametrize("target", ["file", "folder"])
def test_an_acl_that_grants_another_user_write_is_refused(tmp_path: Path,
                                                          target: str) -> None:
    """With an ACL the mode's group bits are its mask: a named user's write shows there,
    and a mask without write leaves that user none (both as the kernel decides)."""
    import shutil

    if shutil.which("setfacl") is None:
        pytest.skip("setfacl (the acl package) is not installed")
    good = _good(tmp_path)
    place = good if target == "file" else good.parent
    subprocess.run(["setfacl", "-m", f"u:{NOBODY}:rwx", str(place)], check=True)
    with pytest.raises(PolicyRefused, match=f"{place}: the {target} is writable by group"):
        check_map_file(good, None, MAP)
    subprocess.run(["setfacl", "-m", "m::rx", str(place)], check=True)  # write masked
    check_map_file(good, None, MAP)


def test_the_maps_owner_may_not_be_a_mapped_login_under_another_name(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # two names of one uid (an alias line in /etc/passwd): the owner is the mapped login
    import pwd

    real = pwd.getpwnam
    monkeypatch.setattr(pwd, "getpwnam",
                        lambda name: real(_me()) if name == "alias-of-me" else real(name))
    mapped = {_me(): "snow:1"}
    good = _good(tmp_path, owner="alias-of-me")
    with pytest.raises(PolicyRefused, match="alias-of-me is also a login the map names"):
        check_map_file(good, "alias-of-me", mapped)
