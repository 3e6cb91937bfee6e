"""Global options are accepted anywhere on the command line."""

from __future__ import annotations

import pytest

from adminkit.cli.main import hoist_globals


@pytest.mark.parametrize(("argv", "expected"), [
    (["journal", "list", "-o", "json"], ["-o", "json", "journal", "list"]),
    (["account", "create", "--check", "--surname", "X", "--profile=acme"],
     ["--check", "--profile=acme", "account", "create", "--surname", "X"]),
    (["-p", "lab", "account", "create", "--ticket", "42"],
     ["-p", "lab", "--ticket", "42", "account", "create"]),
    # after "--" everything is an argument, even if it looks like an option
    (["run", "--", "-o", "json"], ["run", "--", "-o", "json"]),
    # a value-taking option at the very end is left for click to report
    (["journal", "list", "-o"], ["journal", "list", "-o"]),
])
def test_hoist_globals(argv: list[str], expected: list[str]) -> None:
    assert hoist_globals(argv) == expected
