"""A bulk run's record keeps its rows as a table, and a resume rebuilds the same request.

The table (the action's name and delivery once, each row's parameters as a list) is what
keeps the run row of a 20,000-row import small; these tests hold it to the row-per-entry
form it replaced: the same actions, parameters, deliveries and labels come back, and a
record written in the older form (version 1) still reads.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from adminkit.accounts.actions import CreateAccount, DisableAccount
from adminkit.accounts.actions.base import LoginParams
from adminkit.accounts.actions.create import CreateParams
from adminkit.automation.record import from_record, to_record
from adminkit.automation.request import Bulk, RunRequest
from adminkit.core.delivery import delivery
from adminkit.core.secrets import Secret


def _rows(folder: Path) -> list[CreateAccount]:
    sink = delivery(f"file:{folder}")
    return [CreateAccount(CreateParams(given_name="Jana", surname=f"Nováková {i}",
                                       login=f"jn{i}" if i % 2 else None,
                                       mail=f"jn{i}@example.test" if i % 3 else None,
                                       groups=["Staff", "VPN"] if i % 2 else None,
                                       expires=date(2030, 1, i + 1) if i % 4 == 0 else None),
                          deliver=sink) for i in range(6)]


def _request(actions: list[CreateAccount], labels: list[str]) -> RunRequest:
    return RunRequest(command="account import new.csv", profile=None, actions=actions,
                      bulk=Bulk(labels=labels, workers=3))


def _rebuilt(record: dict[str, object]) -> RunRequest:
    return from_record(record, run_id="R-1", profile=None, ticket=None, check=False)


def test_a_bulk_record_is_a_table_that_rebuilds_every_row(tmp_path: Path) -> None:
    actions = _rows(tmp_path)
    labels = [f"/srv/in/new.csv:{n}" for n in range(2, 8)]
    record = to_record(_request(actions, labels))
    table = record["actions"]
    assert isinstance(table, dict)
    assert table["uses"] == "account.create" and table["deliver"] == f"file:{tmp_path}"
    assert len(table["rows"]) == len(actions)
    assert record["bulk"]["labels"] == {"prefix": "/srv/in/new.csv:",
                                        "rest": ["2", "3", "4", "5", "6", "7"]}

    again = _rebuilt(record)
    assert [a.params for a in again.actions] == [a.params for a in actions]
    assert [a.record() for a in again.actions] == [a.record() for a in actions]
    assert again.bulk is not None and list(again.bulk.labels) == labels
    assert again.bulk.workers == 3


def test_the_table_reads_as_the_entries_it_replaced(tmp_path: Path) -> None:
    actions = _rows(tmp_path)
    labels = [f"new.csv:{n}" for n in range(2, 8)]
    old = to_record(_request(actions, labels))
    old.update(version=1, actions=[a.record() for a in actions])
    old["bulk"]["labels"] = labels
    from_old = _rebuilt(old)
    from_new = _rebuilt(to_record(_request(actions, labels)))
    assert [a.params for a in from_old.actions] == [a.params for a in from_new.actions]
    assert from_old.bulk is not None and from_new.bulk is not None
    assert list(from_old.bulk.labels) == list(from_new.bulk.labels) == labels


def test_rows_that_differ_or_hold_a_secret_stay_entries(tmp_path: Path) -> None:
    mixed = [*_rows(tmp_path)[:2], DisableAccount(LoginParams(login="jn9"))]
    record = to_record(_request(mixed, ["a:1", "a:2", "a:3"]))  # type: ignore[arg-type]
    assert isinstance(record["actions"], list)
    assert [e["uses"] for e in record["actions"]] == ["account.create"] * 2 + ["account.disable"]

    secret = CreateAccount(CreateParams(given_name="Eva", surname="Dvořák",
                                        password=Secret("Given-Pass.9")))
    record = to_record(_request([*_rows(tmp_path)[:2], secret], ["b:1", "b:2", "b:3"]))
    assert isinstance(record["actions"], list)
    assert record["actions"][2]["secrets"] == ["password"]
    assert "Given-Pass.9" not in repr(record)
