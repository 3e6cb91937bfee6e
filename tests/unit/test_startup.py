"""`adminkit --help` starts without loading any backend or heavy library."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BACKENDS = ("ldap3", "paramiko", "cups", "winrm", "msgraph", "azure", "httpx", "keyring",
            "aiosmtpd", "smtplib", "sqlite3", "anyascii", "translitua")
HEAVY = (*BACKENDS, "pydantic", "pydantic_core", "yaml", "rich")
# What the root's help, version and completion do without: every sub-command group.
GROUPS = ("account_cmd", "group_cmd", "journal_cmd", "lab_cmd", "playbook_cmd", "profile_cmd",
          "run_cmd", "ticket_cmd", "output", "session")

PROBE = """
import atexit, json, sys

def dump():
    with open({out!r}, "w") as f:
        json.dump(sorted(sys.modules), f)

atexit.register(dump)
sys.argv = ["adminkit", *{args!r}]
from adminkit.cli.main import main
main()
"""


def _modules_after(tmp_path: Path, *args: str, env: dict[str, str] | None = None,
                   ) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    out = tmp_path / "modules.json"
    code = PROBE.format(out=str(out), args=list(args))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False, env={**os.environ, **(env or {})})
    assert out.exists(), proc.stderr  # the atexit hook ran
    return proc, set(json.loads(out.read_text()))


# not pydantic: core.entrypoints' stand-in for its plug-in loader, put in sys.modules
# before typer runs (no_pydantic_plugin_scan), which imports nothing
STAND_IN = "pydantic.plugin._loader"


def _heavy(modules: set[str], names: tuple[str, ...] = HEAVY) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in names and m != STAND_IN)


def _groups(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.removeprefix("adminkit.cli.") in GROUPS)


@pytest.mark.parametrize(("args", "env", "typer_answers"), [
    (("--help",), {}, False),  # answered without typer (cli/roothelp.py)
    (("-h",), {}, False),
    (("--version",), {}, False),
    (("--help",), {"COLUMNS": "60"}, True),  # a narrow terminal: Typer lays it out
    (("--debug", "--help"), {}, True),
])
def test_help_loads_no_heavy_library(tmp_path: Path, args: tuple[str, ...],
                                     env: dict[str, str], typer_answers: bool) -> None:
    proc, modules = _modules_after(tmp_path, *args, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout  # it printed the help or the version
    assert "adminkit.cli.main" in modules  # the probe saw the real import
    assert ("typer" in modules) is typer_answers
    assert _heavy(modules) == []
    assert _groups(modules) == []
    assert "adminkit.core.secrets" not in modules


@pytest.mark.parametrize(("words", "expected"), [
    ("adminkit ", "journal"),  # the sub-command names, from the root's list
    ("adminkit --ou", "--output"),  # the root's options
])
def test_completion_loads_no_group(tmp_path: Path, words: str, expected: str) -> None:
    proc, modules = _modules_after(tmp_path, env={"_ADMINKIT_COMPLETE": "complete_zsh",
                                                  "_TYPER_COMPLETE_ARGS": words})
    assert proc.returncode == 0, proc.stderr
    assert f'"{expected}"' in proc.stdout
    assert _groups(modules) == []
    # Not pydantic nor rich: typer coerces the root's options through pydantic, even to
    # complete them, and cleans the help it offers with rich.
    assert _heavy(modules, (*BACKENDS, "yaml")) == []


def test_completion_of_a_group_loads_that_group_alone(tmp_path: Path) -> None:
    proc, modules = _modules_after(tmp_path, env={"_ADMINKIT_COMPLETE": "complete_zsh",
                                                  "_TYPER_COMPLETE_ARGS": "adminkit account "})
    assert proc.returncode == 0, proc.stderr
    assert '"create"' in proc.stdout
    assert _groups(modules) == ["adminkit.cli.account_cmd"]


@pytest.mark.parametrize("group", ["account", "journal", "profile", "lab", "run"])
def test_group_help_loads_no_backend(tmp_path: Path, group: str) -> None:
    # Not pydantic: typer (>= 0.2x) itself coerces the root callback's options through
    # pydantic TypeAdapters as soon as a sub-command is invoked.
    proc, modules = _modules_after(tmp_path, group, "--help")
    assert proc.returncode == 0, proc.stderr
    assert "Usage:" in proc.stdout
    assert _heavy(modules, (*BACKENDS, "rich", "yaml")) == []
    # the invoked group alone is imported (the lazy root group), not what its commands use
    assert _groups(modules) == [f"adminkit.cli.{group}_cmd"]
    assert "adminkit.core.secrets" not in modules


def test_help_with_importtime(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c",
                           "import sys; sys.argv=['adminkit','--help']; "
                           "from adminkit.cli.main import main; main()"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0
    assert "Usage:" in proc.stdout
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:")}
    assert "adminkit.cli.main" in imported
    assert _heavy(imported) == []


def test_the_probe_would_notice_a_heavy_import(tmp_path: Path) -> None:
    """Control: a command that needs pydantic does show up as loading it."""
    proc, modules = _modules_after(tmp_path, "--config", str(tmp_path), "profile", "show", "x")
    assert proc.returncode == 2
    assert "pydantic" in modules
