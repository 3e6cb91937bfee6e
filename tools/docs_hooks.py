"""MkDocs hooks: the reference pages, made from the installed adminkit at build time.

`adminkit.cli.docgen` walks the CLI's command tree (what `--help` prints) and the
playbook JSON Schema; this adds those pages to the site and lists every command page
under the "Commands" entry of the nav, so nothing needs editing when a group is added.
"""

from __future__ import annotations

from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

from adminkit.cli.docgen import Page, pages

COMMANDS = "Commands"
_made: list[Page] = []


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    _made[:] = pages()
    commands = [p for p in _made if p.path.startswith("reference/commands/")]
    for i, entry in enumerate(config.nav or []):
        if isinstance(entry, dict) and COMMANDS in entry:
            config.nav[i] = {COMMANDS: [{"Overview": commands[0].path},
                                        *({p.title: p.path} for p in commands[1:])]}
    return config


def on_files(files: Files, config: MkDocsConfig, **_: Any) -> Files:
    for page in _made:
        files.append(File.generated(config, page.path, content=page.text))
    return files
