"""Playbook inputs that are not UTF-8 text (argv bytes, a YAML escape) (rev11a)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adminkit.core.errors import ValidationError
from adminkit.journal.store import Filters, Journal
from adminkit.playbook.inputs import resolve_inputs
from adminkit.playbook.model import Playbook

BOOK = Playbook.model_validate({"name": "t", "inputs": {"login": {"type": "string"},
                                                        "groups": {"type": "list"}},
                                "steps": [{"uses": "account.unlock"}]})


@pytest.mark.parametrize("given", [{"login": "ab\udcff"}, {"login": "x", "groups": "a,\udcffb"}])
def test_an_input_that_is_not_utf8_is_refused(given: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="is not UTF-8 text"):
        resolve_inputs(BOOK, {"groups": "g", **given})


def test_utf8_text_is_still_taken() -> None:
    assert resolve_inputs(BOOK, {"login": "jnovák", "groups": "účetní, ☃"}) == {
        "login": "jnovák", "groups": ["účetní", "☃"]}


def test_a_run_given_argv_bytes_that_are_not_utf8_is_a_usage_error(env: Any, cli: Any) -> None:
    """`-i login=$'ab\\xff'`: Python hands the byte over as a lone surrogate, which the
    journal's UTF-8 could not hold ("internal error: UnicodeEncodeError")."""
    (env.profiles / "acme.yaml").write_text("description: x\n")
    res = cli("--profile", "acme", "run", "unlock-account", "-i", "login=ab\udcff")
    assert res.code == 2, res.err
    assert "input login: is not UTF-8 text (character 3)" in res.err
    assert "internal error" not in res.err


def test_an_inputs_file_escape_that_is_not_utf8_is_refused(env: Any, cli: Any,
                                                           tmp_path: Path) -> None:
    (env.profiles / "acme.yaml").write_text("description: x\n")
    inputs = tmp_path / "in.yaml"
    inputs.write_text('login: "ab\\udcff"\n')
    res = cli("--profile", "acme", "run", "unlock-account", "--inputs", str(inputs))
    assert res.code == 2, res.err
    assert "is not UTF-8 text" in res.err
    if env.journal.exists():
        journal = Journal(env.journal)
        try:
            assert journal.entries(Filters(kinds=("run",))) == []
        finally:
            journal.close()
