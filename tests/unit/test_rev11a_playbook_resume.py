"""A resumed playbook run must not take a rolled-back change, or a row that is not the one
journaled at its index, as done (rev11a)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any, ClassVar

import pytest

from adminkit.automation.request import PlaybookRequest, RunRequest
from adminkit.automation.service import RunService
from adminkit.core.action import Action, Applied, Params, Plan
from adminkit.core.context import Context
from adminkit.core.errors import UsageError, ValidationError
from adminkit.core.result import Change
from adminkit.journal.store import Filters, Journal

LOG: list[tuple[str, str]] = []
FAILING: set[str] = set()


class ToyParams(Params):
    key: str


class Make(Action[ToyParams]):
    name = "toy.make"
    params_model: ClassVar[type[Params]] = ToyParams
    target_param: ClassVar[str | None] = "key"

    def target(self) -> str:
        return self.params.key

    def plan(self, ctx: Context) -> Plan:
        if self.params.key in FAILING:
            raise ValidationError(f"{self.params.key} cannot be made")
        return Plan([Change(op="create", field="thing", after=self.params.key)],
                    summary=f"make {self.params.key}")

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        LOG.append(("make", self.params.key))
        return Applied()

    def undo(self) -> Action[Any] | None:
        return Unmake(ToyParams(key=self.params.key))


class Unmake(Make):
    name = "toy.unmake"

    def plan(self, ctx: Context) -> Plan:
        return Plan([Change(op="delete", field="thing", before=self.params.key)],
                    summary=f"unmake {self.params.key}")

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        LOG.append(("unmake", self.params.key))
        return Applied()


@pytest.fixture(autouse=True)
def toys(monkeypatch: pytest.MonkeyPatch) -> None:
    from adminkit.core import domains

    monkeypatch.setitem(domains.actions(), "toy.make", Make)
    LOG.clear()
    FAILING.clear()


def _book(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "toy.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def _run(env: Any, path: Path, inputs: dict[str, Any] | None = None,
         resume: str | None = None) -> Any:
    service = RunService(journal_path=env.journal, config_dir=env.config)
    if resume:
        return service.run(RunRequest(command="run toy", profile=None, resume=resume,
                                      playbook=PlaybookRequest(path, dict(inputs or {}))))
    return service.run(RunRequest(command="run toy", profile=None,
                                  playbook=PlaybookRequest(path, dict(inputs or {}))))


def test_a_rolled_back_run_is_not_resumed_as_if_its_changes_stood(env: Any,
                                                                 tmp_path: Path) -> None:
    path = _book(tmp_path, """\
        name: toy
        steps:
          - uses: toy.make
            with: {key: a}
          - uses: toy.make
            with: {key: b}
            on_error: rollback
          - uses: toy.make
            with: {key: c}
        """)
    FAILING.add("b")
    first = _run(env, path)
    assert [(r.action, r.status.value) for r in first.results] == [
        ("toy.make", "changed"), ("toy.make", "failed"), ("undo toy.make", "changed")]
    assert LOG == [("make", "a"), ("unmake", "a")]
    FAILING.clear()
    LOG.clear()
    with pytest.raises(UsageError, match="was rolled back"):
        _run(env, path, resume=first.run.id)
    assert LOG == []  # b and c were not made on top of a rolled-back run
    rows = Journal(env.journal).entries(Filters(run_id=first.run.id, kinds=("run",)))
    assert len(rows) == 1  # nothing of a second attempt was journaled
