"""`adminkit serve` killed with SIGKILL during a triggered run resumes it on restart, and
nothing is done twice; a webhook to the first action on the lab's RT and AD.

The real command runs as its own process (so it can really be killed); the webhook is
a generic sender's JSON with its token; the accounts are read back from AD (ldap3, not
adminkit), the notes from RT (as root).
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from adminkit.lab.base import LabServer
from tests.integration.rtread import notes
from tests.integration.test_playbooks import AD, unique_surname

pytestmark = pytest.mark.integration

Cli = Callable[..., Any]
PROFILE = "lab-serve"
TOKEN = "lab-serve-token-" + uuid.uuid4().hex
ROWS = 12


@pytest.fixture(scope="module")
def ad(samba: LabServer, rt: LabServer, lab_config_dir: Path) -> Iterator[AD]:
    directory = AD(lab_config_dir)
    yield directory
    directory.conn.unbind()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Serve:
    def __init__(self, cli: Cli, port: int) -> None:
        self.cli, self.port = cli, port
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        env = {**os.environ, **self.cli.env, "HOOK_TOKEN": TOKEN}  # type: ignore[attr-defined]
        self.proc = subprocess.Popen(
            [*self.cli.argv, "--profile", PROFILE, "serve", "--port", str(self.port),  # type: ignore[attr-defined]
             "--workers", "1"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, start_new_session=True)
        for _ in range(600):
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert self.proc.poll() is None, self.proc.communicate()
            time.sleep(0.05)
        raise AssertionError("serve did not answer")

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(30)


def rows(journal: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    if not journal.exists():
        return []
    db = sqlite3.connect(journal, timeout=30)
    try:
        return db.execute(sql, args).fetchall()
    except sqlite3.OperationalError:  # the table is not there yet
        return []
    finally:
        db.close()


def wait_for(what: str, probe: Callable[[], Any], journal: Path, tries: int = 2400) -> Any:
    for _ in range(tries):
        value = probe()
        if value:
            return value
        time.sleep(0.05)
    seen = rows(journal, "SELECT kind, status, summary, error FROM entries ORDER BY seq")
    triggers = rows(journal, "SELECT key, status, run_id, detail FROM triggers")
    raise AssertionError(f"never happened: {what}; journal {seen[-8:]}; triggers {triggers}")


def test_serve_killed_mid_run_resumes_and_does_nothing_twice(ad: AD, rt: LabServer, cli: Cli,
                                                            lab_config_dir: Path,
                                                            tmp_path: Path) -> None:
    surnames = [unique_surname() for _ in range(ROWS)]
    csv = tmp_path / "people.csv"
    csv.write_text("given_name,surname,mail\n" + "".join(f"Petr,{s},\n" for s in surnames))
    pw = tmp_path / "pw"
    pw.mkdir()
    data = yaml.safe_load((lab_config_dir / "profiles" / "lab.yaml").read_text())
    data["automation"] = {
        "senders": [{"name": "form", "kind": "generic", "token": "env:HOOK_TOKEN"}],
        "rules": [{"name": "bulk", "playbook": "bulk-onboard",
                   "match": {"subject": "^bulk onboard"},
                   "inputs": {"file": str(csv), "deliver": f"file:{pw}"},
                   "requesters": ["*@example.test"]}]}
    (lab_config_dir / "profiles" / f"{PROFILE}.yaml").write_text(yaml.safe_dump(data))
    journal: Path = cli.journal  # type: ignore[attr-defined]

    serve = Serve(cli, free_port())
    serve.start()
    try:
        ticket = rt.new_ticket("Bulk onboard of the new class", requestor="boss@example.test")  # type: ignore[attr-defined]
        r = httpx.post(f"http://127.0.0.1:{serve.port}/hooks/form",
                       json={"ticket": str(ticket)}, headers={"X-Adminkit-Token": TOKEN},
                       timeout=30)
        assert r.status_code == 202, r.text
        key = r.json()["trigger"]
        run_id = wait_for("the run's id", lambda: (rows(
            journal, "SELECT run_id FROM triggers WHERE key = ? AND run_id IS NOT NULL",
            key) or [[None]])[0][0], journal)
        wait_for("two accounts made", lambda: len(rows(
            journal, "SELECT 1 FROM entries WHERE run_id = ? AND kind = 'action' AND "
            "status = 'changed'", run_id)) >= 2, journal)
        serve.kill()
        done_before = len(rows(journal, "SELECT 1 FROM entries WHERE run_id = ? AND kind = "
                                        "'action' AND status = 'changed'", run_id))
        assert rows(journal, "SELECT status FROM triggers WHERE key = ?", key) == [("running",)]
        assert done_before < ROWS, "the run ended before the kill: nothing was tested"

        serve.start()  # takes the running trigger again and resumes its run
        status = wait_for("the trigger ended", lambda: [s for (s,) in rows(
            journal, "SELECT status FROM triggers WHERE key = ?", key)
            if s not in ("queued", "running")], journal)
        assert status == ["done"]
    finally:
        serve.stop()

    # every account once on the server, every password delivered once
    for surname in surnames:
        found = ad._search("DC=samdom,DC=example,DC=com", f"(sn={surname})", ["cn"])
        assert len(found) == 1, surname
    # (a delivery the kill cut short may leave its temporary file; never a second copy)
    assert len(list(pw.glob("*.password"))) == ROWS
    # the journal: one run, each row changed exactly once over both attempts
    changed = rows(journal, "SELECT idx, COUNT(*) FROM entries WHERE run_id = ? AND kind = "
                            "'action' AND status = 'changed' GROUP BY idx", run_id)
    assert sorted(changed) == [(i, 1) for i in range(ROWS)]
    starts = rows(journal, "SELECT detail FROM entries WHERE run_id = ? AND kind = 'run'",
                  run_id)
    assert len(starts) == 2 and '"resumed": true' in starts[1][0]
    # and the ticket has a note per account
    texts = [n.text for n in notes(rt, ticket)]
    for i in range(ROWS):
        assert sum(t.startswith(f"adminkit:{run_id}:{i};") for t in texts) == 1
