"""Delivering queued notes: backoff with jitter, Retry-After honoured, never twice.

Notes wait in the journal database's outbox. A flush leases the due ones (so two
flushers never post the same note); for a note an earlier attempt may already have
posted (a crash between posting and recording), it looks on the ticket for the copy
by its marker first; then it posts and records the outcome.

It gives up honestly. A permanent refusal (a missing ticket, refused credentials, a
coded 4xx that retrying cannot fix) fails at once with the system's reason. Transient
trouble (rate limits, 5xx, a server that is down, an answer that is not what the API
documents) is retried with backoff, up to the profile's limit of attempts and age
(`tickets.note_attempts`, `tickets.note_max_hours`); then the note fails. An internal
note the system made public is `published`: delivered, and a failure of its own kind.
Every note that ends failed or published leaves a journal row, and stays in every
run's summary until a person acknowledges it (`adminkit ticket outbox --ack ID`).
Nothing one note does stops the delivery of the others.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adminkit.core.errors import AdminkitError, AuthenticationFailed, SecretError, UsageError
from adminkit.journal.store import Journal
from adminkit.tickets.base import (
    NotePublished,
    Rejected,
    RetryLater,
    TicketNotFound,
    TicketRef,
    TicketSystem,
    outside,
)

log = logging.getLogger("adminkit.tickets.outbox")
BACKOFF_FIRST = 5.0
BACKOFF_MAX = 3600.0
Opener = Callable[[str | None, str], TicketSystem]  # (profile name, system kind) -> backend
PERMANENT = (TicketNotFound, Rejected, AuthenticationFailed, UsageError)
NOT_REACHED = "not reached yet"  # the last error of a note no attempt has reached
LATER_DEADLINE = 900.0  # seconds a detached delivery (`deliver_later`) keeps at it


@dataclass(frozen=True)
class Limits:
    """When retrying stops: after this many attempts, or once the note is this old."""

    attempts: int = 25  # with the backoff: about 18 hours of trying
    age: timedelta = timedelta(hours=72)
    # The profile's ticket queues (`tickets.queues`) and its system's kind: a note for a
    # ticket of that system outside them is not posted (the run could not check it).
    queues: tuple[str, ...] = ()
    queue_kind: str | None = None


LimitsOf = Callable[[str | None], Limits]  # profile name -> its limits


def backoff(attempts: int, retry_after: float | None) -> float:
    """5 s, 10 s, 20 s … up to an hour, with jitter; never sooner than Retry-After."""
    delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** max(attempts, 0))
    delay *= random.uniform(0.8, 1.2)
    return float(max(delay, retry_after or 0.0))


@dataclass
class FlushReport:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    not_reached: int = 0  # left for later: the deadline came, or its system said "not now"
    published: int = 0  # posted, but public although asked internal
    waiting: int = 0  # not tried now: their backoff has not run out (`flush --now` tries them)
    busy: int = 0  # held by another process delivering them right now
    next_try: datetime | None = None  # when the earliest of those still pending is due
    later: int | None = None  # the pid of the delivery that took what is left (deliver_later)

    @property
    def left(self) -> int:
        """Notes still to deliver after this flush, for whatever reason."""
        return self.retrying + self.not_reached + self.waiting + self.busy


def flush(journal: Journal, open_system: Opener, *, deadline: float | None = None,
          run_id: str | None = None, close: bool = True, backoff: bool = True,
          limits: LimitsOf | None = None, cancel: threading.Event | None = None,
          queue_checks: dict[tuple[str, str], str | None] | None = None) -> FlushReport:
    """Deliver due notes (of one run, if given) until done or `deadline` seconds passed,
    and say what is left and when it is due. `backoff` off: deliver every pending note
    now. `close`: close the systems opened for it (not when they are lent by a run).
    `limits`: each note's profile's retry limits (default `Limits()`). `cancel` set: stop
    after the note in hand, as when the deadline has passed. `queue_checks`: tickets
    whose queue was already read (kept across a run's flushes)."""
    started = time.monotonic()
    report = FlushReport()
    systems: dict[tuple[str | None, str], TicketSystem] = {}
    limits_of = limits or (lambda _profile: Limits())
    tried: set[int] = set()
    checks = {} if queue_checks is None else queue_checks
    resting: dict[tuple[str | None, str], RetryLater] = {}  # systems that said "not now"
    try:
        while True:
            # One note claimed at a time: a lease taken on all due notes at once would
            # run out on the last ones while a slow system takes the first, and another
            # flush would then post them too.
            late = (deadline is not None and time.monotonic() - started > deadline) or \
                (cancel is not None and cancel.is_set())
            claimed = journal.claim_due(datetime.now(UTC), run_id=run_id, backoff=backoff,
                                        after=max(tried, default=0),
                                        limit=None if late else 1)
            if not claimed:
                break
            for note in claimed if late else ():
                tried.add(int(note["id"]))
                journal.note_retry(note["id"], note["last_error"] or NOT_REACHED,
                                   datetime.now(UTC), attempted=False)
                report.not_reached += 1
            if late:
                break
            [note] = claimed
            tried.add(int(note["id"]))
            key = _system_key(note)
            if key in resting:  # its system said "not now" for all: not asked again
                _rest(journal, note, resting[key], report)
                continue
            wait = _deliver_one(journal, note, systems, open_system, report, limits_of, checks)
            if wait is not None:
                resting[key] = wait
    finally:
        for system in systems.values() if close else ():
            try:
                system.close()
            except Exception as exc:  # noqa: BLE001 - closing never undoes a delivery
                log.debug("closing the ticket system failed: %s", type(exc).__name__)
    _left(journal, run_id, tried, report)
    return report


def _left(journal: Journal, run_id: str | None, tried: set[int], report: FlushReport) -> None:
    """Count what waits after this flush, apart from what it tried itself."""
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    pending = journal.pending(run_id)
    for note in pending:
        if note["id"] in tried:
            continue
        if note["lease_until"] is not None and note["lease_until"] >= now:
            report.busy += 1
        else:
            report.waiting += 1
    if pending:
        report.next_try = datetime.fromisoformat(pending[0]["next_attempt"])


def _deliver_one(journal: Journal, note: dict[str, object], systems: dict[tuple[str | None, str],
                 TicketSystem], open_system: Opener, report: FlushReport,
                 limits_of: LimitsOf,
                 checks: dict[tuple[str, str], str | None]) -> RetryLater | None:
    """Deliver one note and record the outcome; the system's "not now" for all its notes
    (`RetryLater.system_wide`), if that was the answer."""
    note_id = int(str(note["id"]))
    attempts = int(str(note["attempts"]))
    key = _system_key(note)
    body, ticket = str(note["body"]), str(note["ticket"])
    try:
        if key not in systems:
            systems[key] = open_system(*key)
        system = systems[key]
        _in_queues(system, key, ticket, limits_of(key[0]), checks)
        # Only an earlier attempt (failed, or cut off while it held the lease) can have
        # posted this note already; a first attempt needs no look at the ticket. A note
        # retried by hand (`flush --retry-failed`) starts again at 0 attempts, but its
        # last error says it was tried: its answer may have been lost after the post.
        tried = (attempts > 0 or note["lease_until"] is not None
                 or note["last_error"] not in (None, NOT_REACHED))
        found = system.find_note(ticket, body.split(" ", 1)[0]) if tried else None
        if found and note["internal"] and getattr(found, "internal", None) is False:
            raise NotePublished(f"{ticket}: the copy an earlier attempt posted is public",
                                remote_id=str(found))
        remote = found or system.add_note(ticket, body, internal=bool(note["internal"]))
        journal.note_delivered(note_id, str(remote))
        report.delivered += 1
    except NotePublished as exc:
        journal.note_published(note_id, exc.remote_id, exc.message)
        _journal_row(journal, note, "published", exc.message)
        report.published += 1
    except SecretError as exc:
        # This process cannot unlock the system (`prompt` with no terminal: a detached
        # or timed flush): nothing is wrong with the note, which waits, not attempted,
        # for a flush that can (the person's `ticket flush`, a stored secret).
        journal.note_retry(note_id, exc.message, datetime.now(UTC), attempted=False)
        report.not_reached += 1
    except PERMANENT as exc:
        _give_up(journal, note, exc.message, report)
    except RetryLater as exc:
        _retry(journal, note, exc.message, exc.retry_after, report, limits_of)
        return exc if exc.system_wide else None
    except AdminkitError as exc:  # other connection trouble: transient
        _retry(journal, note, exc.message, None, report, limits_of)
    except Exception as exc:  # a backend's bug must not stop the others
        log.debug("delivering note %s", note_id, exc_info=True)
        first = (str(exc).splitlines() or [""])[0][:200]
        _retry(journal, note, f"unexpected {type(exc).__name__}: {first}", None, report,
               limits_of)
    return None


def _system_key(note: dict[str, object]) -> tuple[str | None, str]:
    """Which system a note goes to: its profile's (None: the default) of its kind."""
    return (note["profile"] if isinstance(note["profile"], str) else None, str(note["system"]))


def _in_queues(system: TicketSystem, key: tuple[str | None, str], ticket: str,
               limits: Limits, checks: dict[tuple[str, str], str | None]) -> None:
    """A run that could not read its ticket (the system was down) acted without knowing
    its queue: its notes are posted only to a ticket in the profile's queues. Read once
    per ticket and flush (per run, for a run's own flushes)."""
    if not limits.queues or key[1] != limits.queue_kind:
        return
    if (key[1], ticket) not in checks:
        checks[key[1], ticket] = outside(TicketRef(key[1], ticket), system.get(ticket),
                                         limits.queues)
    why = checks[key[1], ticket]
    if why is not None:
        raise Rejected(f"{why}: the note was not posted",
                       hint="the run's ticket number was likely wrong; put the note on the "
                            "right ticket by hand, then `adminkit ticket outbox --ack ID`")


def _retry(journal: Journal, note: dict[str, object], error: str, retry_after: float | None,
           report: FlushReport, limits_of: LimitsOf) -> None:
    """Later, with backoff; or failed, once the note is out of attempts or too old."""
    attempts = int(str(note["attempts"])) + 1
    limits = limits_of(note["profile"] if isinstance(note["profile"], str) else None)
    # A note a person retried by hand (`flush --retry-failed`) is as old as that request.
    age = datetime.now(UTC) - datetime.fromisoformat(str(note.get("retried") or note["created"]))
    if attempts >= limits.attempts or age >= limits.age:
        hours = age.total_seconds() / 3600
        _give_up(journal, note, f"gave up after {attempts} attempt(s) over {hours:.1f} h: "
                                f"{error}", report)
        return
    when = datetime.now(UTC) + timedelta(seconds=backoff(attempts - 1, retry_after))
    journal.note_retry(int(str(note["id"])), error, when)
    report.retrying += 1


def _rest(journal: Journal, note: dict[str, object], why: RetryLater,
          report: FlushReport) -> None:
    """A note whose system said "not now" to another note in this flush (rate limited,
    unreachable): not tried, so no attempt counts; due again after Retry-After, or the
    first backoff. A backlog of thousands is not a thousand requests to a system that
    asked to be left alone, nor a thousand timeouts to one that does not answer."""
    when = datetime.now(UTC) + timedelta(seconds=backoff(0, why.retry_after))
    journal.note_retry(int(str(note["id"])), f"not tried: {why.message}", when,
                       attempted=False)
    report.not_reached += 1


def _give_up(journal: Journal, note: dict[str, object], error: str,
             report: FlushReport) -> None:
    journal.note_failed(int(str(note["id"])), error)
    _journal_row(journal, note, "failed", error)
    report.failed += 1


def retry_failed(journal: Journal) -> int:
    """`ticket flush --retry-failed`: the failed notes are pending again, each with a
    fresh budget of attempts and hours, and a journal row says who asked."""
    notes = journal.requeue_failed()
    for note in notes:
        _journal_row(journal, note, "retried", str(note["last_error"] or ""))
    return len(notes)


def _journal_row(journal: Journal, note: dict[str, object], what: str, error: str) -> None:
    """A lasting trace in the journal (the outbox row changes; the journal does not)."""
    from adminkit.core.run import current_operator

    ref = TicketRef(str(note["system"]), str(note["ticket"]))
    operator = current_operator()
    summary = {"published": f"note {note['id']} on {ref}: internal note went public",
               "retried": f"note {note['id']} on {ref}: failed, retried by hand by {operator} "
                          "with a fresh budget of attempts"}.get(
        what, f"note {note['id']} on {ref}: not delivered, failed for good")
    try:
        journal.append(kind="action", run_id=str(note["run_id"]), idx=None,
                       operator=operator, profile=note["profile"], ticket=str(ref),
                       mode="apply", action="ticket.note", target=str(ref),
                       status="retry" if what == "retried" else "failed",
                       summary=summary, error=error, detail={"note": note["key"],
                                                             "outbox": what})
    except AdminkitError as exc:  # the outbox row still says it; never stop delivering
        log.warning("could not journal %s: %s", summary, exc.message)


class Pump:
    """Delivers one run's notes in the background while it goes on, so actions never wait.

    At the end of the run `finish()` waits for what is left, but never longer than a
    tenth of the run's own duration (at least a second, at most `limit`): a run never
    spends much of its time on the ticket system; the rest waits in the outbox.
    The ticket system is opened by the caller, on its own thread, before the pump
    starts: nothing here loads a profile or asks for a secret.
    """

    def __init__(self, journal: Journal, system: TicketSystem, run_id: str, *, limit: float,
                 interval: float = 0.2, background: bool = True,
                 limits: Limits | None = None) -> None:
        self.journal, self.system, self.run_id, self.limit = journal, system, run_id, limit
        self.limits = limits or Limits()
        self.queue_checks: dict[tuple[str, str], str | None] = {}  # read once per run
        self.interval = interval
        self.started = time.monotonic()
        self.stop = threading.Event()
        self.report = FlushReport()
        # Delivering during a large bulk run competes with it for the CPU (measured:
        # 2.1x slower with 500 notes to RT on 2 cores), so such runs deliver afterwards.
        self.thread = threading.Thread(target=self._loop, name="adminkit-notes", daemon=True)
        if background:
            self.thread.start()

    def open_system(self, profile: str | None, kind: str) -> TicketSystem:
        """Every note of this run goes to the one system the run was given."""
        return self.system

    def _flush(self, deadline: float | None = None,
               cancel: threading.Event | None = None) -> FlushReport:
        return flush(self.journal, self.open_system, deadline=deadline, run_id=self.run_id,
                     close=False, limits=lambda _profile: self.limits, cancel=cancel,
                     queue_checks=self.queue_checks)

    def _loop(self) -> None:
        while not self.stop.is_set():
            try:  # once the run ends, finish() takes over, within its time budget
                self._add(self._flush(cancel=self.stop))
            except Exception:  # the journal busy, say: try again next round
                log.debug("background note delivery", exc_info=True)
            self.stop.wait(self.interval)

    def _add(self, part: FlushReport) -> None:
        self.report.delivered += part.delivered
        self.report.failed += part.failed
        self.report.published += part.published

    def finish(self, *, wait: bool = True) -> FlushReport:
        """`wait` off: deliver nothing more here; what is left is counted `not_reached`
        (for a process that hands it to `deliver_later`)."""
        elapsed = time.monotonic() - self.started
        budget = min(self.limit, max(1.0, elapsed / 10))
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join()
        if not wait:
            self.report.not_reached = len(self.journal.pending(self.run_id))
            return self.report
        last = self._flush(deadline=budget)
        self._add(last)
        self.report.retrying = last.retrying
        self.report.not_reached = last.not_reached
        return self.report



def deliver_later(journal_path: Path, config_dir: Path | None) -> int | None:
    """Start `adminkit ticket flush` on its own, detached, so the notes a run leaves in
    the outbox reach their tickets without anyone typing a command, and the run itself
    never waits for a ticket system: a bulk run with a ticket costs no more than one
    without (bench/ticket_notes.py). A note is never posted twice (leases), so it may
    meet `serve`, a timer or another run's delivery. At most one delivers and one waits
    per journal (`later.py`): with one waiting, that one takes these notes too. The pid
    of the delivery that will take them; None if none can start (the notes wait for the
    next flush)."""
    import fcntl
    import os
    import subprocess
    import sys

    from adminkit.tickets import later

    slot = Path(f"{journal_path}.later-waiting.lock")
    try:
        fd = os.open(slot, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        log.debug("cannot open the background delivery's lock: %s", exc)
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # one waits to start: it takes these notes as well
            text = os.pread(fd, 20, 0).decode("ascii", "replace").strip()
            return int(text) if text.isdigit() else None
        env = {**os.environ, "ADMINKIT_JOURNAL": str(journal_path), later.WAIT_FD: str(fd),
               later.ACTIVE: f"{journal_path}.later-delivering.lock"}
        if config_dir is not None:
            env["ADMINKIT_CONFIG"] = str(config_dir)
        try:
            child = subprocess.Popen(
                [sys.executable, "-m", "adminkit.tickets.later", "ticket", "flush",
                 "--deadline", str(int(LATER_DEADLINE))], env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                pass_fds=(fd,))
        except OSError as exc:
            log.debug("cannot start the background delivery: %s", exc)
            return None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(child.pid).encode(), 0)
        return child.pid
    finally:
        os.close(fd)  # the child holds the waiting slot's lock until it delivers
