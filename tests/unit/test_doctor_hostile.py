"""`adminkit doctor` where the files it looks at are not what they should be: each case a
finding and valid JSON, never an internal error, and the file left as it was found."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from adminkit.journal.store import Journal


@pytest.fixture
def private(env: Any) -> Any:
    env.config.chmod(0o700)
    env.profiles.chmod(0o700)
    env.profiles.chmod(0o700)
    (env.state / "adminkit").mkdir(mode=0o700)
    env.journal.parent.mkdir(mode=0o700)
    return env


def doctor(cli: Any) -> tuple[int, dict[str, list[dict[str, Any]]], str]:
    res = cli("-o", "json", "doctor")
    assert "internal error" not in res.err, res.err
    by: dict[str, list[dict[str, Any]]] = {}
    for row in json.loads(res.out):
        by.setdefault(row["check"], []).append(row)
    return res.code, by, res.err


def test_a_folder_where_the_journal_should_be(cli: Any, private: Any) -> None:
    private.journal.mkdir()
    code, by, _ = doctor(cli)
    [bad] = by["journal"]
    assert code == 1 and bad["status"] == "fail"
    assert bad["detail"] == "is not a regular file (a folder)"
    assert "ADMINKIT_JOURNAL" in bad["fix"]


def test_a_fifo_where_the_journal_should_be_is_left_alone(cli: Any, private: Any) -> None:
    os.mkfifo(private.journal, 0o644)
    code, by, err = doctor(cli)
    [bad] = by["journal"]
    assert code == 1 and bad["detail"] == "is not a regular file (a FIFO)"
    assert stat.S_IMODE(private.journal.stat().st_mode) == 0o644  # reported, not changed
    assert "had mode" not in err


def test_an_empty_file_is_not_made_a_journal(cli: Any, private: Any) -> None:
    private.journal.touch(mode=0o600)
    code, by, _ = doctor(cli)
    assert code == 0 and by["journal"][0]["detail"] == "empty: made a journal on the first run"
    assert private.journal.stat().st_size == 0
    assert not (private.state / "adminkit" / "journal.key").exists()


def test_a_journal_with_damaged_pages_is_a_finding(cli: Any, private: Any) -> None:
    journal = Journal(private.journal)
    journal.append_many([(None, {"kind": "action", "run_id": "R-1", "operator": "alice",
                                 "mode": "apply", "target": f"user{n}", "summary": "x" * 500})
                         for n in range(2000)])
    journal.close()
    with private.journal.open("r+b") as db:  # a disk that lost some sectors
        db.seek(4096 * 20)
        db.write(b"\xff" * 4096 * 40)
    code, by, _ = doctor(cli)
    [bad] = by["journal"]
    assert code == 1 and bad["status"] == "fail"
    assert bad["detail"].startswith("the journal file is damaged: ")
    assert "keep the file as evidence" in bad["fix"]


def test_paths_the_system_cannot_look_up(cli: Any, private: Any, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    too_long = tmp_path / ("a" * 300)
    monkeypatch.setenv("ADMINKIT_JOURNAL", str(too_long / "journal.db"))
    monkeypatch.setenv("ADMINKIT_CONFIG", str(too_long))
    monkeypatch.setenv("XDG_STATE_HOME", str(too_long))
    code, by, _ = doctor(cli)
    assert code == 1
    for check in ("config", "state", "journal"):
        assert any("File name too long" in r["detail"] for r in by[check]), by[check]


def test_a_journal_kept_elsewhere_still_leaves_the_state_folder_private(cli: Any,
                                                                       env: Any) -> None:
    old = os.umask(0o022)
    try:
        Journal(env.journal).close()  # ADMINKIT_JOURNAL outside the state folder; the key in it
    finally:
        os.umask(old)
    assert stat.S_IMODE((env.state / "adminkit").stat().st_mode) == 0o700
    env.config.chmod(0o700)
    env.profiles.chmod(0o700)
    code, by, _ = doctor(cli)
    assert code == 0, [r for rows in by.values() for r in rows if r["status"] == "fail"]


def test_a_config_folder_kept_behind_links_is_judged_by_what_they_point_at(
        cli: Any, private: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """dotfiles managers (stow) link the config folder and its files: a link's own mode is
    always 777, the folder's and the file's are what others can do."""
    (private.profiles / "acme.yaml").write_text("description: x\n")
    (private.profiles / "acme.yaml").chmod(0o600)
    link = tmp_path / "linked-config"
    link.symlink_to(private.config)
    (private.profiles / "beta.yaml").symlink_to(private.profiles / "acme.yaml")
    monkeypatch.setenv("ADMINKIT_CONFIG", str(link))
    code, by, _ = doctor(cli)
    assert code == 0, by["config"]
    assert [r["status"] for r in by["config"]] == ["ok"]
    private.config.chmod(0o777)
    code, by, _ = doctor(cli)
    [bad] = by["config"]
    assert code == 1 and bad["detail"] == "folder is writable by others (mode 777)"


def fake_extras(site: Path, modules: dict[str, str]) -> None:
    """An installed adminkit whose extras each need one distribution of one module:
    `modules` maps the module's name to its source."""
    from adminkit import __version__

    lines = ["Metadata-Version: 2.1", "Name: adminkit", f"Version: {__version__}"]
    for module, source in modules.items():
        lines += [f"Provides-Extra: {module}", f'Requires-Dist: {module}-dist; extra == "{module}"']
        info = site / f"{module}_dist-1.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {module}-dist\nVersion: 1.0\n")
        (info / "top_level.txt").write_text(module + "\n")
        (site / f"{module}.py").write_text(source)
    (site / f"adminkit-{__version__}.dist-info").mkdir()
    (site / f"adminkit-{__version__}.dist-info" / "METADATA").write_text("\n".join(lines) + "\n")


def test_an_extra_whose_module_exits_on_import_is_a_finding(
        cli: Any, private: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_extras(tmp_path / "site", {
        "nolib": 'raise ImportError("libcups.so.2: cannot open shared object file")\n',
        "quitter": 'import sys\nsys.exit("quitter needs a display")\n'})
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    code, by, _ = doctor(cli)
    found = {r["subject"]: r for r in by["extra"]}
    assert code == 1
    assert found["nolib"]["status"] == found["quitter"]["status"] == "fail"
    assert "libcups.so.2" in found["nolib"]["detail"]
    assert "SystemExit: quitter needs a display" in found["quitter"]["detail"]
    assert cli("--version").out.splitlines()[1] == "extras: nolib, quitter"


def test_a_state_folder_its_owner_cannot_use_fails(cli: Any, private: Any) -> None:
    """Mode 0 on the state folder: every run fails to open the journal (as root, only
    the mode can tell, so the finding comes from the mode, not from trying)."""
    state = private.state / "adminkit"
    state.chmod(0o500)
    try:
        code, by, _ = doctor(cli)
    finally:
        state.chmod(0o700)
    [bad] = [r for r in by["state"] if r["subject"] == str(state)]
    assert code == 1 and bad["status"] == "fail"
    assert bad["detail"] == "folder is not readable and writable by you (mode 500)"
    assert bad["fix"] == f"chmod 700 {state}"


def test_a_top_level_name_the_wheel_does_not_ship_is_no_finding(
        cli: Any, private: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """azure-identity's top_level.txt names `images`, a folder of its sdist that no wheel
    installs: what a distribution installed is its RECORD."""
    site = tmp_path / "site"
    fake_extras(site, {"shipped": "VALUE = 1\n"})
    info = site / "shipped_dist-1.0.dist-info"
    (info / "top_level.txt").write_text("shipped\nimages\n")
    (info / "RECORD").write_text("shipped.py,,\nshipped_dist-1.0.dist-info/METADATA,,\n")
    monkeypatch.syspath_prepend(str(site))
    _, by, _ = doctor(cli)
    found = {r["subject"]: r for r in by["extra"]}
    assert found["shipped"]["status"] == "ok", found["shipped"]
    (site / "shipped.py").unlink()  # a file of its RECORD lost: that is a finding
    monkeypatch.delitem(sys.modules, "shipped")
    _, by, _ = doctor(cli)
    found = {r["subject"]: r for r in by["extra"]}
    assert found["shipped"]["status"] == "fail"
    assert "shipped: ModuleNotFoundError" in found["shipped"]["detail"]
