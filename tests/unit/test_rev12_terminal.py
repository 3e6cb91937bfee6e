"""Second review of issue 12, terminal output: characters that show as nothing at all
(zero-width spaces and joiners, the BOM, the soft hyphen) and the line separators, in a
ticket's subject and note, through a real pseudo-terminal; JSON stays exact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.test_terminal_output import in_a_terminal, plain

UNSEEN = {"\u200b": "\\u200b", "\u200c": "\\u200c", "\u200d": "\\u200d",
          "\u2060": "\\u2060", "\ufeff": "\\ufeff", "\u00ad": "\\u00ad",
          "\u2028": "\\u2028", "\u2029": "\\u2029"}
SUBJECT = "Reset jno" + "".join(UNSEEN) + "vak"


def _plain(tmp_path: Path, *args: str) -> str:
    return plain(tmp_path, *args).stdout


@pytest.mark.parametrize("command", [["ticket", "list"], ["ticket", "show", "local:1"]])
def test_invisible_characters_are_shown(tmp_path: Path, command: list[str]) -> None:
    _plain(tmp_path, "ticket", "new", SUBJECT)
    _plain(tmp_path, "ticket", "note", "local:1", SUBJECT)
    out = in_a_terminal(tmp_path, *command).decode()
    for char, shown in UNSEEN.items():
        assert char not in out, (repr(char), out)
        assert shown in out, (shown, out)


def test_json_keeps_invisible_characters_exact(tmp_path: Path) -> None:
    _plain(tmp_path, "ticket", "new", SUBJECT)
    [row] = json.loads(_plain(tmp_path, "ticket", "list", "-o", "json"))
    assert row["subject"] == SUBJECT
