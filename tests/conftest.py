"""For every test, unit and integration: it leaves nothing new in the repository's
working folder (a test once wrote a secret file there, and a commit picked it up).

Only the top level is compared, before and after each test: cheap, and a relative path
written from there (a file, or a folder made for one) shows at the top.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# What the tools themselves keep there (caches, coverage, a docs build), not tests.
TOOLS = {".pytest_cache", ".mypy_cache", ".ruff_cache", ".import_linter_cache", "__pycache__",
         ".hypothesis", "site", "build", "dist"}


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
