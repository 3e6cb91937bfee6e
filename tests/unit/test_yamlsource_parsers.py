"""yamlsource reads with libyaml's parser (C) and words errors with the pure-Python one.

Both must give the same data and the same positions for every value (error messages
name file:line:col from them), and an invalid file the same message as before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from adminkit.core import yamlsource
from adminkit.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted([*ROOT.glob("playbooks/*.yaml"), *ROOT.glob("*.yml"), *ROOT.glob("*.yaml")])

SNIPPETS = [
    "a: 1\nb: [x, y, {c: d}]\n",
    "name: Jiří Novák\nnote: \"tab\\there\"\nempty:\nnull_: ~\n",
    "base: &b {x: 1, y: 2}\nderived:\n  <<: *b\n  y: 3\n",
    "multi: |\n  line one\n  line two\nfolded: >\n  a\n  b\nplain: a\n  continued\n",
    "- 1\n- 2.5\n- true\n- 2024-01-02\n- '0x1F'\n- 0x1F\n- .inf\n",
    "%YAML 1.1\n---\nkey: value\n...\n",
    "\ufeffbom: yes\n",
    "k: 'it''s'\nl: \"\\u00e9\"\n",
    "# only a comment\n",
    "",
    "a: &x [1, 2]\nb: *x\n",
    "? complex\n: value\n",
]
BROKEN = [
    "a: [1, 2\n",
    "a: b: c\n",
    "a:\n  - x\n - y\n",
    "a: 'unterminated\n",
    "a: *missing\n",
    "\ta: 1\n",
    "a: 1\na: 2\n",
    "key: @reserved\n",
    "a: " + "[" * 2000 + "]" * 2000 + "\n",
]


def _pure(raw: str | bytes, path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as m:
        m.delattr(yaml, "CSafeLoader")
        return _outcome(raw, path)


def _outcome(raw: str | bytes, path: Path) -> Any:
    try:
        src = yamlsource.loads(raw, path)
    except ConfigError as exc:
        return ("error", str(exc))
    return (src.data, src.positions, src.digest)


def test_libyaml_is_what_reads() -> None:
    """Where PyYAML has libyaml (its wheels do), the fast parser is the one used."""
    assert getattr(yaml, "CSafeLoader", None) is not None
    assert yamlsource._fast_compose("a: 1\n") is not yamlsource._UNREAD


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_the_repositorys_files_read_the_same(path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    raw = path.read_bytes()
    assert _outcome(raw, path) == _pure(raw, path, monkeypatch)


@pytest.mark.parametrize("text", SNIPPETS + BROKEN)
def test_values_positions_and_errors_are_the_same(text: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = Path("t.yaml")
    fast = _outcome(text, path)
    assert fast == _pure(text, path, monkeypatch)
    assert fast == _outcome(text.encode("utf-8"), path)
    if text in BROKEN and "a: 1\na: 2" not in text:
        assert fast[0] == "error"


def test_the_lab_profiles_read_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from adminkit.core.config import dump_profile
    from adminkit.lab.lab import Lab

    for name, data in Lab(lab_dir=tmp_path / "lab", config_dir=tmp_path).profile_data().items():
        raw = dump_profile(data)
        path = tmp_path / f"{name}.yaml"
        assert _outcome(raw, path) == _pure(raw, path, monkeypatch)
