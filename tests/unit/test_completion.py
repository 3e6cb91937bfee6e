"""Shell completion through the real entry point, as bash asks for it on Tab."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


def complete(line: str, **env: str) -> list[str]:
    """What `adminkit` offers for the last word of `line` (bash's protocol)."""
    words = line.split()
    cword = len(words) if line.endswith(" ") else len(words) - 1
    # The installed script: completion's variable is named after the program (_ADMINKIT_…).
    done = subprocess.run([str(Path(sys.executable).with_name("adminkit"))], capture_output=True,
                          text=True, timeout=60, check=True,
                          env={**os.environ, "_ADMINKIT_COMPLETE": "complete_bash",
                               "COMP_WORDS": line, "COMP_CWORD": str(cword), **env})
    return done.stdout.split()


@pytest.fixture
def profiles(env: Any) -> Any:
    for name in ("acme", "acme-old", "zeta"):
        (env.profiles / f"{name}.yaml").write_text("description: x\n")
    (env.profiles / "notes.txt").write_text("not a profile\n")
    (env.profiles / ".hidden.yaml").write_text("description: x\n")
    return env


def test_profile_names_for_the_option_and_the_arguments(profiles: Any) -> None:
    assert complete("adminkit -p ") == ["acme", "acme-old", "zeta"]
    assert complete("adminkit --profile ac") == ["acme", "acme-old"]
    assert complete("adminkit profile check ") == ["acme", "acme-old", "zeta"]
    assert complete("adminkit profile show z") == ["zeta"]


def test_a_config_folder_typed_earlier_is_the_one_read(profiles: Any, tmp_path: Path) -> None:
    other = tmp_path / "other"
    (other / "profiles").mkdir(parents=True)
    (other / "profiles" / "beta.yaml").write_text("description: x\n")
    assert complete(f"adminkit --config {other} -p ") == ["beta"]
    assert complete("adminkit profile show ", ADMINKIT_CONFIG=str(other)) == ["beta"]


def test_playbook_names_own_and_shipped(env: Any) -> None:
    own = env.config / "playbooks"
    own.mkdir()
    (own / "onboard-contractor.yaml").write_text("name: onboard-contractor\nsteps: []\n")
    offered = complete("adminkit run ")
    assert "onboard-contractor" in offered and "offboard-user" in offered
    assert complete("adminkit run onboard-") == ["onboard-contractor", "onboard-user"]
    assert complete("adminkit playbook validate reset") == ["reset-password"]


def test_commands_are_completed_through_the_lazy_root(env: Any) -> None:
    assert complete("adminkit do") == ["doctor"]
    assert "new" in complete("adminkit profile ")


def offered(line: str) -> list[str]:
    """The raw candidates, one a line as bash's IFS=$'\\n' reads them."""
    words = line.split()
    done = subprocess.run([str(Path(sys.executable).with_name("adminkit"))], capture_output=True,
                          text=True, timeout=60, check=True,
                          env={**os.environ, "_ADMINKIT_COMPLETE": "complete_bash",
                               "COMP_WORDS": line, "COMP_CWORD": str(len(words))})
    return done.stdout.splitlines()


def odd_names(folder: Path) -> None:
    """Files a shell would split, run or mistake for an option, and ones nothing loads."""
    folder.mkdir(exist_ok=True)
    (folder / "acme.yaml").write_text("description: x\n")
    for name in ("has space", "new\nline", "$(touch pwned)", "--help", "Upper", "-x"):
        (folder / f"{name}.yaml").write_text("description: x\n")
    (folder / "dir.yaml").mkdir()
    os.mkfifo(folder / "fifo.yaml")
    (folder / "gone.yaml").symlink_to(folder / "nowhere")
    (folder / "linked.yaml").symlink_to(folder / "acme.yaml")


def test_profile_names_offered_are_only_names_that_load(env: Any) -> None:
    odd_names(env.profiles)
    (env.profiles / "other.yml").write_text("description: x\n")  # profiles are *.yaml only
    assert offered("adminkit -p ") == ["acme", "linked"]
    assert offered("adminkit profile show ") == ["acme", "linked"]


def test_playbook_names_offered_are_words_a_shell_keeps_whole(env: Any) -> None:
    odd_names(env.config / "playbooks")
    names = offered("adminkit run ")
    assert "acme" in names and "linked" in names and "offboard-user" in names
    assert not {"has space", "new", "line", "$(touch pwned)", "--help", "-x", "dir", "fifo",
                "gone"} & set(names), names


def test_the_profile_name_rule_is_the_one_profiles_are_loaded_by() -> None:
    from adminkit.cli import complete
    from adminkit.core import config

    assert complete.PROFILE_NAME.pattern == config.PROFILE_NAME.pattern
