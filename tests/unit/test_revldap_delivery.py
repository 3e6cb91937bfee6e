"""Review of the bulk import's folder check (once per unit): a folder reached through a
symbolic link that another user owns (in a sticky folder they may write to) can be
pointed elsewhere by them after the unit's one check, so the unit's later files would
be written into their folder. Such a folder is refused before anything is written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from adminkit.core import delivery as delivery_mod
from adminkit.core.delivery import delivery
from adminkit.core.errors import UsageError
from adminkit.core.secrets import Secret

OTHER = 4242  # another user's uid (the tests run as root, who may chown)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown")


def _layout(tmp_path: Path, *, deeper: bool) -> tuple[Path, Path, Path]:
    """(the folder as the operator names it, the safe folder, the other user's folder):
    a sticky folder the group may write to holds the other user's link to the safe one."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1770)
    safe = tmp_path / "safe"
    (safe / "sub").mkdir(parents=True, mode=0o700)
    safe.chmod(0o700)
    evil = tmp_path / "evil"
    (evil / "sub").mkdir(parents=True)
    for folder in (evil, evil / "sub"):
        os.chown(folder, OTHER, OTHER)
        folder.chmod(0o777)
    link = shared / "drop"
    link.symlink_to(safe)
    os.lchown(link, OTHER, OTHER)
    return (link / "sub" if deeper else link), safe, evil


@pytest.mark.parametrize("deeper", [False, True])
def test_a_folder_through_another_users_link_gets_no_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, deeper: bool) -> None:
    named, _safe, evil = _layout(tmp_path, deeper=deeper)
    real = delivery_mod._stage_in
    staged: list[Path] = []

    def attacker_swaps_after_the_first_file(at: int, path: Path, data: bytes) -> tuple[int, str]:
        out = real(at, path, data)
        staged.append(path)
        if len(staged) == 1:  # the link's owner points it at their folder
            link = tmp_path / "shared" / "drop"
            link.unlink()
            link.symlink_to(evil)
            os.lchown(link, OTHER, OTHER)
        return out

    monkeypatch.setattr(delivery_mod, "_stage_in", attacker_swaps_after_the_first_file)
    sink = delivery(f"file:{named}/")
    out = sink.many([(f"user{i}", Secret(f"Pw-{i}-secret!")) for i in range(5)])
    leaked = [p.name for p in evil.rglob("*") if p.is_file()]
    assert leaked == []
    assert all(isinstance(o, UsageError) for o in out), out


def test_the_operators_own_link_to_a_private_folder_still_works(tmp_path: Path) -> None:
    safe = tmp_path / "safe"
    safe.mkdir(mode=0o700)
    link = tmp_path / "mine"
    link.symlink_to(safe)
    out = delivery(f"file:{link}/").many([("alice", Secret("Pw-alice-1!"))])
    assert isinstance(out[0], str)
    assert (safe / "alice.password").read_text() == "Pw-alice-1!\n"


def test_another_users_link_behind_the_operators_link_is_refused(tmp_path: Path) -> None:
    """The operator's own link leads through the other user's: still theirs to swap."""
    named, _, _ = _layout(tmp_path, deeper=False)
    mine = tmp_path / "mine"
    mine.symlink_to(named)
    sink = delivery(f"file:{mine}/")
    with pytest.raises(UsageError, match="link"):
        sink.check("alice")


def test_a_folder_in_a_sticky_folder_another_user_owns_gets_no_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sticky bit keeps others from renaming the operator's folder, but not the
    sticky folder's owner: after the unit's one check they rename it away and put their
    own in its place; the unit's later files would go there."""
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    os.chown(theirs, OTHER, OTHER)
    theirs.chmod(0o1777)
    mine = theirs / "pw"
    mine.mkdir(mode=0o700)
    real = delivery_mod._stage_in
    staged: list[Path] = []

    def owner_swaps_after_the_first_file(at: int, path: Path, data: bytes) -> tuple[int, str]:
        out = real(at, path, data)
        staged.append(path)
        if len(staged) == 1:
            mine.rename(theirs / "pw.old")
            mine.mkdir()
            os.chown(mine, OTHER, OTHER)
            mine.chmod(0o777)
        return out

    monkeypatch.setattr(delivery_mod, "_stage_in", owner_swaps_after_the_first_file)
    out = delivery(f"file:{mine}/").many([(f"user{i}", Secret(f"Pw-{i}-secret!"))
                                          for i in range(5)])
    if mine.stat().st_uid == OTHER:  # swapped: nothing may be in their folder
        assert [p.name for p in mine.iterdir()] == []
    assert all(isinstance(o, UsageError) for o in out), out


def test_a_link_in_a_folder_others_may_change_is_refused(tmp_path: Path) -> None:
    """The operator's own link, but in a folder anyone may write to (not sticky): anyone
    may replace the link, so the folder reached through it is not safe."""
    safe = tmp_path / "safe"
    safe.mkdir(mode=0o700)
    open_ = tmp_path / "open"
    open_.mkdir()
    open_.chmod(0o777)
    (open_ / "hop").symlink_to(safe)
    mine = tmp_path / "mine"
    mine.symlink_to(open_ / "hop")
    with pytest.raises(UsageError, match="may be changed by others"):
        delivery(f"file:{mine}/").check("alice")


@pytest.mark.parametrize("planted", ["link", "fifo", "file"])
def test_what_another_user_plants_mid_unit_in_a_sticky_folder_is_never_written_through(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, planted: str) -> None:
    """A shared sticky folder: after the unit's check and the row's own checks, with its
    file staged, another user plants something at the row's path. The password is not
    written through it: the planted name is replaced by the operator's own 0600 file, or
    the row is refused (and so never set)."""
    box = tmp_path / "box"
    box.mkdir()
    box.chmod(0o1777)
    aim = tmp_path / "aim"  # where a planted link points
    aim.write_text("theirs\n")
    real = delivery_mod._stage_in
    staged: list[Path] = []

    def plant_after_the_first_file(at: int, path: Path, data: bytes) -> tuple[int, str]:
        out = real(at, path, data)
        staged.append(path)
        if len(staged) == 2:  # bob's, staged: only the rename is left
            victim = box / "bob.password"
            if planted == "link":
                victim.symlink_to(aim)
            elif planted == "fifo":
                os.mkfifo(victim)
            else:
                victim.write_text("theirs\n")
            os.lchown(victim, OTHER, OTHER)
        return out

    monkeypatch.setattr(delivery_mod, "_stage_in", plant_after_the_first_file)
    out = delivery(f"file:{box}/").many([("alice", Secret("Pw-alice-1!")),
                                         ("bob", Secret("Pw-bob-1!"))])
    assert aim.read_text() == "theirs\n"
    victim = box / "bob.password"
    if isinstance(out[1], str):
        info = os.lstat(victim)
        assert (info.st_uid, info.st_mode & 0o7777) == (os.geteuid(), 0o600)
        assert victim.read_text() == "Pw-bob-1!\n"
    assert isinstance(out[0], str)
