"""bench/warm_start.running stops the warm process on every error path: a `warm start`
that fails after its process came up (its 60 s wait for `ready` ran out on a loaded
machine, or Ctrl-C during it), a first `warm status` that fails, an error in the
block. The process would otherwise serve on for its --idle (10 min)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from bench.warm_start import running

AK = [sys.executable, "-m", "adminkit.cli.main"]


@pytest.fixture
def short() -> Iterator[Path]:
    """A folder with a short path: the socket's path must fit in sun_path (108 bytes),
    which pytest's tmp_path for a long test name does not (`warm start` fails then)."""
    folder = Path(tempfile.mkdtemp(prefix="akw-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "config").mkdir(exist_ok=True)
    return {**os.environ, "ADMINKIT_CONFIG": str(tmp_path / "config"),
            "ADMINKIT_SYSLOG": "off", "ADMINKIT_JOURNAL": str(tmp_path / "journal.db")}


def _failing(tmp_path: Path, verb: str) -> list[str]:
    """`adminkit`, but `warm VERB` exits 1 after doing its work."""
    script = tmp_path / "ak.sh"
    script.write_text('#!/bin/sh\n"$@"\nstatus=$?\n'
                      f'[ "$4 $5" = "warm {verb}" ] && exit 1\nexit $status\n')
    script.chmod(0o700)
    return [str(script), *AK]


def _alive(env: dict[str, str], tmp_path: Path) -> list[str]:
    """The runtime folders in tmp_path whose warm process still answers (stopped here)."""
    found = []
    runs = list(tmp_path.glob("warm-*/warm-run"))
    assert runs  # one was made: the process was started, or tried to be
    for run in runs:
        there = {**env, "XDG_RUNTIME_DIR": str(run), "ADMINKIT_WARM": "0"}
        answer = json.loads(subprocess.run([*AK, "warm", "status", "-o", "json"], env=there,
                                           capture_output=True, check=True).stdout)
        if answer["running"]:
            found.append(str(run))
            subprocess.run([*AK, "warm", "stop"], env=there, capture_output=True, check=False)
    return found


@pytest.mark.parametrize("verb", ["start", "status"])
def test_a_failing_start_or_first_status_leaves_no_warm_process(short: Path,
                                                                 verb: str) -> None:
    env = _env(short)
    with pytest.raises((SystemExit, subprocess.CalledProcessError)), \
            running(_failing(short, verb), env, short):
        pass
    assert _alive(env, short) == []


def test_an_error_in_the_block_leaves_no_warm_process(short: Path) -> None:
    env = _env(short)
    seen = []

    def bench() -> None:
        with running(AK, env, short) as warm:
            assert warm is not None
            seen.append(warm.before)  # it runs, and answers
            raise RuntimeError("the bench broke")

    with pytest.raises(RuntimeError):
        bench()
    assert seen == [0]
    assert _alive(env, short) == []


def test_a_start_that_fails_says_why(short: Path) -> None:
    """`warm start` says why it failed on stderr (here: the runtime folder is too deep
    for a socket's path); the bench stops with that reason, not a bare exit status."""
    deep = short / ("d" * 100)
    deep.mkdir()
    env = _env(short)
    with pytest.raises(SystemExit, match="AF_UNIX path too long"), \
            running(AK, env, deep):
        pass
