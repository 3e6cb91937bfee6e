"""Hostile review of the detached `ticket flush` a run hands its leftover notes to
(`deliver_later`): what it does with a secret only a person can give."""

from __future__ import annotations

import contextlib
import os
from typing import Any

import pytest
import yaml

from adminkit.journal.store import Journal
from adminkit.tickets.outbox import deliver_later
from tests.fakes.outbox_rig import queue_note


def test_a_prompt_secret_leaves_the_notes_waiting_not_failed(
        env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator typed RT's password for the run (`password: prompt`); the detached
    flush has no terminal to ask on. Its notes must wait for a flush that can ask (or
    a timer with a stored secret), not fail for good: before, every one was marked
    failed on the spot, a 500-action bulk run's whole record lost from its ticket."""
    monkeypatch.setenv("ADMINKIT_DELIVER_LATER", "on")
    (env.profiles / "acme.yaml").write_text(yaml.safe_dump({
        "name": "acme", "tickets": {"kind": "rt", "url": "https://127.0.0.1:9/",
                                    "user": "root", "password": "prompt",
                                    "queue": "General"}}))
    journal = Journal(env.journal)
    queue_note(journal, system="rt", ticket="1")
    journal.close()
    pid = deliver_later(env.journal, env.config)
    assert pid is not None
    os.waitpid(pid, 0)
    journal = Journal(env.journal)
    [row] = journal.outbox()
    journal.close()
    assert row["status"] == "pending", row
    assert "terminal" in str(row["last_error"])


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_runs_while_the_ticket_system_hangs_keep_two_deliveries_not_one_each(
        env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """RT accepts and never answers. Each run with notes left used to start its own
    detached flush (up to 15 minutes each, ~50 MB each, each holding a connection):
    after 20 runs, 20 processes. Now one delivers and one waits; the rest hand over."""
    import socket
    import threading

    monkeypatch.setenv("ADMINKIT_DELIVER_LATER", "on")
    monkeypatch.setenv("REVAUTO_RT_PW", "x")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(50)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    (env.profiles / "acme.yaml").write_text(yaml.safe_dump({
        "name": "acme", "tickets": {"kind": "rt",
                                    "url": f"http://127.0.0.1:{server.getsockname()[1]}/",
                                    "user": "root", "password": "env:REVAUTO_RT_PW",
                                    "queue": "General"}}))
    journal = Journal(env.journal)
    for n in range(6):
        queue_note(journal, system="rt", ticket=str(n + 1),
                   run_id=f"R-20251125-1000{n:02d}-abc123")
    journal.close()
    pids = []
    try:
        for _ in range(6):
            pid = deliver_later(env.journal, env.config)
            assert pid is not None
            pids.append(pid)
            import time

            time.sleep(0.3)
        assert len(set(pids)) <= 2, pids
        assert sum(_alive(p) for p in set(pids)) <= 2
    finally:
        for pid in set(pids):
            try:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        server.close()
        for conn in held:
            conn.close()


def test_two_runs_back_to_back_deliver_every_note(env: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The waiting one takes the notes of a run that ended while it waited."""
    from adminkit.tickets.local import LocalTickets

    monkeypatch.setenv("ADMINKIT_DELIVER_LATER", "on")
    (env.profiles / "acme.yaml").write_text(yaml.safe_dump({
        "name": "acme", "tickets": {"kind": "local"}}))
    store = LocalTickets()
    ticket = store.new("bulk")
    journal = Journal(env.journal)
    pids = set()
    for n in range(4):
        queue_note(journal, system="local", ticket=ticket,
                   run_id=f"R-20251125-1000{n:02d}-abc123")
        pid = deliver_later(env.journal, env.config)
        assert pid is not None
        pids.add(pid)
    journal.close()
    for pid in pids:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    journal = Journal(env.journal)
    statuses = [r["status"] for r in journal.outbox()]
    journal.close()
    assert statuses == ["delivered"] * 4
    assert len(store.notes(ticket)) == 4
    store.close()
