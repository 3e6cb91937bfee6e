"""A tiny domain that lives only in tests/: it is installed through an entry point at
test time, never through src/, to show that a domain is a plug-in.

It owns the profile section `tiny: {folder: PATH}`; its action `tiny.touch` creates
a file named by the step in that folder (refusing the name `fail` until a file
`fail.allowed` exists there, so a test can make a run fail half-way and resume it; and
failing the name `lost` with an unknown outcome after writing it, as a write whose
answer was lost; and `ctrl-c` as if the operator pressed it just after the write).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import typer

from adminkit.core.action import Action, Applied, Params, Plan
from adminkit.core.config import Profile, Settings
from adminkit.core.context import Context
from adminkit.core.domains import Domain
from adminkit.core.errors import ActionFailed, OutcomeUnknown
from adminkit.core.health import Probe
from adminkit.core.result import Change
from adminkit.core.secrets import Secret


class TinySettings(Settings):
    folder: Path


def folder(profile: Profile) -> Path:
    settings = profile.section("tiny", TinySettings)
    assert settings is not None, "the profile has no tiny: section"
    return settings.folder


class TouchParams(Params):
    name: str
    content: Secret | None = None  # written into the file: a secret input's way through


class Touch(Action[TouchParams]):
    name = "tiny.touch"
    params_model: ClassVar[type[Params]] = TouchParams
    creates_target = True
    target_param = "name"

    def target(self) -> str:
        return self.params.name

    def plan(self, ctx: Context) -> Plan:
        path = folder(ctx.require_profile()) / self.params.name
        if path.exists():
            return Plan(summary=f"{self.params.name} is there")
        return Plan([Change(op="create", field="file", after=self.params.name)],
                    summary=f"touch {self.params.name}")

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        where = folder(ctx.require_profile())
        if self.params.name == "fail" and not (where / "fail.allowed").exists():
            raise ActionFailed("tiny.touch refuses 'fail' until fail.allowed exists")
        content = self.params.content.reveal() if self.params.content else ctx.run.id
        (where / self.params.name).write_text(content)
        if self.params.name == "lost":
            raise OutcomeUnknown("tiny.touch wrote 'lost' and lost the answer")
        if self.params.name == "ctrl-c":  # the operator presses Ctrl-C as it is written
            raise KeyboardInterrupt
        return Applied()


SECTIONS: dict[str, Any] = {"tiny": TinySettings}
ACTIONS: dict[str, type[Action[Any]]] = {"tiny.touch": Touch}


def probes(profile: Profile) -> list[Probe]:
    settings = profile.section("tiny", TinySettings)
    if settings is None:
        return []
    return [Probe("tiny", str(settings.folder), lambda: _check(settings.folder))]


def _check(path: Path) -> str:
    if not path.is_dir():
        raise ActionFailed(f"{path} is not a folder")
    return f"{len(list(path.iterdir()))} file(s)"


DOMAIN = Domain(name="tiny", sections="tinydomain:SECTIONS", actions="tinydomain:ACTIONS",
                probes="tinydomain:probes")

app = typer.Typer(help="The tiny test domain's own commands.", no_args_is_help=True)


@app.command("hello")
def hello() -> None:
    """Say that the tiny domain's command group was found."""
    typer.echo("tiny says hello")
