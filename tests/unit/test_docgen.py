"""The docs site's reference pages are what the code says: `--help`, the schemas, the actions."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from adminkit.cli import docgen
from adminkit.cli.commands import sub_commands
from adminkit.core.domains import actions

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"^#+ `(adminkit[^`]*)`\n\n<!-- \w+ -->\n\n```text\n(.*?)```\n", re.M | re.S)


def blocks() -> dict[str, str]:
    found = {}
    for page in docgen.command_pages()[1:]:
        for path, text in BLOCK.findall(page.text):
            found[path] = text
    return found


def test_every_command_block_is_what_its_help_prints(cli: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "120")  # click wraps at 78 on any terminal of 80 or more
    found = blocks()
    assert {p.split()[1] for p in found} == set(sub_commands())
    assert "adminkit profile new" in found and "adminkit account bulk disable" in found
    for path, text in found.items():
        res = cli(*path.split()[1:], "--help")
        assert res.code == 0, path
        assert res.out == text, path


def test_the_index_lists_every_group_with_its_page(cli: Any,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    index = docgen.command_pages()[0]
    assert index.path == "reference/commands/index.md"
    assert f"```text\n{cli('--help').out}```" in index.text
    for name in sub_commands():
        assert f"| [`adminkit {name}`]({name}.md) |" in index.text


def test_the_playbook_reference_has_every_schema_part_and_action() -> None:
    from adminkit.playbook.model import Playbook

    text = docgen.playbook_reference().text
    schema = Playbook.model_json_schema(by_alias=True)
    for key in schema["properties"]:
        assert f"| `{key}` |" in text
    for name in schema["$defs"]:
        assert f"\n## {name}\n" in text
    for name in actions():
        assert f"\n### `{name}`\n" in text
    assert "| `on_error` | one of `stop`, `continue`, `rollback` |  | `\"stop\"` |" in text


def test_the_profile_reference_has_each_installed_section() -> None:
    from adminkit.core.domains import sections

    text = docgen.profile_reference().text
    for key in sections():
        assert f"| `{key}` |" in text
    assert "| `bind_user` | string | yes |" in text
    assert "\\\\\\\\fs1\\\\home" in text  # a backslash shown as written: \\fs1\home


@pytest.fixture
def site_copy(tmp_path: Path) -> Path:
    """The docs site's config and pages, in a folder of their own to break."""
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    config["hooks"] = [str(ROOT / "tools" / "docs_hooks.py")]
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config))
    return tmp_path


def build(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(folder / "site")], cwd=folder, capture_output=True, text=True,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, timeout=300,
                          check=False)


def test_the_site_builds_strict_and_a_broken_link_fails_it(site_copy: Path) -> None:
    done = build(site_copy)
    assert done.returncode == 0, done.stderr
    assert (site_copy / "site" / "reference" / "commands" / "doctor" / "index.html").exists()
    assert "WARNING" not in done.stderr
    with (site_copy / "docs" / "journal.md").open("a") as page:
        page.write("\nSee [the keys](keys.md).\n")
    broken = build(site_copy)
    assert broken.returncode != 0
    assert "keys.md" in broken.stderr
