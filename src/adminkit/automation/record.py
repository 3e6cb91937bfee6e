"""A run's record: what to run, kept in its journal row so that a resume rebuilds it.

The record names actions and their parameters (or a playbook and its inputs), never a
secret's value: a parameter that held a secret is listed by name only, and an action
that needs it again cannot be resumed (the operator runs the command anew).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import ValidationError as PydanticValidationError

from adminkit.automation.request import Bulk, PlaybookRequest, RunRequest
from adminkit.core.action import Action, Applied, Params, Plan
from adminkit.core.errors import UsageError
from adminkit.core.secrets import Secret

if TYPE_CHECKING:
    from adminkit.core.config import Profile
    from adminkit.core.context import Context

VERSION = 2  # 2: a bulk run's actions and labels may be kept as a table (see _table)
READS = (1, 2)
NOT_KEPT = {"not_kept": "secret"}  # a secret input's place in the record


def to_record(request: RunRequest) -> dict[str, Any]:
    record: dict[str, Any] = {"version": VERSION, "command": request.command,
                              "stop_on_error": request.stop_on_error}
    if request.playbook is not None:
        book = request.playbook
        record["playbook"] = {"path": str(book.path), "inputs": {
            name: NOT_KEPT if isinstance(value, Secret) else value
            for name, value in book.inputs.items()},
                              "approved_by": book.approved_by, "force": book.force,
                              "digest": book.digest}
    else:
        table = _table(request.actions) if request.bulk is not None else None
        record["actions"] = table if table is not None else [
            action.record() for action in request.actions]
    if request.workers > 1:
        record["workers"] = request.workers
    if request.bulk is not None:
        record["bulk"] = {"labels": _labels(request.bulk.labels),
                          "workers": request.bulk.workers, "force": request.bulk.force}
    return record


def _table(actions: Sequence[Action[Any]]) -> dict[str, Any] | None:
    """The rows of a bulk run as one table: its action's name and delivery once, then each
    row's parameters (all of them, defaults too) in the order of `columns`. A twentieth of
    the memory and a third of the text of an entry per row, for a file of 20,000 rows.
    None when the rows differ in action or delivery, or one holds a secret."""
    if len(actions) < 2:
        return None
    first = actions[0]
    deliver = first.deliver.spec if first.deliver is not None else None
    columns = list(first.params_model.model_fields)
    rows = []
    for action in actions:
        if (type(action) is not type(first) or action.name != first.name
                or (action.deliver.spec if action.deliver is not None else None) != deliver
                or any(isinstance(value, Secret) for _, value in action.params)):
            return None
        values = action.params.model_dump(mode="json")
        rows.append([values[c] for c in columns])
    table: dict[str, Any] = {"uses": first.name, "columns": columns, "rows": rows}
    if deliver is not None:
        table["deliver"] = deliver
    return table


def _entries(actions: Any) -> list[dict[str, Any]]:
    """The recorded actions, one entry each, from either form."""
    if not isinstance(actions, dict):
        return list(actions or [])
    columns = list(actions["columns"])
    shared = {k: actions[k] for k in ("deliver",) if k in actions}
    return [{"uses": actions["uses"], "with": dict(zip(columns, row, strict=True)), **shared}
            for row in actions["rows"]]


def _labels(labels: Sequence[str]) -> list[str] | dict[str, Any]:
    """Labels that share a beginning (`/srv/new-hires.csv:` then the line) as that
    beginning once and the rest of each."""
    # characters, not path parts: the line number follows the shared "file.csv:"
    prefix = os.path.commonprefix(list(labels)) if len(labels) > 1 else ""  # noqa: RUF071
    if not prefix:
        return list(labels)
    return {"prefix": prefix, "rest": [label[len(prefix):] for label in labels]}


def _unlabel(labels: Any) -> list[str]:
    if isinstance(labels, dict):
        return [str(labels["prefix"]) + str(rest) for rest in labels["rest"]]
    return [str(label) for label in labels]


def from_record(record: dict[str, Any], *, run_id: str, profile: Profile | None,
                ticket: str | None, check: bool) -> RunRequest:
    """The request a journaled run was made from, to run again under its id."""
    if record.get("version") not in READS:
        raise UsageError(f"run {run_id} was recorded without what it ran (an older adminkit)",
                         hint="run its command again; what was done is found and kept")
    bulk = record.get("bulk")
    request = RunRequest(
        command=str(record["command"]), profile=profile, ticket=ticket, check=check,
        stop_on_error=bool(record.get("stop_on_error")), resume=run_id,
        workers=int(record.get("workers", 1)),
        bulk=Bulk(labels=_unlabel(bulk["labels"]), workers=int(bulk["workers"]),
                  force=bool(bulk["force"])) if bulk else None)
    book = record.get("playbook")
    if book is not None:
        lost = sorted(k for k, v in dict(book["inputs"]).items() if v == NOT_KEPT)
        if lost:
            raise UsageError(f"run {run_id} had the secret input(s) {', '.join(lost)}, which "
                             "the journal does not keep", hint="run the playbook again; what "
                             "its steps did is found on the systems and kept")
        request.playbook = PlaybookRequest(path=Path(book["path"]), inputs=dict(book["inputs"]),
                                           approved_by=book.get("approved_by"),
                                           force=bool(book.get("force")),
                                           digest=book.get("digest"))
    else:
        request.actions = [rebuild(entry, profile) for entry in _entries(record.get("actions"))]
    return request


def rebuild(entry: dict[str, Any], profile: Profile | None) -> Action[Any]:
    from adminkit.core.domains import actions

    name = str(entry.get("uses"))
    cls = actions().get(name)
    if cls is None:
        raise UsageError(f"the run used the action {name!r}, which no installed domain has")
    if entry.get("secrets"):
        # without its secret the model may not validate (one of two is required): the
        # action is kept for its target only, and never planned
        kept = cls.params_model.model_construct(**(entry.get("with") or {}))
        return NotKept(cls(kept), list(entry["secrets"]))
    try:
        params = cls.params_model.model_validate(entry.get("with") or {})
    except PydanticValidationError as exc:
        raise UsageError(f"the recorded parameters of {name} no longer validate: "
                         f"{exc.errors(include_url=False, include_input=False)[0]['msg']}"
                         ) from None
    if cls.delivers_secret:
        from adminkit.core.delivery import delivery

        spec = entry.get("deliver")
        return cls(params, deliver=delivery(str(spec), profile) if spec else None)
    return cls(params)


class NotKept(Action[Params]):
    """An action whose secret parameter was not kept: done already, or refused."""

    params_model: ClassVar[type[Params]] = Params

    def __init__(self, inner: Action[Any], secrets: list[str]) -> None:
        super().__init__(Params())
        self.inner, self.secrets = inner, secrets
        self.name = inner.name  # type: ignore[misc]

    def target(self) -> str:
        return self.inner.target()

    def plan(self, ctx: Context) -> Plan:
        raise UsageError(f"{self.name} {self.target()}: its {', '.join(self.secrets)} was given "
                         "as a secret, which the journal does not keep",
                         hint="run the command again for this target")

    def apply(self, ctx: Context, plan: Plan) -> Applied:  # pragma: no cover - never planned
        raise AssertionError("not planned")
