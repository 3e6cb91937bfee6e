"""Children that a test stops with Ctrl-C.

A shell without job control starts background commands with SIGINT ignored, and a child
inherits that: Python then installs no KeyboardInterrupt handler and the SIGINT a test
sends is lost (the run goes on to the end). A child started with `ctrl_c_able` hears it
as a person's Ctrl-C, however the test suite itself was started.
"""

from __future__ import annotations

import signal


def ctrl_c_able() -> None:
    """`preexec_fn` for Popen: SIGINT back to its default, as at a terminal."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
