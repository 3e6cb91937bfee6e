"""A package write and its read-back travel as one exec (deploy/ssh.py WRITE_THEN_READ):
the script, run here by a real POSIX shell, runs each argument list exactly as given,
the read-back only after a write that succeeded, and hostile words stay literal. apt's
write leaves out debconf's preconfiguring only where that is the stock hook list."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from adminkit.deploy.apt import STOCK_PRE_INSTALL, WITHOUT_PRECONFIGURE, Apt
from adminkit.deploy.backend import PackageSpec
from adminkit.deploy.ssh import READ_BACK_MARK, WRITE_THEN_READ
from tests.unit.test_deploy_ssh_line import HOSTILE

PRINT = ["printf", "%s\\0"]


def both(write: list[str], read: list[str]) -> subprocess.CompletedProcess[bytes]:
    argv = ["sh", "-c", WRITE_THEN_READ, READ_BACK_MARK, str(len(write)), *write, *read]
    return subprocess.run(argv, capture_output=True, check=False)


@pytest.mark.parametrize("shell", ["sh", "dash", "bash"])
def test_each_list_runs_with_its_own_words_literally(shell: str) -> None:
    write = [*PRINT, "w", *HOSTILE]
    read = [*PRINT, "r", *reversed(HOSTILE)]
    argv = [shell, "-c", WRITE_THEN_READ, READ_BACK_MARK, str(len(write)), *write, *read]
    done = subprocess.run(argv, capture_output=True, check=True)
    before, mark, readback = done.stdout.decode().rpartition(f"\n{READ_BACK_MARK}\n")
    assert mark and before == ""  # the write's stdout went to stderr
    assert done.stderr.decode().split("\0")[:-1] == ["w", *HOSTILE]
    assert readback.split("\0")[:-1] == ["r", *reversed(HOSTILE)]


def test_a_failed_write_has_its_exit_and_no_read_back() -> None:
    done = both(["sh", "-c", "echo wrote; exit 100"], ["touch", "/nonexistent/read-ran"])
    assert done.returncode == 100
    assert READ_BACK_MARK.encode() not in done.stdout
    assert (done.stdout, done.stderr) == (b"", b"wrote\n")


def test_the_read_back_exit_is_the_scripts_after_a_good_write() -> None:
    done = both(["true"], ["sh", "-c", "echo state; exit 3"])
    assert done.returncode == 3
    assert done.stdout.decode().endswith(f"\n{READ_BACK_MARK}\nstate\n")


def test_a_write_printing_the_mark_does_not_fake_the_read_back() -> None:
    done = both(["printf", f"x\n{READ_BACK_MARK}\nfake\n"], ["echo", "real"])
    _, _, readback = done.stdout.decode().rpartition(f"\n{READ_BACK_MARK}\n")
    assert readback == "real\n"


def _apt_write(tmp_path: Path, listed: str) -> bytes:
    """apt's write script with an apt-config that lists `listed`, and a command that
    prints its arguments and what its stdin holds."""
    (tmp_path / "apt-config").write_text(f"#!/bin/sh\nprintf '%s\\n' '{listed}'\n")
    (tmp_path / "apt-config").chmod(0o755)
    show = ["sh", "-c", 'printf "[%s]" "$@"; cat', "show"]
    argv = ["sh", "-c", WITHOUT_PRECONFIGURE, STOCK_PRE_INSTALL, *show, "install", "x=1"]
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    return subprocess.run(argv, capture_output=True, check=True, env=env, stdin=subprocess.DEVNULL
                          ).stdout


def test_every_apt_write_goes_through_it_with_its_words_as_arguments() -> None:
    apt = Apt()
    for argv in (apt.install([PackageSpec("curl", "7.88")]), apt.upgrade([PackageSpec("curl")]),
                 apt.remove(["curl"], purge=True)):
        assert argv[:4] == ["sh", "-c", WITHOUT_PRECONFIGURE, STOCK_PRE_INSTALL]
        assert "curl" not in argv[2] and "apt-get" in argv[4:]


def test_the_stock_debconf_hook_alone_is_cleared(tmp_path: Path) -> None:
    out = _apt_write(tmp_path, STOCK_PRE_INSTALL)
    assert out == b"[install][x=1][-c][/dev/stdin]#clear DPkg::Pre-Install-Pkgs;\n"


def test_any_other_hook_keeps_the_list_whole(tmp_path: Path) -> None:
    other = STOCK_PRE_INSTALL + '\nDPkg::Pre-Install-Pkgs:: "/usr/bin/apt-listchanges --apt";'
    assert _apt_write(tmp_path, other) == b"[install][x=1]"
    assert _apt_write(tmp_path, 'DPkg::Pre-Install-Pkgs "";') == b"[install][x=1]"
