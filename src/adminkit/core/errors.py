"""One error hierarchy; each class carries the exit code the README documents.

Messages say what was wrong and what to do. They never carry a secret: callers build
them from names and addresses, never from credentials.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from types import MappingProxyType
from typing import Any


class ExitCode(IntEnum):
    OK = 0  # every action ok or changed
    FAILED = 1  # at least one action failed
    USAGE = 2  # bad arguments, bad config, bad input file
    CONNECTION = 3  # could not reach or authenticate to a system
    POLICY = 4  # refused by policy (protected account, blast-radius limit)
    INTERRUPTED = 130  # stopped by Ctrl-C (the shell's code for SIGINT)


class AdminkitError(Exception):
    """Base class. `hint` tells the user what to do about it."""

    exit_code: ExitCode = ExitCode.FAILED
    # What a failing action had done before it failed (ids, counts), too long for its
    # message: the failed result's data, so the journal keeps it. Set on the instance.
    data: Mapping[str, Any] = MappingProxyType({})

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class UsageError(AdminkitError):
    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    """A profile or other config file is invalid; the message names file, line and field."""


class ValidationError(UsageError):
    """Input data (a CSV row, a parameter) is invalid."""


class ConnectionFailed(AdminkitError):
    exit_code = ExitCode.CONNECTION


class AuthenticationFailed(ConnectionFailed):
    pass


class OutcomeUnknown(ConnectionFailed):
    """A write was sent and its answer lost: it may or may not have been done. Never
    sent again blindly; whoever resumes reads the target to settle it."""


class PolicyRefused(AdminkitError):
    exit_code = ExitCode.POLICY


class ActionFailed(AdminkitError):
    exit_code = ExitCode.FAILED


class Interrupted(AdminkitError):
    """The run was stopped (Ctrl-C): work that would start now is refused instead."""

    exit_code = ExitCode.INTERRUPTED


class SecretError(UsageError):
    """A secret reference could not be resolved."""


class JournalError(AdminkitError):
    exit_code = ExitCode.FAILED


class LabError(AdminkitError):
    """A lab server could not be installed, started or checked."""

    exit_code = ExitCode.FAILED
