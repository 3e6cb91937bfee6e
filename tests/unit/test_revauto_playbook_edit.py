"""Hostile review of the playbook cache and approvals: the playbook edited between the
decision (what the approver was asked to approve) and the run."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from adminkit.automation.dispatch import Dispatcher
from adminkit.automation.service import RunService
from adminkit.core.config import load_profile
from adminkit.journal.store import Journal
from adminkit.tickets.local import LocalTickets
from tests.unit.test_dispatch import BOSS, PLAYBOOKS, queue, texts


def test_a_playbook_edited_while_its_run_waits_for_approval_does_not_run(
        env: Any, tmp_path: Path) -> None:
    """The approver approved unlock-account as it was when the request was decided; an
    edit before the approval (here: its step now disables the account) must not run
    under that approval. Before, the run took whatever the file held by then."""
    books = tmp_path / "books"
    books.mkdir()
    book = books / "unlock-account.yaml"
    shutil.copy(PLAYBOOKS / "unlock-account.yaml", book)
    (env.profiles / "acme.yaml").write_text(yaml.safe_dump({
        "name": "acme", "tickets": {"kind": "local"},
        "automation": {"approvers": ["dispatch"], "rules": [{
            "name": "unlock", "playbook": "unlock-account", "requires_approval": True,
            "match": {"subject": r"^unlock:\s*(?P<login>\S+)$"},
            "fields": {"login": "subject:login"}, "requesters": ["*@example.test"]}]}}))
    journal = Journal(env.journal)
    store = LocalTickets()
    dispatcher = Dispatcher(RunService(journal_path=env.journal, config_dir=env.config),
                            load_profile("acme", env.config), store, journal,
                            lambda name: books / f"{name}.yaml", source="test")
    try:
        ticket = store.new("Unlock: jdoe", requester=BOSS)
        run_id = queue(dispatcher, ticket).run_id
        book.write_text(book.read_text().replace("account.unlock", "account.disable"))
        outcome = dispatcher.answer(run_id, "dispatch", approve=True, via="test")
        row = journal.run(run_id)
        said = texts(store, dispatcher, ticket)
    finally:
        journal.close()
        store.close()
    assert not any("account.disable" in t for t in said), said
    assert row is None or "account.disable" not in str(row), row
    assert outcome.status != "done"
    assert any("changed" in t for t in said), said
