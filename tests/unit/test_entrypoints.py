"""adminkit reads entry points itself (importlib.metadata costs 90-170 ms at start-up):
its answers must be importlib.metadata's, for every group of every installed
distribution, or this fails loudly."""

from __future__ import annotations

from importlib.metadata import distributions
from pathlib import Path

import pytest

from adminkit.core import entrypoints


@pytest.fixture(autouse=True)
def fresh() -> None:
    entrypoints.forget()


def expected() -> dict[str, dict[str, str]]:
    seen: set[str] = set()
    groups: dict[str, dict[str, str]] = {}
    for dist in distributions():  # in sys.path order; the first of a name wins
        name = (dist.metadata["Name"] or "").lower().replace("-", "_").replace(".", "_")
        if name in seen:
            continue
        seen.add(name)
        for ep in dist.entry_points:
            groups.setdefault(ep.group, {}).setdefault(ep.name, ep.value)
    return groups


def test_every_group_of_every_distribution_matches_importlib_metadata() -> None:
    want = expected()
    assert "adminkit.domains" in want  # adminkit itself is installed
    for group, names in want.items():
        assert entrypoints.entry_points(group) == names, group


def test_a_distribution_added_to_the_path_is_found(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    info = tmp_path / "extra_thing-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: extra-thing\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "# a comment\n[adminkit.commands]\nthing = extra_thing.cli:app\n\n"
        "[console_scripts]\nthing=extra_thing:main\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert entrypoints.entry_points("adminkit.commands") == {"thing": "extra_thing.cli:app"}
    assert entrypoints.entry_points("console_scripts")["thing"] == "extra_thing:main"
    assert entrypoints.entry_points("no.such.group") == {}


def test_load_follows_module_and_attributes() -> None:
    assert entrypoints.load("adminkit.core.entrypoints:load") is entrypoints.load
    assert entrypoints.load("os.path:join.__name__") == "join"
