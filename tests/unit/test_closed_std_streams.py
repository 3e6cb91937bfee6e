"""A closed standard stream: refused or replaced before anything runs, never a crash.

With fd 1 closed, Python's sys.stdout is None (the first table printed crashed with an
internal error, after the command's work was done), and the next file opened takes
number 1, so a child process writing its output would write into that file. adminkit
gives every closed fd 0-2 /dev/null first; closed output or errors are refused (exit 2)
before any work; a closed stdin reads as empty.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from adminkit.cli.main import closed_standard_streams


def _run(close: int, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ADMINKIT_CONFIG": str(tmp_path), "ADMINKIT_WARM": "0"}
    (tmp_path / "profiles").mkdir(exist_ok=True)
    (tmp_path / "profiles" / "acme.yaml").write_text("description: a customer\n")
    out = None if close == 1 else subprocess.PIPE
    err = None if close == 2 else subprocess.PIPE
    return subprocess.run([sys.executable, "-m", "adminkit.cli.main", *args],
                          stdin=subprocess.DEVNULL, stdout=out, stderr=err, text=True,
                          env=env, timeout=60, check=False,
                          preexec_fn=lambda: os.close(close))


@pytest.mark.parametrize("close", [1, 2])
def test_closed_output_is_refused_before_any_work(close: int, tmp_path: Path) -> None:
    done = _run(close, tmp_path, "profile", "list")
    assert done.returncode == 2
    if close == 1:
        assert "standard output or standard error is closed" in done.stderr
        assert "internal error" not in done.stderr


def test_closed_stdin_reads_as_empty(tmp_path: Path) -> None:
    done = _run(0, tmp_path, "-o", "json", "profile", "list")
    assert done.returncode == 0, done.stderr
    assert "acme" in done.stdout


def test_closed_fds_get_dev_null_in_their_own_numbers() -> None:
    """In a child: fds 0 and 2 closed; afterwards both are /dev/null, fd 1 untouched,
    and the next file opened gets a number above 2."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            os.dup2(write, 1)
            os.close(0)
            os.close(2)
            lost = closed_standard_streams()
            null = os.stat(os.devnull)
            same = all((os.fstat(fd).st_ino, os.fstat(fd).st_rdev) == (null.st_ino, null.st_rdev)
                       for fd in (0, 2))
            nxt = os.open(os.devnull, os.O_RDONLY)
            os.write(1, f"{lost} {same} {nxt > 2} {sys.stdin.read()!r}".encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    said = os.read(read, 200).decode()
    os.close(read)
    assert os.waitpid(pid, 0)[1] == 0
    assert said == "True True True ''"
