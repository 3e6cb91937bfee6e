"""paramiko, imported without `invoke`.

paramiko.config imports invoke for one thing only, `Match exec` in an ssh_config file,
and keeps working without it (that one keyword then raises the ImportError). adminkit
never reads an ssh_config, and importing invoke was a third of paramiko's import (about
100 of 300 ms, on every deploy command's start, before the first login). So while
paramiko is imported, `invoke` is marked as not importable; afterwards it is
importable again for anyone else.

paramiko logs a failed login's traceback (a host that never sends its banner, a reset
connection) from its transport thread at ERROR. adminkit reports that host's failure
itself; with no handler of its own, Python's last-resort handler printed the traceback on
the user's terminal. Its loggers get a handler that drops what they say (a library's log
is not shown, --debug or not: see cli/errors.show_warnings).
"""

from __future__ import annotations

import logging
import sys
from types import ModuleType

logging.getLogger("paramiko").addHandler(logging.NullHandler())


def load() -> ModuleType:
    """The paramiko module (imported once per process)."""
    found = sys.modules.get("paramiko")
    if found is not None:
        return found
    blocked = "invoke" not in sys.modules
    if blocked:
        sys.modules["invoke"] = None  # type: ignore[assignment]  # import -> ImportError
    try:
        import paramiko
    finally:
        if blocked and "invoke" in sys.modules and sys.modules["invoke"] is None:
            del sys.modules["invoke"]
    return paramiko
