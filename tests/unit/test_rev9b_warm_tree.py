"""Hostile review (rev9b) of the warm command tree: each run's terminal width, colour
and completion environment read by the run, not by the tree the warm process built."""

from __future__ import annotations

import pytest

from tests.unit import test_warmstart as warmstart_tests
from tests.unit.test_warmstart import Warm, _same

base_env = warmstart_tests.base_env
warm = warmstart_tests.warm
hangup = warmstart_tests.hangup_as_a_terminal_has_it


@pytest.mark.parametrize("extra", [
    {"COLUMNS": "50"}, {"COLUMNS": "200"}, {"TERMINAL_WIDTH": "60"},
    {"FORCE_COLOR": "1"}, {"NO_COLOR": "1"}, {"COLUMNS": "50", "LINES": "5"},
])
@pytest.mark.parametrize("args", [["queue", "purge", "--help"], ["job", "list", "--bogus"],
                                  ["account", "--help"]])
def test_help_follows_each_runs_terminal(warm: Warm, extra: dict[str, str],
                                         args: list[str]) -> None:
    _same(warm, *args, extra=extra)


@pytest.mark.parametrize("words", ["adminkit queue pu", "adminkit queue purge --",
                                   "adminkit job list --state ", "adminkit "])
def test_completion_is_the_same_warm_and_cold(warm: Warm, words: str) -> None:
    result = _same(warm, extra={"_ADMINKIT_COMPLETE": "complete_bash",
                                "_TYPER_COMPLETE_ARGS": words, "COMP_WORDS": words,
                                "COMP_CWORD": str(len(words.split(" ")) - 1)})
    assert result.returncode == 0 and result.stdout


def test_completion_after_a_run_that_scribbled_is_pristine(warm: Warm) -> None:
    assert warm.run("probe", "scribble", "--word", "x").returncode == 0
    words = "adminkit probe scribble --"
    result = _same(warm, extra={"_ADMINKIT_COMPLETE": "complete_bash",
                                "_TYPER_COMPLETE_ARGS": words, "COMP_WORDS": words,
                                "COMP_CWORD": "3"})
    assert b"--word" in result.stdout
