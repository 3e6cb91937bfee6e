"""A bulk unit's password files: the folder is checked once per unit (just before the
files are written) and once while planning, not once per file; every guarantee of the
per-file check holds (an unsafe folder refuses every file of the unit, each row with its
own error; a file already in a sticky shared folder is still refused)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from adminkit.core import delivery as delivery_mod
from adminkit.core.delivery import delivery
from adminkit.core.errors import UsageError
from adminkit.core.secrets import Secret


@pytest.fixture
def box(tmp_path: Path) -> Path:
    folder = tmp_path / "box"
    folder.mkdir(mode=0o700)
    return folder


def _count_folder_checks(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    seen: list[Path] = []
    real = delivery_mod._safe_folder

    def counting(folder: Path) -> bool:
        seen.append(folder)
        return real(folder)

    monkeypatch.setattr(delivery_mod, "_safe_folder", counting)
    return seen


def test_a_unit_checks_its_folder_once_and_writes_every_file(
        box: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _count_folder_checks(monkeypatch)
    sink = delivery(f"file:{box}")
    rows = [(f"user{i}", Secret(f"Pw-{i}-secret!")) for i in range(25)]
    out = sink.many(rows)
    assert seen == [box]
    assert all(isinstance(o, str) and o.startswith("written to") for o in out)
    for login, secret in rows:
        path = box / f"{login}.password"
        assert path.read_text() == secret.reveal() + "\n"
        assert os.stat(path).st_mode & 0o777 == 0o600


def test_planning_checks_the_folder_once_per_delivery(
        box: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _count_folder_checks(monkeypatch)
    sink = delivery(f"file:{box}")
    for i in range(10):
        sink.check(f"user{i}")
    assert seen == [box]


def test_a_folder_made_unsafe_after_planning_refuses_every_file_of_the_unit(
        box: Path) -> None:
    """The plan found the folder private; before the unit's writes it became writable by
    others: no file is written, each row says why with its own error object."""
    sink = delivery(f"file:{box}")
    sink.check("alice")
    box.chmod(0o777)
    out = sink.many([("alice", Secret("Pw-alice-1!")), ("bob", Secret("Pw-bob-1!"))])
    assert all(isinstance(o, UsageError) and "others may write there" in str(o) for o in out)
    assert out[0] is not out[1]
    assert list(box.iterdir()) == []


def test_a_folder_that_fails_while_planning_is_checked_again(box: Path) -> None:
    """Only a folder found safe is remembered: one that was refused is refused again."""
    sink = delivery(f"file:{box}")
    box.chmod(0o777)
    for login in ("alice", "bob"):
        with pytest.raises(UsageError, match="others may write there"):
            sink.check(login)
    box.chmod(0o700)
    sink.check("carol")  # fixed by the operator: now it passes


def test_a_file_already_in_a_sticky_shared_folder_is_refused_per_row(box: Path) -> None:
    box.chmod(0o1777)
    (box / "taken.password").write_text("planted\n")
    sink = delivery(f"file:{box}")
    with pytest.raises(UsageError, match="already there"):
        sink.check("taken")
    sink.check("free")
    out = sink.many([("taken", Secret("Pw-taken-1!")), ("free", Secret("Pw-free-1!"))])
    assert isinstance(out[0], UsageError) and "already there" in str(out[0])
    assert isinstance(out[1], str)
    assert (box / "taken.password").read_text() == "planted\n"
    assert (box / "free.password").read_text() == "Pw-free-1!\n"
