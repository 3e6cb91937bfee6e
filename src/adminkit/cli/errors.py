"""Turning an exception into a message and an exit code. Tracebacks only with --debug."""

from __future__ import annotations

import logging
import sys
import traceback

from adminkit.core.errors import AdminkitError, ExitCode


def report(exc: BaseException, *, debug: bool) -> int:
    if debug:
        traceback.print_exception(exc)
    from adminkit.cli.output import visible
    from adminkit.core.secrets import redact

    if isinstance(exc, AdminkitError):
        sys.stderr.write(f"error: {visible(redact(str(exc)))}\n")
        return int(exc.exit_code)
    sqlite3 = sys.modules.get("sqlite3")  # loaded by whatever opened a database
    if sqlite3 is not None and isinstance(exc, sqlite3.DatabaseError):
        # the journal (or the local ticket system) opened, then a page read failed
        sys.stderr.write(
            f"error: a database cannot be read: {visible(redact(str(exc)))}\n"
            "  hint: for the journal, `adminkit journal verify` says whether it is damaged; "
            "keep a copy of it as evidence before anything else\n")
        return int(ExitCode.FAILED)
    sys.stderr.write(
        f"internal error: {type(exc).__name__}: {visible(redact(str(exc)))}\n"
        "  hint: this is a bug in adminkit; run again with --debug for the traceback "
        "and report it\n")
    return int(ExitCode.FAILED)


class _Warnings(logging.Handler):
    """adminkit's warnings (a credential sent in clear because the profile allows it, a
    file tightened) on stderr as `warning: ...`, scrubbed like errors. It writes to
    whatever sys.stderr is at the time, so a caller that swaps it sees them."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from adminkit.cli.output import visible
            from adminkit.core.secrets import redact_error

            level = "warning" if record.levelno >= logging.WARNING else "debug"
            where = "" if level == "warning" else f"{record.name}: "
            text = visible(redact_error(record.getMessage()))
            # a value's line break (a server's error text) never starts a line of its own
            # that reads as adminkit's `error:` or `warning:`
            text = "\n  ".join(text.splitlines())
            sys.stderr.write(f"{level}: {where}{text}\n")
        except Exception:  # noqa: BLE001 - a warning must never fail the command
            self.handleError(record)


def show_warnings(*, debug: bool = False) -> None:
    """Once per process: warnings of the `adminkit` loggers go to stderr; with --debug,
    their debug and info lines too (adminkit's own loggers only: a library's debug log
    may carry what adminkit keeps out of its own)."""
    logger = logging.getLogger("adminkit")
    level = logging.DEBUG if debug else logging.WARNING
    if debug:
        logger.setLevel(logging.DEBUG)
    for handler in logger.handlers:
        if isinstance(handler, _Warnings):
            handler.setLevel(min(handler.level, level))
            return
    logger.addHandler(_Warnings(level))
