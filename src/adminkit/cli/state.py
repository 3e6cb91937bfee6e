"""The global options, as every command sees them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import typer


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


@dataclass
class GlobalState:
    profile: str | None = None
    ticket: str | None = None
    check: bool = False
    output: OutputFormat = OutputFormat.TABLE
    debug: bool = False
    config_dir: Path | None = None
    journal_path: Path | None = None
    argv: list[str] = field(default_factory=list)


def state_of(ctx: typer.Context) -> GlobalState:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, GlobalState) else GlobalState()
