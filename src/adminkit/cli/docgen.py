"""Reference pages for the docs site, made from the code itself so they cannot drift.

The command pages are what `--help` prints, for every command of every group, read
from the click tree the CLI runs (a group a plug-in adds gets its page by itself). The
playbook reference is `adminkit playbook schema` (the JSON Schema) as tables, and the
actions a step can use with their parameters, from their pydantic models. The docs
site's MkDocs hook (tools/docs_hooks.py) adds them to the site at build time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typer._click import Command, Context

WIDTH = 78  # what click wraps help at on any terminal of 80 columns or more
PROG = "adminkit"


@dataclass(frozen=True)
class Page:
    path: str  # below the docs folder, e.g. reference/commands/account.md
    title: str
    text: str


def root_command() -> Command:
    import typer

    from adminkit.cli.app import app

    return typer.main.get_command(app)


def _context(command: Command, name: str, parent: Context | None) -> Context:
    from typer._click import Context

    settings = dict(command.context_settings)  # -h as well as --help, as click makes it
    if parent is None:
        settings.update(terminal_width=WIDTH)
    return Context(command, info_name=name, parent=parent, **settings)


def walk(command: Command, ctx: Context) -> Iterator[tuple[Context, Command]]:
    """`command` and every sub-command below it, depth first, as `--help` sees each."""
    from typer.core import TyperGroup

    yield ctx, command
    if isinstance(command, TyperGroup):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from walk(sub, _context(sub, name, ctx))


def help_text(ctx: Context, command: Command) -> str:
    """Exactly what `adminkit ... --help` prints at WIDTH columns."""
    return command.get_help(ctx).rstrip() + "\n"


def command_pages() -> list[Page]:
    """One page for each top-level command, and an index of them."""
    from typer.core import TyperGroup

    root = root_command()
    top = _context(root, PROG, None)
    pages, rows = [], []
    for name in root.list_commands(top):  # type: ignore[attr-defined]
        command = root.get_command(top, name)  # type: ignore[attr-defined]
        if command is None or command.hidden:
            continue
        blocks = []
        for ctx, sub in walk(command, _context(command, name, top)):
            path = ctx.command_path
            kind = "group" if isinstance(sub, TyperGroup) else "command"
            level = "#" if sub is command else "##"
            blocks.append(f"{level} `{path}`\n\n<!-- {kind} -->\n\n```text\n"
                          f"{help_text(ctx, sub)}```\n")
        pages.append(Page(f"reference/commands/{name}.md", f"{PROG} {name}", "\n".join(blocks)))
        rows.append(f"| [`{PROG} {name}`]({name}.md) | {_cell(command.get_short_help_str(80))} |")
    index = ["# Command reference", "",
             "Made from the command tree the CLI runs, at the docs' build: each block is what "
             "`--help` prints. Global options go anywhere on the line.", "",
             "```text", help_text(top, root).rstrip(), "```", "",
             "| command | what it does |", "|---|---|", *rows, ""]
    return [Page("reference/commands/index.md", "Command reference", "\n".join(index)), *pages]


def playbook_reference() -> Page:
    """The playbook format from its JSON Schema, and the actions steps can use."""
    from adminkit.playbook.model import Playbook

    schema = Playbook.model_json_schema(by_alias=True)
    out = ["# Playbook reference", "",
           "Made from `adminkit playbook schema` (the JSON Schema editors use) at the docs' "
           "build. Unknown keys are errors.", "", "## Playbook", "",
           *_properties(schema)]
    for name, definition in schema.get("$defs", {}).items():
        out += ["", f"## {name}", "", *_properties(definition)]
    out += ["", "## Actions", "", "What a step's `uses:` can name, and its `with:` parameters "
            "(from the installed domains: a plug-in's actions appear here too).", ""]
    out += _actions()
    return Page("reference/playbook.md", "Playbook reference", "\n".join(out) + "\n")


def profile_reference() -> Page:
    """Every profile setting, from the profile model with each installed domain's sections."""
    from adminkit.core.config import profile_model

    schema = profile_model().model_json_schema(by_alias=True)
    out = ["# Profile reference", "",
           "Every setting a profile file may hold, made from the profile model at the docs' "
           "build: core's own (`description`, `mail`, `policy`) and each installed domain's "
           "section. Unknown settings are errors, named with file, line and column. Secret "
           "settings take references (`env:NAME`, `file:/path`, `keyring:service/user`, "
           "`prompt`), never values.", "", "## The profile file", "",
           *_properties(schema, skip=("name", "file"))]
    for name, definition in sorted(schema.get("$defs", {}).items()):
        out += ["", f"## {name}", "", *_properties(definition)]
    return Page("reference/profile.md", "Profile reference", "\n".join(out) + "\n")


def _properties(schema: dict[str, Any], skip: tuple[str, ...] = ()) -> list[str]:
    required = set(schema.get("required", []))
    rows = ["| key | type | required | default | what it is |", "|---|---|---|---|---|"]
    for key, prop in schema.get("properties", {}).items():
        if key in skip:
            continue
        default = "" if "default" not in prop or prop["default"] in (None, "", [], {}) else (
            f"`{json.dumps(prop['default'])}`")
        rows.append(f"| `{key}` | {_cell(type_of(prop))} | {'yes' if key in required else ''} "
                    f"| {default} | {_cell(prop.get('description', ''))} |")
    return rows


def type_of(prop: dict[str, Any]) -> str:
    """A JSON Schema type in words: `string`, `list of string`, `one of a, b`, a $ref."""
    if "$ref" in prop:
        name = str(prop["$ref"]).rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "enum" in prop:
        return "one of " + ", ".join(f"`{v}`" for v in prop["enum"])
    if "anyOf" in prop:
        kinds = [type_of(p) for p in prop["anyOf"] if p.get("type") != "null"]
        return " or ".join(kinds)
    kind = prop.get("type", "any")
    if kind == "array":
        return f"list of {type_of(prop.get('items') or {})}"
    if kind == "object" and isinstance(prop.get("additionalProperties"), dict):
        return f"mapping to {type_of(prop['additionalProperties'])}"
    if kind == "object":
        return "mapping"
    return str(kind)


def _actions() -> list[str]:
    from adminkit.core.domains import actions

    out: list[str] = []
    for name, action in sorted(actions().items()):
        doc = (action.__doc__ or "").strip().split("\n\n", 1)[0].replace("\n", " ")
        out += [f"### `{name}`", "", *([doc, ""] if doc else []),
                "| parameter | type | required | default | what it is |", "|---|---|---|---|---|"]
        for field, info in action.params_model.model_fields.items():
            kind = _annotation(info.rebuild_annotation())
            default = "" if info.is_required() or info.default in (None, "", [], {}) else (
                f"`{info.default}`")
            out.append(f"| `{info.alias or field}` | {_cell(kind)} | "
                       f"{'yes' if info.is_required() else ''} | {_cell(default)} | "
                       f"{_cell(info.description or '')} |")
        out.append("")
    return out


def _annotation(annotation: Any) -> str:
    """A parameter's type in words: `string`, `list of string`, `one of a, b`."""
    import types
    import typing

    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _annotation(args[0])
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_annotation(a) for a in args if a is not type(None))
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin in (list, tuple, set, frozenset) and args:
        return f"list of {_annotation(args[0])}"
    if origin is dict and len(args) == 2:
        return f"mapping to {_annotation(args[1])}"
    words = {str: "string", int: "integer", bool: "boolean", float: "number"}
    if annotation in words:
        return words[annotation]
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def _cell(text: str) -> str:
    """Text for a Markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("\\", "\\\\").replace("|", "\\|")


def pages() -> list[Page]:
    return [*command_pages(), playbook_reference(), profile_reference()]
