"""Hostile review of the detached `ticket flush` a run hands its leftover notes to
(`deliver_later`): what it does with a secret only a person can give."""

from __future__ import annotations

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
