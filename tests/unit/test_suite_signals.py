"""The suite itself: Ctrl-C works in it however it was started (tests/conftest.py)."""

from __future__ import annotations

import signal
import subprocess
import sys


def test_sigint_raises_here_and_in_children_even_when_started_in_the_background() -> None:
    # started as `pytest &` from a shell without job control, SIGINT came in ignored
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    child = subprocess.run(
        [sys.executable, "-c", "import signal; print(signal.getsignal(signal.SIGINT))"],
        capture_output=True, text=True, check=True)
    assert "default_int_handler" in child.stdout, child.stdout
