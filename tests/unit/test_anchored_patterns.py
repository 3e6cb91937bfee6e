"""A validating pattern that ends in `$` also takes the text with a newline after it:
Python's `re` lets `$` match before a final "\n". A name, id or login that passed so
would reach a server or a file name with the newline. Every pattern compiled in src/
that anchors the end says `\\Z` instead (pydantic's `pattern=` is not Python's `re`: its
`$` is the end of the text).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "adminkit"
ENDS_WITH_DOLLAR = re.compile(r're\.compile\(\s*r"\^[^"]*\$"')


def test_no_compiled_pattern_in_src_ends_with_a_dollar() -> None:
    found = [f"{path.relative_to(SRC)}:{text.count(chr(10), 0, m.start()) + 1}"
             for path in sorted(SRC.rglob("*.py"))
             for text in [path.read_text(encoding="utf-8")]
             for m in ENDS_WITH_DOLLAR.finditer(text)]
    assert found == []


@pytest.mark.parametrize(("module", "name", "good"), [
    ("adminkit.automation.runlock", "RUN_ID", "R-20261206-231248-63efb6"),
    ("adminkit.playbook.inputs", "EMAIL", "jiri@example.com"),
    ("adminkit.deploy.backend", "NAME", "vim"),
    ("adminkit.deploy.apt", "NAME", "vim"),
    ("adminkit.deploy.settings", "HOST_NAME", "web1"),
])
def test_a_trailing_newline_is_refused(module: str, name: str, good: str) -> None:
    import importlib

    pattern = getattr(importlib.import_module(module), name)
    assert pattern.match(good)
    assert not pattern.match(good + "\n")
