"""A package write and its read-back in one exec (deploy/ssh.py WRITE_THEN_READ), run by
SSHBackend._write against this machine: `run` is replaced by a local subprocess (the
transport, not the code under test), which reads the command's stdout to its end, as a
channel does while a child of the write still holds it.

- A child a maintainer script leaves running (a daemon started by postinst, holding the
  stdout it inherited) writes after the script's own mark: the last mark counted, so it
  wrote the read-back. The write's stdout now goes to stderr, so nothing the write or
  its children print reaches the stdout the read-back is parsed from.
- A write that succeeded and a read-back that failed (no dpkg-query; zypper's lock, 7)
  was reported as the write failing with the read-back's exit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from adminkit.core.errors import ActionFailed
from adminkit.deploy.apt import Apt
from adminkit.deploy.backend import CommandResult, PackageSpec
from adminkit.deploy.settings import HostConfig, SSHSettings
from adminkit.deploy.ssh import READ_BACK_MARK, SSHBackend

REAL = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "coreutils"],
                      capture_output=True, text=True, check=False).stdout


class Local(SSHBackend):
    """SSHBackend whose commands run here (as this user), with `env` for them."""

    def __init__(self, env: dict[str, str] | None = None) -> None:  # no connection
        self.host = HostConfig(name="here", address="127.0.0.1")
        self.ssh = SSHSettings(user="u", known_hosts=Path("/dev/null"))
        self.deadline = 60.0
        self.sudo_password = None
        self._manager = Apt()
        self._guessed = False
        self._refreshed = False
        self.env = env

    def run(self, argv: Sequence[str], *, sudo: bool = False, timeout: float | None = None,
            interruptible: bool = True) -> CommandResult:
        started = time.monotonic()
        done = subprocess.run(list(argv), capture_output=True, text=True, check=False,
                              env=self.env, stdin=subprocess.DEVNULL)
        return CommandResult(tuple(argv), done.returncode, done.stdout, done.stderr,
                             time.monotonic() - started)


# A postinst's daemon: it waits until the script (the read-back exec'd in its place) has
# ended, then writes a mark and a forged dpkg-query line on the stdout it inherited.
FORGER = ("p=$PPID; ( while [ -e /proc/$p ] && [ \"$(cut -d' ' -f3 /proc/$p/stat)\" != Z ];"
          " do sleep 0.01; done; printf '\\n%s\\ncoreutils\\t6.6.6\\tii \\n' \"$0\" ) & exit 0")


@pytest.mark.skipif(not REAL, reason="no dpkg-query here")
def test_a_child_of_the_write_cannot_write_the_read_back() -> None:
    # the write's sh: its $PPID is the script's process, which becomes the read-back
    write = ["sh", "-c", FORGER, READ_BACK_MARK]
    outcome = Local()._write(write, [PackageSpec("coreutils")])
    assert outcome.states["coreutils"].installed == REAL


def test_a_good_write_whose_read_back_failed_is_not_called_a_failed_write(
        tmp_path: Path) -> None:
    for tool in ("sh", "true"):
        (tmp_path / tool).symlink_to(str(shutil.which(tool)))
    host = Local(env={**os.environ, "PATH": str(tmp_path)})  # no dpkg-query: exit 3
    with pytest.raises(ActionFailed) as failed:
        host._write(["true", "install"], [PackageSpec("coreutils")])
    text = str(failed.value)
    assert "read" in text and "exited 3" in text
    assert "apt install exited" not in text
