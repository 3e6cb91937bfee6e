"""`adminkit watch`: poll a ticket system's queue for new tickets and run their rules.

For systems without webhooks (Request Tracker, Redmine: `feeds.py` says how each is
searched). Each poll: record the tickets past the cursor as triggers, moving the cursor
in the same transaction (a ticket read twice is one trigger, by its key); handle every
open trigger (new, waiting for approval, or left running by a process that died) that
is due (one that could not reach a system waits automation.retry's delay);
deliver the outbox. One watcher per ticket-system instance and
queue at a time (an flock beside the journal).
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from adminkit.automation.dispatch import Dispatcher, FindPlaybook, Outcome, retry_due
from adminkit.automation.feeds import feed_for
from adminkit.automation.runlock import held
from adminkit.automation.service import RunService
from adminkit.automation.settings import automation_settings
from adminkit.core.config import Profile
from adminkit.core.errors import ConnectionFailed, UsageError
from adminkit.core.secrets import redact
from adminkit.journal.store import Journal
from adminkit.journal.triggers import Triggers, event_key
from adminkit.tickets.base import PREFIX_OF_KIND, TicketSystem
from adminkit.tickets.instance import instance


@dataclass
class PollReport:
    seen: list[str] = field(default_factory=list)  # ticket ids recorded by this poll
    outcomes: list[Outcome] = field(default_factory=list)
    delivered: int = 0  # notes delivered from the outbox
    error: str | None = None  # the ticket system could not be reached: tried next poll


class Watcher:
    def __init__(self, service: RunService, profile: Profile, system: TicketSystem,
                 find_playbook: FindPlaybook, *, queue: str | None = None,
                 after: str | None = None) -> None:
        cfg = automation_settings(profile)
        self.queue = queue or (cfg.watch.queue if cfg else None) or getattr(system, "queue",
                                                                            None)
        if not self.queue and system.kind == "redmine":
            from adminkit.tickets.settings import ticket_settings

            tickets = ticket_settings(profile)
            self.queue = tickets.queue if tickets else None
        if not self.queue:
            raise UsageError("no queue to watch", hint="set automation.watch.queue (Redmine: "
                                                       "the project's identifier)")
        self.feed = feed_for(system, self.queue, overlap=cfg.watch.overlap if cfg else 120.0,
                             filters=dict(cfg.watch.filters) if cfg else {})
        self.interval = cfg.watch.interval if cfg else 30.0
        self.limit = cfg.watch.max_per_poll if cfg else 100
        self.service, self.profile, self.system = service, profile, system
        if after is not None and not after.strip():
            raise UsageError("--after: empty")
        self.after = after  # where a first watch starts: never the queue's whole past
        prefix = PREFIX_OF_KIND[system.kind]
        # the instance watched is in the cursor's name (two customers' RTs each have a
        # queue General) and in each trigger's key (each has a ticket 42)
        self.instance = instance(profile, system.kind)
        self.source = f"watch:{prefix}:{self.queue}@{self.instance}"
        self.journal = Journal(service.journal_path)
        self.triggers = Triggers(self.journal)
        self.triggers.adopt(profile.name, prefix, self.instance,  # written before that
                            sources=(f"watch:{prefix}:{self.queue}", self.source))
        self.dispatcher = Dispatcher(service, profile, system, self.journal, find_playbook,
                                     source=f"watch {PREFIX_OF_KIND[system.kind]}")
        # what time it is for a trigger's next try (automation.retry; a test sets it)
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def close(self) -> None:
        self.journal.close()

    def poll(self) -> PollReport:
        report = PollReport()
        cursor = self.triggers.cursor(self.source)
        first = cursor is None
        if cursor is None:
            if self.after is None:
                raise UsageError(f"{self.source} has no cursor yet: say where to start",
                                 hint="--after TICKET takes the tickets newer than TICKET "
                                      "(--after 0: every ticket in the queue)")
            cursor = self.feed.start(self.after)
        elif self.after is not None and self.feed.start(self.after) != cursor:
            raise UsageError(f"{self.source} has its cursor at ticket {_shown(cursor)} already",
                             hint="leave out --after: it only starts a first watch")
        prefix = PREFIX_OF_KIND[self.system.kind]

        def key(t: str) -> str:
            return event_key(f"{prefix}:{t}:created", self.instance)

        found, after = self.feed.poll(cursor, self.limit,
                                      known=lambda t: self.triggers.get(key(t)) is not None)
        if found or first or after != cursor:  # a first watch keeps its start
            new = self.triggers.add_many([(key(t), f"{prefix}:{t}", {}) for t in found],
                                         source=self.source,
                                         profile=self.profile.name, cursor=after)
            report.seen = [t for t, added in zip(found, new, strict=True) if added]
        self.after = None  # said once, at the start (kept until a poll went through)
        now, delays = self.clock(), self.dispatcher.cfg.retry.delays
        for trigger in self.triggers.open(self.profile.name, self.source):
            if retry_due(trigger, delays, now):  # one that failed a try waits its delay
                report.outcomes.append(self.dispatcher.handle(trigger))
        report.delivered = self.dispatcher.flush()
        return report

    def run(self, stop: threading.Event, *, once: bool = False,
            on_poll: object = None) -> None:
        """Poll until `stop` is set (or once). A ticket system that cannot be reached is
        tried again at the next poll (the cursor moved only with what was recorded);
        with `once` it is the command's error."""
        while not stop.is_set():
            try:
                report = self.poll()
            except ConnectionFailed as exc:
                if once:
                    raise
                report = PollReport(error=redact(exc.message.splitlines()[0]))
            if callable(on_poll):
                on_poll(report)
            if once:
                return
            stop.wait(self.interval)


def _shown(cursor: str) -> str:
    """A cursor in words: RT's is a ticket id; Redmine's the (time, id) reached."""
    import json

    try:
        at = json.loads(cursor)["at"]
        return f"{at[1]} (updated {at[0]})"
    except (ValueError, KeyError, TypeError, IndexError):
        return cursor


def watcher_lock(journal_path: Path, source: str) -> contextlib.AbstractContextManager[object]:
    """One watcher per instance and queue: two would race one cursor."""
    name = "watch-" + hashlib.sha256(source.encode()).hexdigest()[:32]
    return held(journal_path, name, f"{source} is already watched by another process")
