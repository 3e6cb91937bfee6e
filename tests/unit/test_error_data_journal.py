"""A failed result carries its error's data (AdminkitError.data) into the output and the
journal (core/runner.py). That is the failure path: whatever an error class puts there
(a plugin's `data` that is a response body, bytes, an object) must not break the run
and lose the failure's row; a known secret in it is scrubbed as in any data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adminkit.core.context import Context
from adminkit.core.errors import ActionFailed
from adminkit.core.run import Run
from adminkit.core.runner import Runner
from adminkit.core.secrets import Secret
from adminkit.journal.hook import JournalHook
from adminkit.journal.store import Journal
from tests.unit.toys import ToyAction, ToyParams

PASSWORD = "Tr0ub4dor&3-in-the-data"


class Failing(ToyAction):
    data: Any = None

    def apply(self, ctx: Context, plan: object) -> object:  # type: ignore[override]
        exc = ActionFailed("the server refused it")
        exc.data = self.data
        raise exc


def _failed_row(tmp_path: Path, data: Any) -> tuple[Any, dict[str, Any]]:
    action = Failing(ToyParams(key="q"), [])
    action.data = data
    journal = Journal(tmp_path / "journal.db")
    try:
        [result] = Runner(Context(run=Run(command="toy")), [JournalHook(journal)]).execute(
            [action]).results
        [row] = [dict(r) for r in journal.iter_all()
                 if r["kind"] == "action" and r["status"] == "failed"]
    finally:
        journal.close()
    return result, row


class Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("no words for it")

    __str__ = __repr__


def _cycle() -> dict[str, Any]:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    return loop


@pytest.mark.parametrize("data", [
    {"body": b"\xff\xfe not text"},
    {"handle": object()},
    {"handle": Unprintable()},
    {"loop": _cycle()},
    {("a", "tuple"): "key", "kept": 1},
    {"ids": {3, 1, 2}, "ratio": float("nan")},
    "a plugin's data: the server's answer as text",
    [("not", "a mapping")],
])
def test_data_of_any_shape_leaves_a_failed_row(tmp_path: Path, data: Any) -> None:
    result, row = _failed_row(tmp_path, data)
    assert (result.status.value, result.exit_code) == ("failed", 1)
    assert row["error"] == "the server refused it"
    detail = json.loads(row["detail"])
    assert detail["error_type"] == "ActionFailed"
    json.dumps(result.public())  # the output's JSON too


def test_a_known_secret_in_the_data_is_scrubbed(tmp_path: Path) -> None:
    Secret(PASSWORD)
    result, row = _failed_row(tmp_path, {"echo": f"rejected {PASSWORD}",
                                         "kept": Secret(PASSWORD)})
    assert PASSWORD not in row["detail"]
    assert PASSWORD not in json.dumps(result.public())


def test_error_data_is_what_the_journal_would_write() -> None:
    """One encoder for the journal's rows and the failure's data (core/jsonvalues.py):
    an object is its str, a tuple a list, a key JSON cannot have left out."""
    from adminkit.core.jsonvalues import encode, json_values
    from adminkit.core.runner import _error_data

    exc = ActionFailed("refused")
    exc.data = {"ids": (1, 2), "handle": Secret(PASSWORD), 3: "three", ("x",): "dropped"}
    assert _error_data(exc) == {"ids": [1, 2], "handle": "********", "3": "three"}
    assert json.loads(encode({"ids": (1, 2), 3: "three"})) == json_values(
        {"ids": (1, 2), 3: "three"})
    assert json_values(_cycle()) == {} and json_values(["a list"]) == {}
