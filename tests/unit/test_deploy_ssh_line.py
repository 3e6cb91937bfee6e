"""The one place an argument list becomes a remote shell line quotes every argument."""

from __future__ import annotations

import shlex
import subprocess

import pytest

from adminkit.core.errors import UsageError
from adminkit.deploy.ssh import command_line

HOSTILE = ["it's; rm -rf / $(reboot)", "`id`", '"$HOME"', "a\nb", "*", "-n", "--", "\\",
           "${IFS}", "|", "&&", ">x", "~root", "é ü ł", ""]


def test_hostile_arguments_reach_a_posix_shell_as_literals() -> None:
    line = command_line(["printf", "%s\\0", *HOSTILE])
    out = subprocess.run(["sh", "-c", line], capture_output=True, check=True).stdout
    assert out.decode().split("\0")[:-1] == HOSTILE
    assert shlex.split(line)[2:] == HOSTILE


def test_nul_and_empty_commands_are_refused() -> None:
    with pytest.raises(UsageError):
        command_line(["echo", "a\x00b"])
    with pytest.raises(UsageError):
        command_line([])
