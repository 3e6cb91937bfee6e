"""The warm process builds the click command tree once, whole (every sub-command, each
option's coercion and `--help`), and its children parse with it (cli/main.py
`root_command`, cli/warmstart.py `_build_all`): the same help, errors and parse as a
cold run, and nothing one run does to the tree or its context reaches the next."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit import test_warmstart as warmstart_tests
from tests.unit.test_warmstart import Warm, _same

base_env = warmstart_tests.base_env  # the fixtures: a warm process of a test's own
warm = warmstart_tests.warm
hangup = warmstart_tests.hangup_as_a_terminal_has_it  # autouse: SIGHUP as a terminal's


@pytest.mark.parametrize(("args", "code"), [
    (["queue", "purge", "--help"], 0),
    (["job", "list", "--help"], 0),
    (["printer", "--help"], 0),
    (["job", "list", "-h"], 0),
    (["queue", "purge"], 2),  # the printer missing
    (["job", "list", "--state", "bogus"], 2),
    (["job", "list", "--older-than"], 2),  # an option's value missing
    (["job", "cancel", "abc"], 2),
    (["queue", "purge", "front desk/x"], 2),
    (["printer", "pause", "--no-such-option", "x"], 2),
    (["probe", "scribble", "--help"], 0),
])
def test_help_and_errors_say_the_same_warm_and_cold(warm: Warm, args: list[str],
                                                    code: int) -> None:
    assert _same(warm, *args).returncode == code


def test_an_option_from_the_environment_is_each_runs_own(warm: Warm,
                                                        tmp_path: Path) -> None:
    """`--config` comes from ADMINKIT_CONFIG when not given: read per run, in the child."""
    for name in ("acme", "beta"):
        (tmp_path / name / "profiles").mkdir(parents=True)
        (tmp_path / name / "profiles" / f"{name}.yaml").write_text("description: x\n")
    said = []
    for name in ("acme", "beta", "acme"):
        result = _same(warm, "profile", "list",
                       extra={"ADMINKIT_CONFIG": str(tmp_path / name)})
        assert result.returncode == 0, result.stderr
        said.append(result.stdout)
    assert b"acme" in said[0] and b"beta" not in said[0]
    assert b"beta" in said[1] and b"acme" not in said[1] and said[2] == said[0]


def test_what_a_run_does_to_the_tree_never_reaches_the_next(warm: Warm) -> None:
    before = warm.served()
    seen = []
    for word in ("first", "second"):
        result = warm.run("probe", "scribble", "--word", word)
        assert result.returncode == 0, result.stderr
        seen.append(json.loads(result.stdout))
    assert warm.served() == before + 2
    assert seen == [{"default": "pristine", "mark": None}] * 2
