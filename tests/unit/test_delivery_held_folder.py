"""A bulk unit's password files go into the folder that was checked, held open by its
descriptor (`Delivery._hold_folder`): a folder renamed away and replaced after the
check gets none of the unit's files, and one replaced while it was being checked is
refused before any file is written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from adminkit.core import delivery as delivery_mod
from adminkit.core.delivery import delivery
from adminkit.core.errors import UsageError
from adminkit.core.secrets import Secret


def _rows(n: int) -> list[tuple[str, Secret]]:
    return [(f"user{i}", Secret(f"Pw-{i}-secret!")) for i in range(n)]


def test_a_folder_swapped_after_the_check_gets_none_of_the_units_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    box = tmp_path / "box"
    box.mkdir(mode=0o700)
    real = delivery_mod._stage_in
    staged: list[Path] = []

    def swap_after_the_first_file(at: int, path: Path, data: bytes) -> tuple[int, str]:
        out = real(at, path, data)
        staged.append(path)
        if len(staged) == 1:  # the checked folder goes; another takes its name
            box.rename(tmp_path / "box.checked")
            box.mkdir(mode=0o700)
        return out

    monkeypatch.setattr(delivery_mod, "_stage_in", swap_after_the_first_file)
    out = delivery(f"file:{box}/").many(_rows(5))
    assert all(isinstance(o, str) for o in out), out
    assert list(box.iterdir()) == []
    checked = tmp_path / "box.checked"
    assert sorted(p.name for p in checked.iterdir()) == [f"user{i}.password"
                                                         for i in range(5)]
    for i in range(5):
        info = os.lstat(checked / f"user{i}.password")
        assert info.st_mode & 0o777 == 0o600
        assert (checked / f"user{i}.password").read_text() == f"Pw-{i}-secret!\n"


def test_a_folder_replaced_while_it_is_checked_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    box = tmp_path / "box"
    box.mkdir(mode=0o700)
    real = delivery_mod._safe_folder
    swapped: list[bool] = []

    def swap_then_check(folder: Path) -> bool:
        if not swapped:  # opened already: the name now names another folder
            swapped.append(True)
            box.rename(tmp_path / "box.opened")
            box.mkdir(mode=0o700)
        return real(folder)

    monkeypatch.setattr(delivery_mod, "_safe_folder", swap_then_check)
    out = delivery(f"file:{box}/").many(_rows(3))
    assert all(isinstance(o, UsageError) for o in out), out
    assert list(box.iterdir()) == []
    assert list((tmp_path / "box.opened").iterdir()) == []


def test_no_staged_file_is_left_when_a_row_fails(tmp_path: Path) -> None:
    """A login that cannot name a file fails alone; the others are written and no
    temporary stays in the folder."""
    box = tmp_path / "box"
    box.mkdir(mode=0o700)
    out = delivery(f"file:{box}/").many([("alice", Secret("Pw-alice-1!")),
                                         ("../bob", Secret("Pw-bob-1!")),
                                         ("carol", Secret("Pw-carol-1!"))])
    assert isinstance(out[0], str) and isinstance(out[2], str)
    assert isinstance(out[1], UsageError)
    assert sorted(p.name for p in box.iterdir()) == ["alice.password", "carol.password"]


def test_a_staged_name_someone_planted_is_skipped_not_written_through(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A link planted at the temporary's name: O_EXCL|O_NOFOLLOW refuses it, another
    name is taken, and what the link names is untouched."""
    box = tmp_path / "box"
    box.mkdir(mode=0o700)
    aim = tmp_path / "aim"
    aim.write_text("theirs\n")
    tokens = iter(["planted", "fresh"])
    monkeypatch.setattr(delivery_mod.secrets, "token_hex", lambda _n: next(tokens))
    (box / f".alice.password{delivery_mod.STAGED}{os.getpid()}-planted").symlink_to(aim)
    out = delivery(f"file:{box}/").many([("alice", Secret("Pw-alice-1!"))])
    assert isinstance(out[0], str), out
    assert aim.read_text() == "theirs\n"
    assert (box / "alice.password").read_text() == "Pw-alice-1!\n"


@pytest.mark.parametrize("spec", ["folder", "file"])
def test_one_secret_goes_into_the_folder_that_was_checked_too(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spec: str) -> None:
    """A single account's file (`account create --deliver file:...`) was written by
    path after the check: a folder swapped in between got it. It is now written as a
    bulk unit's are, relative to the folder held open."""
    box = tmp_path / "box"
    box.mkdir(mode=0o700)
    real = delivery_mod._stage_in

    def swap_then_stage(at: int, path: Path, data: bytes) -> tuple[int, str]:
        box.rename(tmp_path / "box.checked")  # the checked folder goes; another takes
        box.mkdir(mode=0o700)  # its name before the file is written
        return real(at, path, data)

    monkeypatch.setattr(delivery_mod, "_stage_in", swap_then_stage)
    given = f"file:{box}/" if spec == "folder" else f"file:{box}/jdoe.txt"
    said = delivery(given)("jdoe", Secret("Pw-jdoe-secret!"))
    assert said.startswith("written to ")
    assert list(box.iterdir()) == []
    name = "jdoe.password" if spec == "folder" else "jdoe.txt"
    kept = tmp_path / "box.checked" / name
    assert kept.read_text() == "Pw-jdoe-secret!\n"
    assert os.lstat(kept).st_mode & 0o777 == 0o600
