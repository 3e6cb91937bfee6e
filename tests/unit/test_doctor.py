"""`adminkit doctor`: each problem it must find, found on real files, with what to do."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adminkit.journal.store import Journal
from tests.unit import fakedist


@pytest.fixture
def private(env: Any) -> Any:
    """The config and state folders as adminkit makes them: 0700."""
    env.config.chmod(0o700)
    env.profiles.chmod(0o700)
    (env.state / "adminkit").mkdir(mode=0o700)
    return env


def findings(cli: Any, *args: str) -> tuple[int, list[dict[str, Any]]]:
    res = cli("-o", "json", *args, "doctor")
    assert res.err == "" or "warning" in res.err, res.err
    return res.code, json.loads(res.out)


def of(rows: list[dict[str, Any]], check: str) -> list[dict[str, Any]]:
    return [r for r in rows if r["check"] == check]


def test_a_sound_installation_exits_0(cli: Any, private: Any) -> None:
    code, rows = findings(cli)
    assert code == 0, [r for r in rows if r["status"] == "fail"]
    assert of(rows, "python")[0]["status"] == "ok"
    assert {r["subject"]: r["status"] for r in of(rows, "extra")}["cups"] == "ok"
    assert [r["status"] for r in of(rows, "config")] == ["ok"]
    assert of(rows, "journal")[0]["detail"].startswith("no journal yet")
    assert not private.journal.exists()  # doctor made none
    assert of(rows, "clock")[0]["status"] == "skip"


def test_a_missing_extra_is_a_warning_with_the_command_that_installs_it(
        cli: Any, private: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "site").mkdir()
    monkeypatch.syspath_prepend(str(fakedist.write(tmp_path / "site")))
    code, rows = findings(cli)
    [ghost] = [r for r in of(rows, "extra") if r["subject"] == "ghost"]
    assert ghost["status"] == "warn"
    assert "no-such-dist-adminkit-test" in ghost["detail"]
    assert "adminkit[ghost]" in ghost["fix"]
    assert code == 0
    assert cli("--output", "json", "doctor", "--strict").code == 1


def test_a_world_readable_config_folder_fails(cli: Any, private: Any) -> None:
    private.config.chmod(0o755)
    (private.profiles / "acme.yaml").write_text("description: ACME\n")
    (private.profiles / "acme.yaml").chmod(0o644)
    code, rows = findings(cli)
    assert code == 1
    bad = {r["subject"]: r for r in of(rows, "config") if r["status"] == "fail"}
    assert bad[str(private.config)]["detail"] == "folder is readable by every user (mode 755)"
    assert bad[str(private.config)]["fix"] == f"chmod 700 {private.config}"
    assert bad[str(private.profiles / "acme.yaml")]["fix"].startswith("chmod 600 ")
    assert private.config.stat().st_mode & 0o777 == 0o755  # reported, not changed


def test_a_group_writable_state_folder_fails(cli: Any, private: Any) -> None:
    (private.state / "adminkit").chmod(0o770)
    code, rows = findings(cli)
    assert code == 1
    [bad] = [r for r in of(rows, "state") if r["status"] == "fail"]
    assert "writable by others" in bad["detail"]


def _note(journal: Journal, run_id: str, age: timedelta) -> None:
    journal.append(note={"key": f"{run_id}:end", "system": "rt", "ticket": "42",
                         "internal": True, "body": "done"},
                   kind="end", run_id=run_id, status="changed", operator="alice",
                   mode="apply", profile="acme",
                   time=(datetime.now(UTC) - age).isoformat(timespec="microseconds"))


def test_an_outbox_backlog_older_than_an_hour_fails(cli: Any, private: Any) -> None:
    journal = Journal(private.journal)
    _note(journal, "R-fresh", timedelta(minutes=5))
    journal.close()
    code, rows = findings(cli)
    [outbox] = of(rows, "outbox")
    assert code == 0 and outbox["status"] == "ok"
    assert outbox["detail"].startswith("1 ticket notes waiting, the oldest for 5 min")

    journal = Journal(private.journal)
    _note(journal, "R-stale", timedelta(hours=3, minutes=2))
    journal.close()
    code, rows = findings(cli)
    [outbox] = of(rows, "outbox")
    assert code == 1 and outbox["status"] == "fail"
    assert outbox["detail"] == "2 ticket notes waiting, the oldest for 3 h 2 min"
    assert "ticket flush" in outbox["fix"]
    assert of(rows, "journal")[0]["status"] == "ok"


def test_a_journal_that_fails_verification_fails(cli: Any, private: Any) -> None:
    journal = Journal(private.journal)
    for n in range(3):
        _note(journal, f"R-{n}", timedelta(0))
    journal.close()
    code, rows = findings(cli)
    assert code == 0 and of(rows, "journal")[0]["detail"].startswith("3 rows verified")

    db = sqlite3.connect(private.journal)  # an edit as someone with write access makes it
    db.execute("DROP TRIGGER entries_append_only_u")
    db.execute("UPDATE entries SET summary = 'nothing happened' WHERE seq = 2")
    db.commit()
    db.close()
    code, rows = findings(cli)
    [bad] = of(rows, "journal")
    assert code == 1 and bad["status"] == "fail"
    assert "first bad row 2" in bad["detail"]
    assert "journal verify" in bad["fix"]


def test_a_lost_journal_key_fails_with_what_to_do(cli: Any, private: Any) -> None:
    journal = Journal(private.journal)
    _note(journal, "R-1", timedelta(0))
    journal.close()
    (private.state / "adminkit" / "journal.key").unlink()
    code, rows = findings(cli)
    [bad] = of(rows, "journal")
    assert code == 1 and bad["detail"].startswith("cannot be verified: ")
    assert "the journal key is missing" in bad["detail"]
    assert bad["fix"].startswith("put the journal key back from your backups")


def test_the_table_says_problems_found(cli: Any, private: Any) -> None:
    private.config.chmod(0o705)
    res = cli("doctor")
    assert res.code == 1
    assert "adminkit doctor: problems found" in res.out
    assert f"chmod 700 {private.config}" in res.out


def test_a_bad_profile_file_is_a_usage_error(cli: Any, private: Any) -> None:
    (private.profiles / "acme.yaml").write_text("directory: [\n")
    (private.profiles / "acme.yaml").chmod(0o600)
    res = cli("-p", "acme", "doctor")
    assert res.code == 2
    assert "acme.yaml" in res.err
