"""`write_private(..., replace=False)`, the way `profile new` keeps a secret file at a
path typed in: synced before it gets its name, the folder synced after, and never
made over anything already at that name (a file, a link, a FIFO). Each test runs with
an unnamed file (O_TMPFILE) and where the kernel refuses one (a temporary name)."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from adminkit.cli import profile_new
from adminkit.core import files
from adminkit.core.errors import UsageError


def refuse_tmpfile(monkeypatch: pytest.MonkeyPatch, code: int = errno.EOPNOTSUPP) -> None:
    """os.open refuses O_TMPFILE with `code`, as a filesystem or kernel without it does."""
    real_open = os.open

    def opener(path: Any, flags: int, *args: Any, **kw: Any) -> int:
        if flags & os.O_TMPFILE == os.O_TMPFILE:
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, flags, *args, **kw)

    monkeypatch.setattr(os, "open", opener)


@pytest.fixture(autouse=True, params=["unnamed", "named"])
def staging(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "named":
        refuse_tmpfile(monkeypatch)
    return str(request.param)


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Every fsync (what it synced: a regular file's inode or a folder) and link, in order."""
    seen: list[tuple[str, Any]] = []
    real_fsync, real_link = os.fsync, os.link

    def fsync(fd: int) -> None:
        info = os.fstat(fd)
        kind = "folder" if stat.S_ISDIR(info.st_mode) else "file"
        seen.append((f"fsync-{kind}", (info.st_dev, info.st_ino)))
        real_fsync(fd)

    def link(src: Any, dst: Any, **kw: Any) -> None:
        real_link(src, dst, **kw)
        info = os.stat(dst, follow_symlinks=False)
        seen.append(("link", (info.st_dev, info.st_ino)))

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "link", link)
    return seen


def test_a_new_secret_file_is_synced_then_linked_then_its_folder_synced(
        tmp_path: Path, events: list[tuple[str, Any]]) -> None:
    path = tmp_path / "secrets" / "acme-bind"
    profile_new.write_private(path, "s3cret-Value\n", replace=False)
    assert path.read_text() == "s3cret-Value\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    inode = (path.stat().st_dev, path.stat().st_ino)
    folder = (path.parent.stat().st_dev, path.parent.stat().st_ino)
    assert events.index(("fsync-file", inode)) < events.index(("link", inode))
    assert events.index(("link", inode)) < events.index(("fsync-folder", folder))
    assert os.listdir(path.parent) == ["acme-bind"]  # the staging name is gone


def _planted(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / "id_ed25519"
    if kind == "file":
        path.write_text("their key\n")
    elif kind == "link":
        (tmp_path / "target").write_text("their target\n")
        path.symlink_to(tmp_path / "target")
    elif kind == "dangling link":
        path.symlink_to(tmp_path / "nowhere")
    else:
        os.mkfifo(path)
    return path


@pytest.mark.parametrize("kind", ["file", "link", "dangling link", "fifo"])
def test_anything_at_the_name_is_refused_and_left_as_it_was(tmp_path: Path, kind: str) -> None:
    path = _planted(tmp_path, kind)
    before = {p.name: (os.lstat(p), os.readlink(p) if p.is_symlink() else None)
              for p in tmp_path.iterdir()}
    target = (tmp_path / "target").read_text() if kind == "link" else None
    for write in (lambda: files.write_private(path, b"mine\n", replace=False),
                  lambda: profile_new.write_private(path, "mine\n", replace=False)):
        with pytest.raises(UsageError, match=f"{path} exists"):
            write()
        after = {p.name: (os.lstat(p), os.readlink(p) if p.is_symlink() else None)
                 for p in tmp_path.iterdir()}
        assert after == before  # same entries, inodes, sizes, times: no staging name left
    if kind == "link":
        assert (tmp_path / "target").read_text() == target
    assert not (tmp_path / "nowhere").exists()


def test_a_name_made_meanwhile_is_not_replaced(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Someone makes the file between the staging and the link: still refused."""
    (tmp_path / "d").mkdir()
    path = tmp_path / "d" / "new"
    real_stage = files._stage

    def stage(p: Path, data: bytes) -> tuple[int, str | None]:
        out = real_stage(p, data)
        path.write_text("theirs\n")
        return out

    monkeypatch.setattr(files, "_stage", stage)
    with pytest.raises(UsageError, match="exists"):
        files.write_private(path, b"mine\n", replace=False)
    assert path.read_text() == "theirs\n"
    assert os.listdir(tmp_path / "d") == ["new"]


def test_replace_still_renames_over_a_link_without_following_it(tmp_path: Path) -> None:
    (tmp_path / "target").write_text("theirs\n")
    path = tmp_path / "acme-bind"
    path.symlink_to(tmp_path / "target")
    files.write_private(path, b"mine\n")
    assert not path.is_symlink() and path.read_text() == "mine\n"
    assert (tmp_path / "target").read_text() == "theirs\n"


@pytest.mark.parametrize("name", ["k" * 240, "\u017e" * 120, "\U0001f511" * 60],
                         ids=["ascii", "2-byte", "4-byte"])
@pytest.mark.parametrize("replace", [False, True])
def test_a_long_name_the_folder_takes_is_written(tmp_path: Path, replace: bool,
                                                 name: str) -> None:
    """The staging name is `.NAME` + a marker + PID + a random tail: for a NAME near the
    filesystem's 255 bytes it would be too long, and a name that can be made refused.
    Bytes count there, not characters: 120 of `\u017e` are 240 (a Czech word, a key)."""
    path = tmp_path / "secrets" / name
    profile_new.write_private(path, "s3cret-Value\n", replace=replace)
    assert path.read_text() == "s3cret-Value\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(path.parent) == [path.name]


def test_a_staging_file_swapped_meanwhile_is_not_what_gets_the_name(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder others may write (not sticky): someone renames the staged file away and
    plants a link at its name before the link to `path`. What gets the name is the file
    adminkit wrote, never their link (the profile would then read a secret they chose).
    An unnamed staged file has no name to swap: the folder is empty until the link."""
    (tmp_path / "theirs").write_text("their value\n")
    (tmp_path / "d").mkdir()
    path = tmp_path / "d" / "new"
    real_stage = files._stage

    def stage(p: Path, data: bytes) -> tuple[int, str | None]:
        fd, temp = real_stage(p, data)
        if temp is None:  # unnamed (O_TMPFILE)
            assert os.listdir(tmp_path / "d") == []
            return fd, temp
        os.rename(temp, tmp_path / "moved-away")
        os.symlink(tmp_path / "theirs", temp)
        return fd, temp

    monkeypatch.setattr(files, "_stage", stage)
    files.write_private(path, b"mine\n", replace=False)
    assert not path.is_symlink() and path.read_bytes() == b"mine\n"
    assert stat.S_IMODE(path.lstat().st_mode) == 0o600
