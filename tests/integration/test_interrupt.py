"""Ctrl-C during a bulk import on the lab's OpenLDAP: the rows in flight finish, nothing
else starts, and the journal says exactly what is on the server."""

from __future__ import annotations

import os
import re
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import ldap3

from adminkit.core.config import load_profile
from adminkit.core.secrets import resolve
from adminkit.journal.store import Filters, Journal
from adminkit.lab.base import LabServer
from tests.childproc import adminkit_child, wait_for_files

ROWS = 1500
PREFIX = "irq"


def _on_server(lab_config_dir: Path) -> set[str]:
    d = load_profile("lab-openldap", lab_config_dir).directory
    assert d is not None and d.ca_file is not None and d.users_ou is not None
    host, port = d.url.removeprefix("ldaps://").split(":")
    tls = ldap3.Tls(ca_certs_file=str(d.ca_file), validate=ssl.CERT_REQUIRED)
    server = ldap3.Server(host, port=int(port), use_ssl=True, tls=tls, get_info=ldap3.NONE)
    conn = ldap3.Connection(server, d.bind_user, resolve(d.password).reveal(), auto_bind=True)
    entries = conn.extend.standard.paged_search(d.users_ou, f"(uid={PREFIX}*)",
                                                attributes=["uid"], generator=False)
    conn.unbind()
    return {e["attributes"]["uid"][0] for e in entries if e.get("type") == "searchResEntry"}


def test_ctrl_c_during_a_bulk_import(slapd: LabServer, lab_config_dir: Path,
                                     tmp_path: Path) -> None:
    slapd.reset()
    csv = tmp_path / "hires.csv"
    csv.write_text("given_name,surname,login\n" + "".join(
        f"Ira,Stop{i:04d},{PREFIX}{i:04d}\n" for i in range(ROWS)), encoding="utf-8")
    passwords = tmp_path / "pw"
    passwords.mkdir()
    journal_path = tmp_path / "journal.db"
    env = {**os.environ, "ADMINKIT_CONFIG": str(lab_config_dir),
           "ADMINKIT_JOURNAL": str(journal_path), "ADMINKIT_OPERATOR": "pytest"}
    with adminkit_child([sys.executable, "-m", "adminkit.cli.main", "--profile",
                         "lab-openldap", "account", "import", str(csv), "--deliver",
                         f"file:{passwords}"], env) as proc:
        wait_for_files(proc, passwords, 20)  # writing has begun
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert re.search(r"interrupted: \d+ changed, .*\d+ skipped; what finished is in the "
                     r"journal \(run R-[\w-]+\)", err), err
    assert "finish it: adminkit run --resume R-" in err

    try:
        _check(journal_path, passwords, lab_config_dir)
        # the resume finishes the rest: every row on the server, each with its password
        again = subprocess.run([sys.executable, "-m", "adminkit.cli.main", "run", "--resume",
                                "last"], env=env, capture_output=True, text=True, timeout=300,
                               check=False)
        assert again.returncode == 0, again.stderr[-2000:]
        on_server = _on_server(lab_config_dir)
        assert len(on_server) == ROWS
        assert {p.name.removesuffix(".password") for p in passwords.iterdir()
                if p.name.endswith(".password")} == on_server
    finally:
        slapd.reset()  # 1500 accounts less for the next test to wade through


def _check(journal_path: Path, passwords: Path, lab_config_dir: Path) -> None:
    """What the interrupted attempt left: every account on the server is journaled as
    changed, or its write was announced (an intent the resume settles), and has its
    password file; nothing journaled as changed is missing from the server."""
    journal = Journal(journal_path)
    [run] = journal.entries(Filters(kinds=["run"]))
    [end] = journal.entries(Filters(run_id=run["run_id"], kinds=["end"]))
    actions = journal.entries(Filters(run_id=run["run_id"], kinds=["action"]))
    journal.close()
    assert end["status"] == "interrupted"
    assert end["detail"]["exit_code"] == 130
    # a unit whose writes Ctrl-C cut short fails as Interrupted: the resume settles it
    cut_short = [a for a in actions if a["status"] == "failed"]
    assert {a["detail"]["error_type"] for a in cut_short} <= {"Interrupted"}, cut_short[:3]
    assert {a["status"] for a in actions} <= {"changed", "started", "failed", "skipped"}
    journaled = {a["target"] for a in actions if a["status"] == "changed"}
    announced = {a["target"] for a in actions if a["status"] == "started"} | {
        a["target"] for a in cut_short}
    on_server = _on_server(lab_config_dir)
    assert 20 <= len(on_server) < ROWS  # it stopped part way
    assert journaled <= on_server <= journaled | announced, (
        len(journaled), len(announced), len(on_server))
    files = {p.name.removesuffix(".password") for p in passwords.iterdir()
             if p.name.endswith(".password")}
    assert on_server <= files  # no account with a password nobody has
