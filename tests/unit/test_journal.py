"""The journal: append-only, hash-chained, filterable, exportable, and tamper-evident."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adminkit.cli.journal_cmd import EXPORT_COLUMNS, parse_since
from adminkit.core.errors import UsageError
from adminkit.journal.keys import load_key
from adminkit.journal.store import COLUMNS, GENESIS, Filters, Journal, row_hash

OLD = "2020-03-01T10:00:00.000000+00:00"
MID = "2023-06-01T10:00:00.000000+00:00"


def _append_run(journal: Journal, run_id: str, *, operator: str = "alice",
                ticket: str | None = "42", time: str | None = None,
                actions: list[tuple[str, str]] = ()) -> None:
    common = {"run_id": run_id, "operator": operator, "ticket": ticket, "mode": "apply",
              "profile": "acme"}
    journal.append(kind="run", summary=f"cmd {run_id}", status="started", time=time, **common)
    for idx, (target, status) in enumerate(actions):
        journal.append(kind="action", idx=idx, action="account.disable", target=target,
                       status=status, summary=f"{status} {target}", time=time,
                       diff=[{"op": "set", "field": "enabled", "before": True, "after": False}],
                       **common)
    journal.append(kind="end", status="changed", summary=f"cmd {run_id}", time=time,
                   detail={"counts": {"changed": len(actions)}}, **common)


@pytest.fixture
def filled(env) -> Path:
    """Three runs: old (2020), middle (2023) and one written now."""
    journal = Journal(env.journal)
    _append_run(journal, "R-old", operator="alice", ticket="42", time=OLD,
                actions=[("jdoe", "changed"), ("asmith", "failed")])
    _append_run(journal, "R-mid", operator="bob", ticket="43", time=MID,
                actions=[("jdoe", "ok"), ("bwayne", "changed"), ("ckent", "skipped")])
    _append_run(journal, "R-now", operator="alice", ticket=None,
                actions=[("jdoe", "changed")])
    journal.close()
    return env.journal


def _rows(path: Path) -> list[dict]:
    journal = Journal(path)
    rows = [dict(r) for r in journal.iter_all()]
    journal.close()
    return rows


def _tamper(path: Path, *statements: str) -> None:
    """Edit the file around the append-only triggers, as another tool could."""
    db = sqlite3.connect(path)
    db.execute("DROP TRIGGER entries_append_only_u")
    db.execute("DROP TRIGGER entries_append_only_d")
    for sql in statements:
        db.execute(sql)
    db.commit()
    db.close()


# -- the chain ----------------------------------------------------------------------------

def test_rows_chain(filled: Path) -> None:
    rows = _rows(filled)
    key = load_key(create=False)  # made by the first open, in the test's state folder
    assert key is not None
    assert len(rows) == 2 + 2 + 2 + 3 + 2 + 1
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))
    prev = GENESIS
    for row in rows:
        assert row["prev_hash"] == prev
        assert row["hash"] == row_hash(prev, row, key)
        assert row["hash"] != row_hash(prev, row)  # keyed, not plain SHA-256
        assert len(row["hash"]) == 64
        prev = row["hash"]
    assert len({r["hash"] for r in rows}) == len(rows)


def test_append_returns_seq_and_encodes_json(env) -> None:
    journal = Journal(env.journal)
    assert journal.append(kind="run", run_id="R", operator="o", mode="apply") == 1
    seq = journal.append(kind="action", run_id="R", operator="o", mode="apply", idx=0,
                         diff=[{"op": "add", "field": "member", "after": "x"}],
                         detail={"n": 1})
    assert seq == 2
    [row] = journal.entries(Filters(run_id="R"))
    assert row["diff"] == [{"op": "add", "field": "member", "after": "x"}]
    assert row["detail"] == {"n": 1}
    journal.close()


def test_new_journal_file_is_private(env) -> None:
    Journal(env.journal).close()
    assert env.journal.stat().st_mode & 0o777 == 0o600


def test_new_journal_wal_and_shm_are_private_too(env) -> None:
    old_umask = os.umask(0o022)  # the usual default; the outcome must not depend on it
    try:
        journal = Journal(env.journal)
    finally:
        os.umask(old_umask)
    journal.append(kind="run", run_id="R", operator="o", mode="apply", summary="who did what")
    files = sorted(env.journal.parent.glob(env.journal.name + "*"))
    modes = {f.name: oct(f.stat().st_mode & 0o777) for f in files}
    journal.close()
    # db, -wal, -shm while the journal is open, and the head anchor
    assert sorted(modes) == ["journal.db", "journal.db-shm", "journal.db-wal", "journal.db.head"]
    assert set(modes.values()) == {"0o600"}, modes


def test_verify_ok_on_intact_journal(filled: Path) -> None:
    journal = Journal(filled)
    report = journal.verify()
    journal.close()
    assert report.ok
    assert report.rows == 12
    assert report.first_bad is None


def test_verify_ok_on_empty_journal(env) -> None:
    journal = Journal(env.journal)
    assert journal.verify().ok
    assert journal.verify().rows == 0
    journal.close()


@pytest.mark.parametrize("sql", [
    "UPDATE entries SET summary = 'nothing happened' WHERE seq = 3",
    "UPDATE entries SET status = 'ok'",
    "DELETE FROM entries WHERE seq = 3",
    "DELETE FROM entries",
])
def test_triggers_refuse_update_and_delete(filled: Path, sql: str) -> None:
    before = _rows(filled)
    db = sqlite3.connect(filled)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute(sql)
    db.close()
    assert _rows(filled) == before


def test_a_dropped_trigger_is_reported_not_quietly_recreated(filled: Path) -> None:
    db = sqlite3.connect(filled)
    db.execute("DROP TRIGGER entries_append_only_u")
    db.commit()
    db.close()
    journal = Journal(filled)  # opening leaves the evidence as it is
    report = journal.verify()
    journal.close()
    assert not report.ok
    assert "entries_append_only_u was dropped" in report.reason
    db = sqlite3.connect(filled)
    assert db.execute("SELECT count(*) FROM sqlite_master WHERE name = "
                      "'entries_append_only_u'").fetchone() == (0,)
    db.close()


@pytest.mark.parametrize(
    ("statements", "first_bad", "reason"),
    [
        pytest.param(["UPDATE entries SET summary = 'nothing happened' WHERE seq = 3"],
                     3, "altered", id="edit-summary"),
        pytest.param(["UPDATE entries SET status = 'ok', summary = 'ok asmith' WHERE seq = 3"],
                     3, "altered", id="edit-status"),
        pytest.param(["UPDATE entries SET operator = 'mallory' WHERE seq = 7"],
                     7, "altered", id="edit-operator-later-row"),
        pytest.param(["DELETE FROM entries WHERE seq = 5"], 5, "missing", id="delete-middle"),
        pytest.param(["DELETE FROM entries WHERE seq = 1"], 1, "missing", id="delete-first"),
        pytest.param([  # swap rows 3 and 4 completely, keeping the seq numbers in order
            "CREATE TEMP TABLE t AS SELECT * FROM entries WHERE seq IN (3, 4)",
            "DELETE FROM entries WHERE seq IN (3, 4)",
            "INSERT INTO entries SELECT 3, kind, time, run_id, idx, operator, profile, ticket,"
            " mode, action, target, status, summary, diff, error, detail, prev_hash, hash"
            " FROM t WHERE seq = 4",
            "INSERT INTO entries SELECT 4, kind, time, run_id, idx, operator, profile, ticket,"
            " mode, action, target, status, summary, diff, error, detail, prev_hash, hash"
            " FROM t WHERE seq = 3",
        ], 3, "removed or reordered", id="swap"),
        pytest.param([  # a forged row whose own hash is right but which breaks the link
            "UPDATE entries SET prev_hash = '" + "1" * 64 + "' WHERE seq = 6",
        ], 6, "removed or reordered", id="relink"),
    ],
)
def test_tampering_around_the_triggers_is_detected(filled: Path, statements: list[str],
                                                   first_bad: int, reason: str) -> None:
    _tamper(filled, *statements)
    journal = Journal(filled)
    report = journal.verify()
    journal.close()
    assert not report.ok
    assert report.first_bad == first_bad
    assert reason in report.reason


def test_tampering_with_recomputed_own_hash_is_still_detected(filled: Path) -> None:
    """Editing a row and fixing its own hash (with the key, even) breaks the next row's link."""
    rows = _rows(filled)
    forged = {**rows[2], "summary": "nothing happened"}
    new_hash = row_hash(forged["prev_hash"], forged, load_key(create=False))
    _tamper(filled, f"UPDATE entries SET summary = 'nothing happened', hash = '{new_hash}' "
                    "WHERE seq = 3")
    journal = Journal(filled)
    report = journal.verify()
    journal.close()
    assert not report.ok
    assert report.first_bad == 4


def test_verify_ok_when_a_ticket_id_is_given_as_int(env) -> None:
    journal = Journal(env.journal)
    journal.append(kind="run", run_id="R", operator="webhook", mode="apply", ticket=42)
    report = journal.verify()
    journal.close()
    assert report.ok, report


# -- the CLI: verify --------------------------------------------------------------------------

def test_cli_verify_ok(filled: Path, cli) -> None:
    res = cli("journal", "verify")
    assert res.code == 0
    assert "12 rows, chain intact" in res.out


def test_cli_verify_with_another_key_cannot_check_and_says_so(filled: Path, cli, tmp_path,
                                                             monkeypatch) -> None:
    """The wrong key file is a setting to fix, not evidence of tampering: exit 2."""
    other = tmp_path / "other.key"
    other.write_text("ab" * 32)
    other.chmod(0o600)
    monkeypatch.setenv("ADMINKIT_JOURNAL_KEY", f"file:{other}")
    res = cli("journal", "verify")
    assert res.code == 2, res.err
    assert "CANNOT CHECK" in res.err and "TAMPERED" not in res.err
    assert "ADMINKIT_JOURNAL_KEY" in res.err
    monkeypatch.delenv("ADMINKIT_JOURNAL_KEY")
    assert cli("journal", "verify").code == 0  # with its own key it verifies


def test_cli_verify_tampered_names_the_row(filled: Path, cli) -> None:
    _tamper(filled, "UPDATE entries SET summary = 'nothing happened' WHERE seq = 5")
    res = cli("journal", "verify")
    assert res.code == 1
    assert "TAMPERED" in res.err
    assert "row 5:" in res.err
    assert "Traceback" not in res.err


def test_cli_verify_json(filled: Path, cli) -> None:
    _tamper(filled, "DELETE FROM entries WHERE seq = 8")
    res = cli("--output", "json", "journal", "verify")
    assert res.code == 1
    data = json.loads(res.out)
    assert data["ok"] is False
    assert data["first_bad"] == 8
    assert data["journal"] == str(filled)


# -- the CLI: list ----------------------------------------------------------------------------

def _listed(cli, *args: str) -> list[int]:
    res = cli("--output", "json", "journal", "list", *args)
    assert res.code == 0, res.err
    rows = json.loads(res.out)
    assert all(r["kind"] == "action" for r in rows)
    return [r["seq"] for r in rows]


def _expected(path: Path, **match: object) -> list[int]:
    return [r["seq"] for r in _rows(path)
            if r["kind"] == "action" and all(r[k] == v for k, v in match.items())]


def test_cli_list_everything(filled: Path, cli) -> None:
    assert _listed(cli) == _expected(filled)
    assert len(_listed(cli)) == 6


@pytest.mark.parametrize(("option", "value", "column"), [
    ("--ticket", "43", "ticket"),
    ("--target", "jdoe", "target"),
    ("--operator", "bob", "operator"),
    ("--status", "changed", "status"),
    ("--status", "failed", "status"),
    ("--run", "R-mid", "run_id"),
])
def test_cli_list_filters(filled: Path, cli, option: str, value: str, column: str) -> None:
    got = _listed(cli, option, value)
    assert got
    assert got == _expected(filled, **{column: value})


def test_cli_list_combined_filters(filled: Path, cli) -> None:
    got = _listed(cli, "--target", "jdoe", "--operator", "alice")
    assert got == _expected(filled, target="jdoe", operator="alice")
    assert len(got) == 2


def test_cli_list_no_match(filled: Path, cli) -> None:
    assert _listed(cli, "--target", "nobody") == []
    assert _listed(cli, "--run", "R-nosuch") == []


def test_cli_list_since_date(filled: Path, cli) -> None:
    got = _listed(cli, "--since", "2022-01-01")
    assert got == [r["seq"] for r in _rows(filled)
                   if r["kind"] == "action" and r["time"] >= "2022"]
    assert len(got) == 4


def test_cli_list_since_duration(filled: Path, cli) -> None:
    assert _listed(cli, "--since", "7d") == _expected(filled, run_id="R-now")


def test_cli_list_limit_keeps_the_newest_oldest_first(filled: Path, cli) -> None:
    everything = _expected(filled)
    assert _listed(cli, "--limit", "2") == everything[-2:]
    assert _listed(cli, "--limit", "0") == everything  # 0: no limit


def test_cli_list_table_and_csv(filled: Path, cli) -> None:
    res = cli("journal", "list", "--run", "R-mid")
    assert res.code == 0
    for target in ("jdoe", "bwayne", "ckent"):
        assert target in res.out
    assert "asmith" not in res.out
    res = cli("--output", "csv", "journal", "list", "--run", "R-old")
    assert res.code == 0
    rows = list(csv.DictReader(io.StringIO(res.out)))
    assert [r["target"] for r in rows] == ["jdoe", "asmith"]
    assert {r["ticket"] for r in rows} == {"42"}
    assert list(rows[0]) == ["time", "run_id", "operator", "ticket", "action", "target",
                             "status", "summary"]


def test_cli_list_table_shows_markup_literally(env, cli) -> None:
    journal = Journal(env.journal)
    journal.append(kind="action", run_id="R", idx=0, operator="o", mode="apply",
                   target="[bold red]evil[/bold red]", status="ok", summary="[link=x]y[/link]")
    journal.close()
    res = cli("journal", "list")
    assert res.code == 0
    assert "[bold red]evil[/bold red]" in res.out
    assert "[link=x]y[/link]" in res.out


def test_cli_list_bad_since(filled: Path, cli) -> None:
    res = cli("journal", "list", "--since", "yesterday")
    assert res.code == 2
    assert "--since 'yesterday'" in res.err


def test_parse_since() -> None:
    assert parse_since("2024-05-06") == datetime(2024, 5, 6, tzinfo=UTC)
    assert parse_since("2024-05-06T10:00:00+02:00").utcoffset().total_seconds() == 7200
    delta = datetime.now(UTC) - parse_since("12h")
    assert 11.9 * 3600 < delta.total_seconds() < 12.1 * 3600
    with pytest.raises(UsageError):
        parse_since("soon")


def test_filters_in_python(filled: Path) -> None:
    journal = Journal(filled)
    runs = journal.entries(Filters(kinds=("run",)))
    assert [r["run_id"] for r in runs] == ["R-old", "R-mid", "R-now"]
    assert [r["kind"] for r in journal.entries(Filters(run_id="R-old", kinds=()))] == \
        ["run", "action", "action", "end"]
    assert journal.run("R-mid")["operator"] == "bob"
    assert [r["seq"] for r in journal.entries(Filters(ticket="43"))] == [6, 7, 8]
    assert journal.entries(Filters(ticket="999")) == []
    assert journal.run("R-none") is None
    assert journal.entries(Filters(action="account.disable", status="skipped"))[0]["target"] \
        == "ckent"
    journal.close()


# -- the CLI: export and show -----------------------------------------------------------------

def test_cli_export_jsonl(filled: Path, cli) -> None:
    res = cli("journal", "export", "--format", "jsonl")
    assert res.code == 0
    rows = [json.loads(line) for line in res.out.splitlines()]
    assert rows == _rows(filled)
    assert all(set(r) == set(EXPORT_COLUMNS) for r in rows)
    prev = GENESIS  # an auditor with the key can re-check the chain from the export alone
    key = load_key(create=False)
    for row in rows:
        assert row["prev_hash"] == prev
        assert row_hash(prev, row, key) == row["hash"]
        prev = row["hash"]


def test_cli_export_csv(filled: Path, cli) -> None:
    res = cli("journal", "export", "--format", "csv")
    assert res.code == 0
    rows = list(csv.DictReader(io.StringIO(res.out)))
    stored = _rows(filled)
    assert list(rows[0]) == EXPORT_COLUMNS
    assert len(rows) == len(stored)
    for got, want in zip(rows, stored, strict=True):
        assert int(got["seq"]) == want["seq"]
        assert got["hash"] == want["hash"]
        assert got["prev_hash"] == want["prev_hash"]
        assert got["summary"] == (want["summary"] or "")


def test_cli_export_to_file(filled: Path, cli, tmp_path: Path) -> None:
    out = tmp_path / "export.jsonl"
    res = cli("journal", "export", "--out", str(out))
    assert res.code == 0
    assert res.out == ""
    assert len(out.read_text().splitlines()) == 12


def test_cli_export_bad_format(filled: Path, cli) -> None:
    res = cli("journal", "export", "--format", "xml")
    assert res.code == 2
    assert "choose jsonl or csv" in res.err


def test_cli_show_missing_run(filled: Path, cli) -> None:
    res = cli("journal", "show", "R-nosuch")
    assert res.code == 2
    assert "no run R-nosuch in the journal" in res.err
    assert "Traceback" not in res.err


def test_cli_show_run(filled: Path, cli) -> None:
    res = cli("journal", "show", "R-mid")
    assert res.code == 0
    assert "R-mid" in res.out
    assert "operator bob" in res.out
    for target in ("jdoe", "bwayne", "ckent"):
        assert target in res.out
    assert "asmith" not in res.out
    res = cli("--output", "json", "journal", "show", "R-mid")
    data = json.loads(res.out)
    assert data["run"]["run_id"] == "R-mid"
    assert [a["target"] for a in data["actions"]] == ["jdoe", "bwayne", "ckent"]
    assert data["end"]["status"] == "changed"


def test_columns_and_export_columns_agree() -> None:
    assert [*COLUMNS, "prev_hash", "hash"] == EXPORT_COLUMNS


def test_append_many_chains_rows_and_queues_their_notes_in_one_transaction(
        tmp_path: Path) -> None:
    from adminkit.journal.store import Journal

    journal = Journal(tmp_path / "j.db")
    journal.append(kind="run", run_id="R", operator="o", mode="apply", status="started",
                   summary="bulk")

    def fields(i: int) -> dict[str, Any]:
        return {"kind": "action", "run_id": "R", "idx": i, "operator": "o", "mode": "apply",
                "action": "toy",
                "target": f"t{i}", "status": "changed", "summary": f"row {i}"}

    note = {"key": "adminkit:R:1;", "system": "local", "ticket": "7", "body": "row 1"}
    seqs = journal.append_many([(None, fields(0)), (note, fields(1)), (None, fields(2))])
    assert seqs == [2, 3, 4]
    assert journal.verify().ok
    assert [n["body"] for n in journal.outbox()] == ["row 1"]
    broken = {"key": "adminkit:R:4;"}  # no system: the whole batch is refused
    with pytest.raises(KeyError):
        journal.append_many([(None, fields(3)), (broken, fields(4))])
    assert [e["summary"] for e in journal.entries()][-3:] == ["row 0", "row 1", "row 2"]
    assert journal.verify().ok
    journal.close()
