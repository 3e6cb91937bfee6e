"""`core/files.write_private` stages a secret in a file with no name (O_TMPFILE) where
the kernel allows it: a process killed after writing the data and before the file gets
its name leaves nothing in the folder (no sweep runs outside delivery folders). Where
O_TMPFILE is refused, a temporary name as before."""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from adminkit.core import files
from tests.unit.test_write_private_new import refuse_tmpfile

# the child: every fsync (the staged file's is the first, after the data is written and
# before any link or rename) kills it
KILLED_AT_FSYNC = """
import os, signal, sys
from pathlib import Path
from adminkit.core import files
os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)
files.write_private(Path(sys.argv[1]), b"s3cret-Value\\n", replace=sys.argv[2] == "replace")
"""


def tmpfile_taken(folder: Path) -> None:
    """Skip where `folder`'s filesystem refuses O_TMPFILE (overlayfs before Linux 6.6):
    there the temporary name is all there is."""
    try:
        os.close(os.open(folder, os.O_TMPFILE | os.O_WRONLY, 0o600))
    except OSError as exc:
        if exc.errno not in files.NO_TMPFILE:
            raise
        pytest.skip(f"{folder}: O_TMPFILE refused ({exc.strerror})")


@pytest.mark.parametrize("replace", ["replace", "new"])
def test_killed_after_writing_before_linking_leaves_no_file(tmp_path: Path,
                                                             replace: str) -> None:
    folder = tmp_path / "secrets"
    folder.mkdir(mode=0o700)
    tmpfile_taken(folder)
    child = subprocess.run([sys.executable, "-c", KILLED_AT_FSYNC, str(folder / "bind"),
                            replace], capture_output=True, text=True, check=False)
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert os.listdir(folder) == []


def test_the_data_is_in_the_unnamed_file_before_it_has_a_name(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """At the fsync (just before the link) the folder has no entry, and the descriptor
    is a 0600 regular file holding the data."""
    folder = tmp_path / "secrets"
    folder.mkdir()
    tmpfile_taken(folder)
    seen: list[tuple[list[str], int, bytes]] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        info = os.fstat(fd)
        if stat.S_ISREG(info.st_mode):
            again = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY)  # the same inode
            try:
                seen.append((os.listdir(folder), stat.S_IMODE(info.st_mode),
                             os.pread(again, 64, 0)))
            finally:
                os.close(again)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    files.write_private(folder / "bind", b"s3cret-Value\n")
    assert seen == [([], 0o600, b"s3cret-Value\n")]
    assert (folder / "bind").read_bytes() == b"s3cret-Value\n"


@pytest.mark.parametrize("code", [errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL])
@pytest.mark.parametrize("replace", [True, False])
def test_where_o_tmpfile_is_refused_a_temporary_name_is_used(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, replace: bool) -> None:
    refuse_tmpfile(monkeypatch, code)
    named: list[str] = []
    real_mkstemp = tempfile.mkstemp

    def mkstemp(*args: Any, **kw: Any) -> tuple[int, str]:
        fd, temp = real_mkstemp(*args, **kw)
        named.append(temp)
        return fd, temp

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    (tmp_path / "secrets").mkdir()
    path = tmp_path / "secrets" / "bind"
    files.write_private(path, b"s3cret-Value\n", replace=replace)
    assert path.read_bytes() == b"s3cret-Value\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(named) == 1 and os.listdir(path.parent) == ["bind"]


def test_another_refusal_is_not_hidden(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        files.write_private(tmp_path / "missing" / "bind", b"x")
