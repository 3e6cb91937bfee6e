"""`adminkit playbook`: list, show, validate playbooks and print their JSON Schema."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from adminkit.cli import complete
from adminkit.cli.state import GlobalState, state_of

app = typer.Typer(help="List, show and validate playbooks; print the schema for editors.",
                  no_args_is_help=True)


def search_path(state: GlobalState) -> list[Path]:
    """The profile's own playbooks first, then the shipped ones."""
    from adminkit.core import paths

    folders = [(state.config_dir or paths.config_home()) / "playbooks"]
    shipped = Path(__file__).resolve().parents[1] / "playbooks"  # installed wheel
    repo = Path(__file__).resolve().parents[3] / "playbooks"  # source checkout
    folders += [shipped, repo]
    found = []
    for folder in folders:
        try:
            if folder.is_dir():
                found.append(folder)
        except OSError:  # a --config the system cannot look up: it holds no playbooks
            pass
    return found


def find(state: GlobalState, name: str) -> Path:
    """A path, or a playbook name from the search path."""
    from adminkit.core.errors import UsageError

    path = Path(name)
    if path.suffix in (".yaml", ".yml") or "/" in name:
        if not _there(path):
            raise UsageError(f"no playbook file {path}")
        return path
    for folder in search_path(state):
        for candidate in (folder / f"{name}.yaml", folder / f"{name}.yml"):
            if _there(candidate):
                return candidate
    raise UsageError(f"no playbook named {name!r}", hint="`adminkit playbook list` shows them")


def _there(path: Path) -> bool:
    """A file (or a FIFO, a device: reading it says what it is); a name the system cannot
    look up (too long) is simply not there."""
    try:
        return path.exists() and not path.is_dir()
    except OSError:
        return False


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """The playbooks you can run, with their inputs."""
    from adminkit.cli.output import emit_rows
    from adminkit.core.errors import ConfigError
    from adminkit.playbook.loader import load

    state = state_of(ctx)
    rows, seen = [], set()
    for folder in search_path(state):
        for path in sorted(folder.glob("*.y*ml")):
            if path.stem in seen:
                continue
            seen.add(path.stem)
            try:
                book = load(path).playbook
            except ConfigError as exc:
                rows.append({"name": path.stem, "inputs": "", "description": f"INVALID: "
                             f"{exc.message.splitlines()[0]}", "file": str(path)})
                continue
            inputs = ", ".join(f"{k}{'' if v.required and v.default is None else '?'}"
                               for k, v in book.inputs.items())
            rows.append({"name": book.name, "inputs": inputs, "description": book.description,
                         "file": str(path)})
    emit_rows(state, rows, ["name", "inputs", "description"], title="playbooks")


@app.command("validate")
def validate(ctx: typer.Context, playbook: Annotated[str, typer.Argument(
        help="A playbook name or file.", autocompletion=complete.playbooks)]) -> None:
    """Report every problem with file, line and column (exit 2), or say it is valid."""
    from adminkit.playbook.loader import load

    loaded = load(find(state_of(ctx), playbook))
    typer.echo(f"{loaded.path}: valid ({len(loaded.playbook.steps)} steps)")


@app.command("show")
def show(ctx: typer.Context, playbook: Annotated[str, typer.Argument(
        help="A playbook name or file.", autocompletion=complete.playbooks)]) -> None:
    """Print a playbook's file: exact into a pipe; at a terminal its control characters
    are shown, not obeyed (a file may hold `ESC]52;…`, which YAML refuses but a comment
    carries to the screen)."""
    import sys

    from adminkit.cli.output import visible
    from adminkit.core.errors import ConfigError
    from adminkit.core.files import read_small
    from adminkit.core.yamlsource import MAX_BYTES

    raw = read_small(find(state_of(ctx), playbook), MAX_BYTES, error=ConfigError)
    text = raw.decode("utf-8", errors="replace")
    sys.stdout.write(visible(text) if sys.stdout.isatty() else text)  # not echo: it edits


@app.command("schema")
def schema(ctx: typer.Context) -> None:
    """The playbook format as JSON Schema (for editors with YAML language servers)."""
    import json

    from adminkit.playbook.model import Playbook

    typer.echo(json.dumps(Playbook.model_json_schema(by_alias=True), indent=2))
