"""The global options, as every command sees them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from adminkit.core.config import Profile


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
    loaded: Profile | None = None  # the profile, once loaded: loaded once per command


def state_of(ctx: typer.Context) -> GlobalState:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, GlobalState) else GlobalState()
