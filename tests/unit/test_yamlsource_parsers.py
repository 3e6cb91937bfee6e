"""yamlsource reads with libyaml's parser (C) and words errors with the pure-Python one.

Both must give the same data and the same positions for every value (error messages
name file:line:col from them), and an invalid file the same message as before.
"""

from __future__ import annotations

import random
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


# -- where libyaml was more lenient: the same file read two ways ----------------------------
# Found by running both parsers on the same texts (the seeded run below finds them again).
# Before, libyaml's reading won wherever it did not fail, so these loaded, or loaded
# otherwise, only where PyYAML had libyaml: now they are read (and refused) one way.
LENIENT = [
    "a: \tb\n",  # the issue's own case
    "a:\tb\n", "a\t: b\n", "a: b\t\n", "a: b\t# c\n", "a: b\tc\n", "x:\n  a: \tb\n",
    "a: [\tb]\n", "{a: \tb}\n",
    "\ufeff\ufeff", "a: 1\n\ufeffb: 2\n", "\n\ufeff=",  # a byte-order mark past the start
    "? \x85\ufeff",
    ">#c", "a: |#\n  x\n",  # a comment glued to a block scalar's header
    "[? k: v\n ...\n? ]", "{-\\? \"1}", "[1!!str <<: a- x\n\na? ]", "{? }",
]
MORE = [  # read alike already; kept so that it stays so
    "a: 1\na: 2\n", "1: a\n'1': b\n",  # duplicate keys
    "b: &b {x: 1}\nc:\n  <<: *b\n  x: 2\n", "a: &a 1\nc:\n  <<: *a\n",  # merges
    "a: &a {x: 1}\nb: &b {<<: *a}\nc: {<<: *b}\n",
    "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n",  # a bomb
    "a: " + "[" * 40 + "]" * 40 + "\n", "a: " + "[" * 200 + "]" * 200 + "\n",
    "".join("  " * i + f"k{i}:\n" for i in range(40)) + "  " * 40 + "v\n",
    "a: b\x85c: d\n", "a: b\u2028c\n", "a: b\x00c\n", "a: b\x1bc\n", "a: b\ufffec\n",
    "a: \U0001F600\n",
    "a: 1\rb: 2\r", "a: 1\n---\nb: 2\n", "%YAML 1.2\n---\na: 1\n", "%YAML 2.0\n---\na: 1\n",
    "a: !!python/object:os.system x\n", "a: !foo x\n", "a: !!binary aGVsbG8=\n",
    "a: !!timestamp 2001-99-99\n", "&k a: 1\nb: *k\n", "k" * 1100 + ": 1\n",
    'a: "\\ud800"\n', "a: " + "9" * 5000 + "\n", "url: https://x.example/?a=b&c\n",
]
BYTES = [b"a: \xe9\n", b"a: b\nc: \xff\xfe\n", b"\xef\xbb\xbfa: 1\n",
         "a: 1\n".encode("utf-16"), b"\xfe\xff" + "a: 1\n".encode("utf-16-be"),
         b"a: \xef\xbb\xbf\n", b"a: \tb\n"]


@pytest.mark.parametrize("text", LENIENT + MORE)
def test_both_parsers_give_one_result(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path = Path("t.yaml")
    fast = _outcome(text, path)
    assert fast == _pure(text, path, monkeypatch)
    assert _outcome(text.encode("utf-8"), path) == _pure(text.encode("utf-8"), path,
                                                        monkeypatch)


@pytest.mark.parametrize("raw", BYTES, ids=repr)
def test_both_parsers_give_one_result_for_these_bytes(raw: bytes,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    assert _outcome(raw, Path("t.yaml")) == _pure(raw, Path("t.yaml"), monkeypatch)


def test_a_tab_as_white_space_is_refused_with_either(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = _outcome("a: \tb\n", Path("t.yaml"))
    assert fast == ("error", "t.yaml:1:4: not valid YAML: found character '\\t' that "
                             "cannot start any token")
    assert fast == _pure("a: \tb\n", Path("t.yaml"), monkeypatch)
    # a tab inside quotes or a block scalar is text, with either
    assert _outcome("a: '\tx'\nb: |\n  \ty\n", Path("t.yaml"))[0] == {"a": "\tx", "b": "\ty\n"}


@pytest.mark.parametrize("text", ['a: "\\U00110000"\n', "a: \ud800\n"])
def test_what_crashed_both_is_a_config_error(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An escape past Unicode (PyYAML's chr() raised ValueError) and a lone surrogate in a
    text (libyaml's encoder raised UnicodeEncodeError) were internal errors."""
    fast = _outcome(text, Path("t.yaml"))
    assert fast[0] == "error" and "not valid YAML" in fast[1]
    assert fast == _pure(text, Path("t.yaml"), monkeypatch)


PIECES = ["a", "b", ": ", ":", "- ", "-", "\n", "  ", " ", "[", "]", "{", "}", ",", "&x ",
          "*x", "<<: ", "? ", "#c", "'", '"', "|", ">", "!!str ", "!t ", "---\n", "...\n",
          "\\", "%YAML 1.1\n", "1", "~", "@", "`", "\r", "\x85", "\u2028", "\ufeff", "é",
          "\x00", "\x07", "\t", "\U0001F600", "=", "k: v\n", "- x\n", "  y: z\n", "?"]


def test_seeded_texts_read_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    """Short texts of YAML's significant pieces, the same every run: each reads to the
    same data (or the same error) with libyaml as with the pure-Python parser. The
    root's position of an empty document may differ; nothing reads it."""
    rng = random.Random(12)
    path = Path("t.yaml")
    for _ in range(3000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 12)))
        fast, slow = _outcome(text, path), _pure(text, path, monkeypatch)
        if fast[0] is None and slow[0] is None:
            continue
        assert fast == slow, text


@pytest.mark.parametrize("tag", ["int", "bool", "float", "timestamp"])
def test_a_tagged_value_its_constructor_fails_on_is_a_config_error(
        tag: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`!!int ` (empty) was IndexError, `!!bool ` KeyError, `!!timestamp x` AttributeError
    from inside PyYAML: internal errors, with either parser."""
    for text in (f"a: !!{tag} \n", f"a: !!{tag} x\n"):
        fast = _outcome(text, Path("t.yaml"))
        assert fast[0] == "error" and fast[1].startswith("t.yaml:1:4: cannot read this value"), \
            fast
        assert fast == _pure(text, Path("t.yaml"), monkeypatch)
