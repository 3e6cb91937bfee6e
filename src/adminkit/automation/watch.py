"""`adminkit watch`: poll a ticket system's queue for new tickets and run their rules.

For systems without webhooks (Request Tracker; Redmine once its backend can search).
Each poll: record the tickets newer than the cursor as triggers, moving the cursor in
the same transaction; handle every open trigger (new, waiting for approval, or left
running by a process that died); deliver the outbox. One watcher per profile and
queue at a time (an flock beside the journal).
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from dataclasses import dataclass, field
from pathlib import Path

from adminkit.automation.dispatch import Dispatcher, FindPlaybook, Outcome
from adminkit.automation.runlock import held
from adminkit.automation.service import RunService
from adminkit.automation.settings import automation_settings
from adminkit.core.config import Profile
from adminkit.core.errors import UsageError
from adminkit.journal.store import Journal
from adminkit.journal.triggers import Triggers
from adminkit.tickets.base import PREFIX_OF_KIND, TicketSystem


@dataclass
class PollReport:
    seen: list[str] = field(default_factory=list)  # ticket ids recorded by this poll
    outcomes: list[Outcome] = field(default_factory=list)
    delivered: int = 0  # notes delivered from the outbox


class Watcher:
    def __init__(self, service: RunService, profile: Profile, system: TicketSystem,
                 find_playbook: FindPlaybook, *, queue: str | None = None,
                 after: str | None = None) -> None:
        if not callable(getattr(system, "new_tickets", None)):
            raise UsageError(f"the {system.kind} ticket backend cannot search for new tickets",
                             hint="watch works with rt; use webhooks (`adminkit serve`) "
                                  "for the others")
        cfg = automation_settings(profile)
        self.queue = queue or (cfg.watch.queue if cfg else None) or getattr(system, "queue",
                                                                            None)
        if not self.queue:
            raise UsageError("no queue to watch", hint="set automation.watch.queue")
        self.interval = cfg.watch.interval if cfg else 30.0
        self.limit = cfg.watch.max_per_poll if cfg else 100
        self.service, self.profile, self.system = service, profile, system
        if after is not None and not (after.isascii() and after.isdigit()):
            raise UsageError(f"--after {after!r}: not a ticket number")
        self.after = after  # where a first watch starts: never the queue's whole past
        self.source = f"watch:{PREFIX_OF_KIND[system.kind]}:{self.queue}"
        self.journal = Journal(service.journal_path)
        self.triggers = Triggers(self.journal)
        self.dispatcher = Dispatcher(service, profile, system, self.journal, find_playbook,
                                     source=f"watch {PREFIX_OF_KIND[system.kind]}")

    def close(self) -> None:
        self.journal.close()

    def poll(self) -> PollReport:
        report = PollReport()
        after = self.triggers.cursor(self.source)
        if after is None:
            if self.after is None:
                raise UsageError(f"{self.source} has no cursor yet: say where to start",
                                 hint="--after TICKET takes the tickets newer than TICKET "
                                      "(--after 0: every ticket in the queue)")
            after = self.after
        elif self.after is not None and self.after != after:
            raise UsageError(f"{self.source} has its cursor at ticket {after} already",
                             hint="leave out --after: it only starts a first watch")
        first = self.after is not None
        self.after = None  # said once, at the start; the cursor leads from here
        found: list[str] = self.system.new_tickets(  # type: ignore[attr-defined]
            self.queue, after, self.limit)
        if found or first:  # a first watch keeps its start even when nothing came yet
            prefix = PREFIX_OF_KIND[self.system.kind]
            self.triggers.add_many([(f"{prefix}:{t}:created", f"{prefix}:{t}", {})
                                    for t in found], source=self.source,
                                   profile=self.profile.name,
                                   cursor=found[-1] if found else after)
            report.seen = found
        for trigger in self.triggers.open(self.profile.name, self.source):
            report.outcomes.append(self.dispatcher.handle(trigger))
        report.delivered = self.dispatcher.flush()
        return report

    def run(self, stop: threading.Event, *, once: bool = False,
            on_poll: object = None) -> None:
        """Poll until `stop` is set (or once)."""
        while not stop.is_set():
            report = self.poll()
            if callable(on_poll):
                on_poll(report)
            if once:
                return
            stop.wait(self.interval)


def watcher_lock(journal_path: Path, source: str) -> contextlib.AbstractContextManager[object]:
    """One watcher per profile and queue: two would both take each new ticket."""
    name = "watch-" + hashlib.sha256(source.encode()).hexdigest()[:32]
    return held(journal_path, name, f"{source} is already watched by another process")
