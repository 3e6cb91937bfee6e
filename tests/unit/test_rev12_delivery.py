"""Second review of issue 12, password delivery: what `--deliver file:PATH` still put in
the place of something that is not a file, and folders another user could swap."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from adminkit.core.delivery import delivery
from adminkit.core.errors import UsageError
from adminkit.core.secrets import Secret

PASSWORD = "Rev12-Deliver-Pw!"


@pytest.fixture
def box(tmp_path: Path) -> Path:
    folder = tmp_path / "box"
    folder.mkdir(mode=0o700)
    return folder


def _device(box: Path) -> Path:
    if os.geteuid() != 0:
        pytest.skip("making a device node needs root")  # the lab runs as root
    path = box / "null"
    os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    return path


def _fifo(box: Path) -> Path:
    path = box / "pipe"
    os.mkfifo(path)
    return path


def _link_to_a_device(box: Path) -> Path:
    path = box / "stdout"
    path.symlink_to("/dev/null")
    return path


def _link_to_a_file(box: Path) -> Path:
    """What `/dev/stdout` is when the output goes to a log file."""
    (box / "log").write_text("the run's log\n")
    path = box / "stdout"
    path.symlink_to(box / "log")
    return path


@pytest.mark.parametrize("make", [_device, _fifo, _link_to_a_device, _link_to_a_file])
def test_a_target_that_is_not_a_file_is_refused_in_the_plan(box: Path, make) -> None:
    """`--deliver file:/dev/null` (or /dev/stdout) as root renamed a password file over
    the device node: the check passed, the write replaced it. Now refused while
    planning, and what was there is left as it was."""
    path = make(box)
    before = os.lstat(path)
    deliver = delivery(f"file:{path}")
    with pytest.raises(UsageError, match="cannot deliver to"):
        deliver.check("jdoe")
    with pytest.raises(UsageError):
        deliver("jdoe", Secret(PASSWORD))
    after = os.lstat(path)
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)
    assert not [p for p in box.iterdir() if PASSWORD in _text(p)]


def _text(path: Path) -> str:
    return path.read_text() if path.is_file() and not path.is_symlink() else ""


def test_an_existing_file_is_still_replaced(box: Path) -> None:
    path = box / "jdoe.txt"
    path.write_text("old\n")
    delivery(f"file:{path}")("jdoe", Secret(PASSWORD))
    assert path.read_text() == PASSWORD + "\n"
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("mode", [0o777, 0o775, 0o757])
def test_a_folder_below_one_others_can_change_is_refused(tmp_path: Path, mode: int) -> None:
    """Only the folder itself was checked: below a folder others may write to (not
    sticky), anyone could rename the private folder away between the plan and the write
    and put their own (or a link to it) in its place, and receive the password."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(mode)
    private = shared / "pw"
    private.mkdir(mode=0o700)
    for spec in (f"file:{private}", f"file:{private}/jdoe.txt"):
        with pytest.raises(UsageError, match="may be changed by others"):
            delivery(spec).check("jdoe")
    assert list(private.iterdir()) == []


def test_a_private_folder_reached_through_a_link_in_a_shared_folder_is_refused(
        tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    (shared / "link").symlink_to(private)
    with pytest.raises(UsageError, match="may be changed by others"):
        delivery(f"file:{shared / 'link'}").check("jdoe")


def test_a_private_folder_below_a_sticky_shared_one_is_accepted(tmp_path: Path) -> None:
    """/tmp: others may write there, but not rename what is not theirs."""
    shared = tmp_path / "sticky"
    shared.mkdir()
    shared.chmod(0o1777)
    private = shared / "pw"
    private.mkdir(mode=0o700)
    deliver = delivery(f"file:{private}")
    deliver.check("jdoe")
    deliver("jdoe", Secret(PASSWORD))
    assert (private / "jdoe.password").read_text() == PASSWORD + "\n"


# -- a file that cannot be written: the password was not set, and the message says so -----
_FULL = """
import resource, signal, sys
from pathlib import Path
from adminkit.core.delivery import delivery
from adminkit.core.errors import AdminkitError
from adminkit.core.secrets import Secret
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4, 4))  # a write past 4 bytes fails: EFBIG
deliver = delivery("file:" + sys.argv[1])
try:
    deliver("jdoe", Secret("Rev12-Deliver-Pw!"))
except AdminkitError as exc:
    print("one:", exc.exit_code, exc.message)
else:
    print("one: delivered")
for how in deliver.many([("anna", Secret("Rev12-Deliver-Pw2")),
                         ("bob", Secret("Rev12-Deliver-Pw3"))]):
    print("many:", getattr(how, "exit_code", None), getattr(how, "message", how))
"""


def test_a_file_that_cannot_be_written_says_the_password_was_not_set(box: Path) -> None:
    """A full disk (here the file-size limit: the same failed write) gave the bare
    `[Errno 28] No space left on device`: nothing said where, or that the account
    kept its old password."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", _FULL, str(box)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 3, proc.stdout
    for line in lines:
        assert " 1 " in line, line  # exit code 1: failed
        assert f"could not be written to {box}/" in line, line
        assert "it was not set" in line, line
    assert not list(box.iterdir()), list(box.iterdir())  # no half-written file left


@pytest.mark.parametrize("spec", [
    pytest.param("file:~rev12-no-such-user/pw", id="unknown-home"),
    pytest.param("file:" + "a" * 300, id="name-too-long"),
    pytest.param("file:/tmp/" + "b" * 300 + "/x", id="folder-name-too-long"),
])
def test_an_odd_delivery_path_is_a_usage_error(env, cli, spec: str) -> None:
    """`--deliver 'file:~nosuchuser/x'` or a name past NAME_MAX ended in `internal error:
    RuntimeError` / `OSError: File name too long` (exit 1)."""
    (env.profiles / "p.yaml").write_text("description: p\n")
    res = cli("-p", "p", "account", "password", "jdoe", "--deliver", spec)
    assert res.code == 2, res.err
    assert res.err.startswith("error: --deliver"), res.err
    assert "internal error" not in res.err


def test_a_nul_in_a_delivery_path_from_a_playbook_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="NUL"):
        delivery("file:/tmp/pw\0x")
