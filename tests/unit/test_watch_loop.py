"""The watcher's loop over polls, on the embedded ticket store (given the search RT's
backend has): a first `--after`, then the cursor; a restart neither misses nor repeats."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from adminkit.automation.service import RunService
from adminkit.automation.watch import Watcher
from adminkit.core.config import load_profile
from adminkit.core.errors import UsageError
from adminkit.tickets.local import LocalTickets

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"


class Searchable(LocalTickets):
    """The local store with the one search `watch` needs."""

    queue = "Helpdesk"

    def new_tickets(self, queue: str, after: str | None, limit: int = 100) -> list[str]:
        return [str(t["id"]) for t in self.all() if int(t["id"]) > int(after or 0)][:limit]


@pytest.fixture
def watcher(env: Any) -> Any:
    (env.profiles / "acme.yaml").write_text(yaml.safe_dump({
        "name": "acme", "tickets": {"kind": "local"},
        "automation": {"rules": [{"name": "onboarding", "playbook": "onboard-user",
                                  "match": {"subject": "^new hire"},
                                  "fields": {"given_name": "Given"},
                                  "requesters": ["*"]}]}}))
    profile = load_profile("acme", env.config)
    service = RunService(journal_path=env.journal, config_dir=env.config)

    def make(after: str | None = None) -> Watcher:
        return Watcher(service, profile, Searchable(), lambda n: PLAYBOOKS / f"{n}.yaml",
                       after=after)

    return make


def test_after_starts_the_cursor_then_polls_go_on_and_a_restart_repeats_nothing(
        watcher: Any) -> None:
    store = LocalTickets()
    old = store.new("New hire before the watch", requester="boss")
    first = watcher()
    with pytest.raises(UsageError, match="no cursor yet"):
        first.poll()
    first.close()
    w = watcher(after=old)
    assert w.poll().seen == []
    one = store.new("New hire: Jana", requester="boss")
    report = w.poll()  # a second poll of the same watcher: --after is not asked again
    assert report.seen == [one] and [o.status for o in report.outcomes] == ["refused"]
    two = store.new("Printer", requester="boss")
    w.close()
    again = watcher()  # restarted, no --after: the cursor says where it was
    assert again.poll().seen == [two]
    assert again.poll().seen == []
    again.close()
    with pytest.raises(UsageError, match="cursor at ticket"):
        watcher(after=old).poll()
