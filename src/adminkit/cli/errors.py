"""Turning an exception into a message and an exit code. Tracebacks only with --debug."""

from __future__ import annotations

import sys
import traceback

from adminkit.core.errors import AdminkitError, ExitCode
from adminkit.core.secrets import redact


def report(exc: BaseException, *, debug: bool) -> int:
    if debug:
        traceback.print_exception(exc)
    from adminkit.cli.output import visible

    if isinstance(exc, AdminkitError):
        sys.stderr.write(f"error: {visible(redact(str(exc)))}\n")
        return int(exc.exit_code)
    sys.stderr.write(
        f"internal error: {type(exc).__name__}: {visible(redact(str(exc)))}\n"
        "  hint: this is a bug in adminkit; run again with --debug for the traceback "
        "and report it\n")
    return int(ExitCode.FAILED)
