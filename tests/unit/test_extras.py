"""`adminkit --version` and `doctor` read the extras from adminkit's installed metadata."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from adminkit import __version__
from adminkit.cli import extras
from tests.unit import fakedist


@pytest.fixture
def fake_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed adminkit whose metadata names an extra that is not installed."""
    monkeypatch.syspath_prepend(str(fakedist.write(tmp_path)))
    return tmp_path


def test_the_installed_extras_are_read_from_the_metadata() -> None:
    found = {e.name: e for e in extras.extras()}
    assert "all" not in found and "dev" not in found
    assert found["cups"].needs == ("pycups",) and found["cups"].installed
    assert found["keyring"].installed


def test_a_missing_distribution_makes_the_extra_missing(fake_install: Path) -> None:
    found = {e.name: e for e in extras.extras()}
    assert set(found) == {"cups", "ghost"}
    assert found["ghost"].missing == ("no-such-dist-adminkit-test",)
    assert found["ghost"].needs == ("no-such-dist-adminkit-test", "PyYAML")
    text = extras.version_text()
    assert text.splitlines()[:2] == [f"adminkit {__version__}",
                                     "extras: cups (not installed: ghost)"]
    assert text.splitlines()[2] == "Python " + ".".join(map(str, sys.version_info[:3]))
