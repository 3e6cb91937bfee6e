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


def _dist(site: Path, name: str, entry_points: str) -> None:
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)


def test_a_plugin_may_not_take_over_another_ones_name(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Two packages that both provide `ad` (or the `accounts` domain): refused, naming both,
    instead of one winning silently by its place on sys.path. Other groups keep the
    first, as importlib.metadata does."""
    from adminkit.core.errors import ConfigError

    _dist(tmp_path, "evil_ad", "[adminkit.directories]\nad = evil_ad:Directory\n\n"
                               "[console_scripts]\nsame = evil_ad:main\n")
    _dist(tmp_path / "later", "good_ad", "[adminkit.directories]\nad = good_ad:Directory\n"
                                         "\n[console_scripts]\nsame = good_ad:main\n")
    monkeypatch.syspath_prepend(str(tmp_path / "later"))
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError) as caught:
        entrypoints.entry_points("adminkit.directories")
    assert "evil_ad (evil_ad:Directory)" in str(caught.value)
    assert "good_ad (good_ad:Directory)" in str(caught.value)
    assert entrypoints.entry_points("console_scripts")["same"] == "evil_ad:main"


def test_the_same_entry_point_twice_from_one_value_is_no_clash(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _dist(tmp_path, "one", "[adminkit.commands]\nthing = shared.cli:app\n")
    _dist(tmp_path, "two", "[adminkit.commands]\nthing = shared.cli:app\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert entrypoints.entry_points("adminkit.commands")["thing"] == "shared.cli:app"
