"""For every test, unit and integration: it leaves nothing new in the repository's
working folder (a test once wrote a secret file there, and a commit picked it up).

Only the top level is compared, before and after each test: cheap, and a relative path
written from there (a file, or a folder made for one) shows at the top.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# What the tools themselves keep there (caches, coverage, a docs build), not tests.
TOOLS = {".pytest_cache", ".mypy_cache", ".ruff_cache", ".import_linter_cache", "__pycache__",
         ".hypothesis", "site", "build", "dist"}


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C as an interactive shell leaves it. A shell without job control starts a
    background command (`pytest ... &`) with SIGINT ignored, and Python then keeps it
    ignored: the tests that send SIGINT to a run (or to the `adminkit` children, who
    inherit the ignoring) would wait for it forever."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _names() -> set[str]:
    folders = {REPO, Path.cwd()}
    return {f"{folder}/{p.name}" for folder in folders for p in folder.iterdir()
            if p.name not in TOOLS and not p.name.startswith(".coverage")}


@pytest.fixture(autouse=True)
def _leaves_no_file_in_the_working_folder() -> Iterator[None]:
    before = _names()
    yield
    left = sorted(_names() - before)
    if left:
        pytest.fail(f"the test left {', '.join(left)} in the working folder: write into "
                    "tmp_path instead", pytrace=False)


def _untracked() -> set[str] | None:
    """Every file below the repository git neither tracks nor ignores; None without git."""
    import subprocess

    try:
        out = subprocess.run(["git", "-C", str(REPO), "ls-files", "--others",
                              "--exclude-standard", "-z"], capture_output=True, check=True,
                             timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {name for name in out.decode(errors="replace").split("\0")
            if name and not TOOLS.intersection(Path(name).parts)}


@pytest.fixture(autouse=True, scope="session")
def _leaves_no_file_below_the_working_folder() -> Iterator[None]:
    """The per-test check sees the top level only: a file written into an existing folder
    (tests/unit/…) is caught here, once for the session, where a commit would pick it up."""
    before = _untracked()
    yield
    after = _untracked()
    if before is not None and after is not None and (left := sorted(after - before)):
        pytest.fail(f"the tests left {', '.join(left[:20])} in the repository: write into "
                    "tmp_path instead", pytrace=False)


@pytest.fixture(autouse=True, scope="session")
def _no_detached_delivery() -> Iterator[None]:
    """A run's leftover notes are not handed to a detached `ticket flush` (it would
    outlive the test, and race the flushes tests make themselves); the test of that
    hand-off turns it back on."""
    saved = os.environ.get("ADMINKIT_DELIVER_LATER")
    os.environ["ADMINKIT_DELIVER_LATER"] = "off"
    yield
    if saved is None:
        os.environ.pop("ADMINKIT_DELIVER_LATER", None)
    else:
        os.environ["ADMINKIT_DELIVER_LATER"] = saved


@pytest.fixture(autouse=True, scope="session")
def _bytecode_as_installed() -> None:
    """adminkit's modules compiled once, as an install (pip, a wheel) has them. Under
    PYTHONDONTWRITEBYTECODE, each of the hundreds of `adminkit` children the tests start
    would compile them from source again (~0.1 s each); an up-to-date .pyc is skipped,
    and a module a test changes is compiled afresh as it would be after an upgrade."""
    import compileall

    compileall.compile_dir(REPO / "src", quiet=1)

