"""Second review of issue 12, files a person names: the path options the first fix did
not reach. `journal verify --anchors-from` read a FIFO or /dev/zero whole (hang,
MemoryError); `report monthly --out` wrote through a planted link, with the umask's mode,
and a folder there was an internal error."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

GUARD = 60  # seconds: only so that a hang fails the test instead of stalling the suite


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def adminkit(*args: str, stdin: int | None = subprocess.DEVNULL,
             umask: int | None = None) -> subprocess.CompletedProcess[str]:
    def before() -> None:
        _limit_memory()
        if umask is not None:
            os.umask(umask)

    try:
        return subprocess.run([sys.executable, "-m", "adminkit.cli.main", *args],
                              capture_output=True, text=True, timeout=GUARD, check=False,
                              preexec_fn=before, stdin=stdin)
    except subprocess.TimeoutExpired:
        pytest.fail(f"adminkit {' '.join(args)} hung")


def assert_usage_error(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stderr.startswith("error: "), proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("which", ["fifo", "zero", "zero-link", "folder"])
def test_anchors_from_something_endless_is_refused(env, tmp_path: Path, fifo: Path,
                                                   which: str) -> None:
    link = tmp_path / "notes.txt"
    link.symlink_to("/dev/zero")
    source = {"fifo": fifo, "zero": Path("/dev/zero"), "zero-link": link,
              "folder": tmp_path}[which]
    assert_usage_error(adminkit("journal", "verify", "--anchors-from", str(source)))


def test_anchors_from_endless_standard_input_is_refused(env) -> None:
    with open("/dev/zero", "rb") as zero:
        proc = adminkit("journal", "verify", "--anchors-from", "-", stdin=zero.fileno())
    assert_usage_error(proc)


def test_anchors_from_a_file_still_reads_it(env, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("nothing to see\n")
    proc = adminkit("journal", "verify", "--anchors-from", str(notes))
    assert_usage_error(proc)
    assert "no 'journal head SEQ:HASH' in it" in proc.stderr


@pytest.fixture
def profile(env) -> str:
    (env.profiles / "acme.yaml").write_text("description: acme\n")
    return "acme"


def test_report_out_is_0600_whatever_the_umask(profile: str, tmp_path: Path) -> None:
    out = tmp_path / "acme.html"
    proc = adminkit("-p", profile, "report", "monthly", "--month", "2026-11", "--out",
                    str(out), umask=0)
    assert proc.returncode == 0, proc.stderr
    for path in (out, out.with_suffix(".csv")):
        assert path.stat().st_mode & 0o777 == 0o600, path
    assert "<html" in out.read_text()


def test_report_out_never_writes_through_a_planted_link(profile: str,
                                                       tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    out = tmp_path / "acme.html"
    out.symlink_to(victim)
    assert_usage_error(adminkit("-p", profile, "report", "monthly", "--month", "2026-11",
                                "--out", str(out)))
    assert victim.read_text() == "precious\n"


@pytest.mark.parametrize("which", ["folder", "fifo"])
def test_report_out_that_is_not_a_file_is_refused(profile: str, tmp_path: Path, fifo: Path,
                                                  which: str) -> None:
    out = tmp_path if which == "folder" else fifo
    assert_usage_error(adminkit("-p", profile, "report", "monthly", "--month", "2026-11",
                                "--out", str(out)))
