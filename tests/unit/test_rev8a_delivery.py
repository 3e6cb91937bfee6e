"""rev8a: delivery attacked with hostile logins and a careless folder."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from adminkit.core.delivery import delivery
from adminkit.core.files import STAGED
from adminkit.core.secrets import Secret


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_the_next_runs_sweep_never_removes_a_delivered_file_whose_login_looks_staged(
        tmp_path: Path) -> None:
    """A login is data from a CSV: `.x.adminkit-staged-PID-y` is a valid uid. Its file was
    delivered and its password set; the next run into the folder took it for a killed
    run's temporary and removed it (the only copy of a password that is set)."""
    folder = tmp_path / "pw"
    folder.mkdir(mode=0o700)
    login = f".x{STAGED}{_dead_pid()}-y"
    first = delivery(f"file:{folder}/")
    (how,) = first.many([(login, Secret("Set-On-The-Server-1"))])
    assert isinstance(how, str), how
    delivered = folder / f"{login}.password"
    assert delivered.read_text() == "Set-On-The-Server-1\n"

    delivery(f"file:{folder}/").check("someone.else")  # the next run plans a row

    assert delivered.exists(), "a delivered password file was swept as a temporary"
    assert delivered.read_text() == "Set-On-The-Server-1\n"


def test_a_killed_runs_temporaries_are_still_swept(tmp_path: Path) -> None:
    """What the fix must keep: both kinds of temporary a dead PID left are removed."""
    folder = tmp_path / "pw"
    folder.mkdir(mode=0o700)
    pid = _dead_pid()
    left = [folder / f".jdoe.password{STAGED}{pid}-0123456789ab",  # a unit's (token_hex)
            folder / f".one.txt{STAGED}{pid}-k2_x9ab1"]  # a single file's (mkstemp)
    for path in left:
        path.write_text("never set\n")
        os.chmod(path, 0o600)
    delivery(f"file:{folder}/").check("someone")
    assert [p for p in left if p.exists()] == []


def test_a_planted_temporary_with_an_impossible_pid_does_not_crash_the_sweep(
        tmp_path: Path) -> None:
    """Anyone who may write the folder (a shared sticky one, or a login that is data)
    plants `.x.adminkit-staged-<20 digits>-y`: os.kill overflowed, a traceback ended the
    run while it planned."""
    folder = tmp_path / "pw"
    folder.mkdir(mode=0o700)
    planted = folder / f".x{STAGED}{'9' * 20}-y"
    planted.write_text("")
    delivery(f"file:{folder}/").check("someone")  # no OverflowError
    assert planted.exists()  # not a PID this system can have: not ours to remove
