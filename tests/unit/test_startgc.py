"""The collector held back during a cold start, and settled once the profile is loaded."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from adminkit.core import startgc


@pytest.fixture
def usual_gc() -> Iterator[tuple[int, int, int]]:
    """The collector as a fresh process has it; this process's state back afterwards
    (another test may have run `main()` in-process, which holds until a profile loads)."""
    before, held = gc.get_threshold(), startgc._usual
    usual = held or before
    gc.set_threshold(*usual)
    startgc._usual = None
    yield usual
    gc.set_threshold(*before)
    startgc._usual = held
    gc.unfreeze()


def test_hold_then_settle_freezes_and_restores(usual_gc: tuple[int, int, int]) -> None:
    gc.unfreeze()
    startgc.hold()
    assert gc.get_threshold() == (startgc.HELD_THRESHOLD, *usual_gc[1:])
    startgc.settle()
    assert gc.get_threshold() == usual_gc
    assert gc.get_freeze_count() > 0
    startgc.settle()  # a second settle (another profile) changes nothing
    assert gc.get_threshold() == usual_gc


def test_cycles_made_after_settle_are_collected(usual_gc: tuple[int, int, int]) -> None:
    startgc.hold()
    startgc.settle()

    class Node:
        other: object = None

    a, b = Node(), Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    del a, b
    gc.collect()
    assert gone() is None


def test_settle_without_hold_does_nothing(usual_gc: tuple[int, int, int]) -> None:
    gc.unfreeze()
    startgc.settle()
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == usual_gc


PROBE = """
import atexit, gc, json, sys
usual = gc.get_threshold()
atexit.register(lambda: sys.stderr.write("PROBE " + json.dumps(
    [gc.get_threshold() == usual, gc.get_freeze_count(), gc.isenabled()]) + "\\n"))
sys.argv = ["adminkit", "-p", "t", "profile", "show", "t"]
from adminkit.cli.main import main
main(warm=%s)
"""


def probe(tmp_path: Path, warm: bool, code: str = PROBE) -> list[object]:
    """What `code` (a `profile show` in a fresh process) wrote on its PROBE line."""
    (tmp_path / "profiles").mkdir(exist_ok=True)
    (tmp_path / "profiles" / "t.yaml").write_text("description: t\n")
    env = {**os.environ, "ADMINKIT_CONFIG": str(tmp_path), "ADMINKIT_WARM": "0",
           "ADMINKIT_SYSLOG": "off", "ADMINKIT_JOURNAL": str(tmp_path / "j.db")}
    done = subprocess.run([sys.executable, "-c", code % warm], env=env,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stderr.splitlines() if x.startswith("PROBE "))
    answer: list[object] = json.loads(line.removeprefix("PROBE "))
    return answer


def test_a_cold_command_ends_with_the_usual_collector(tmp_path: Path) -> None:
    usual, frozen, enabled = probe(tmp_path, warm=True)
    assert usual is True
    assert isinstance(frozen, int) and frozen > 0  # start-up's objects, frozen at settle
    assert enabled is True


def test_a_warm_child_is_left_as_its_parent_made_it(tmp_path: Path) -> None:
    usual, frozen, enabled = probe(tmp_path, warm=False)
    assert usual is True
    assert frozen == 0  # main(warm=False) neither holds nor freezes
    assert enabled is True


EXIT_PROBE = """
import atexit, gc, json, sys
seen = {}
atexit.register(lambda: sys.stderr.write("PROBE " + json.dumps(
    [seen["after_main"], gc.get_freeze_count()]) + "\\n"))
sys.argv = ["adminkit", "-p", "t", "profile", "show", "t"]
from adminkit.cli.main import main
try:
    main(warm=%s)
except SystemExit:
    pass
late = [[] for _ in range(1000)]  # made after the command's start-up, before its exit
seen["after_main"] = gc.get_freeze_count()
"""


def test_a_cold_command_freezes_what_it_made_at_exit(tmp_path: Path) -> None:
    after_main, at_exit = probe(tmp_path, True, EXIT_PROBE)
    assert isinstance(after_main, int) and isinstance(at_exit, int)
    assert at_exit >= after_main + 1000  # the late lists too: no shutdown pass walks them


def test_a_warm_child_freezes_nothing_at_exit(tmp_path: Path) -> None:
    assert probe(tmp_path, False, EXIT_PROBE) == [0, 0]
