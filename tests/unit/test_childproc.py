"""tests/childproc.py: a child that writes much to stderr before the test stops it is
not held up by a full pipe (the helper reads stderr as it comes)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from tests.childproc import adminkit_child, wait_for_files

CHATTY = """
import pathlib, sys, time
sys.stderr.write("warning: something\\n" * 50_000)  # ~1 MiB: far beyond a pipe's 64 KiB
sys.stderr.flush()
pathlib.Path(sys.argv[1], "started").write_text("")
time.sleep(120)
"""


def test_a_chatty_child_reaches_the_point_where_the_test_stops_it(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    with adminkit_child([sys.executable, "-c", CHATTY, str(folder)],
                        dict(os.environ)) as proc:
        wait_for_files(proc, folder, 1)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGINT  # an uncaught KeyboardInterrupt: it heard it
    assert err.count("warning: something\n") == 50_000
    assert err.rstrip().endswith("KeyboardInterrupt")
