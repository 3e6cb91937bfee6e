"""A scheduled run's own ticket (`ticket: new`), journaled as it is opened.

Opening the ticket is a write to the ticket system made before the run's first row:
a process killed in between would leave a ticket nobody can find from the journal.
So the run's id is chosen first, and two decisions are journaled around the opening
(each a complete event, never a dangling run): `ticket opening` for run R before the
ticket system is asked, and `ticket opened` (on the new ticket, so `adminkit status`
finds it) as soon as it answers. The next run of the schedule reads them back: a
ticket opened for a run that never started is that run's ticket, taken up under the
same run id instead of a new one (once: `ticket taken up`); an opening that never got
its answer is said in the report (the ticket, if the system made it, names the run in
its text).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from adminkit.automation.settings import Schedule
from adminkit.core.config import Profile
from adminkit.core.run import Run, current_operator, new_run_id
from adminkit.journal.store import Filters, Journal

OPENING, OPENED, TAKEN = "ticket opening", "ticket opened", "ticket taken up"


@dataclass(frozen=True)
class Opened:
    ticket: str | None
    run_id: str
    notices: tuple[str, ...] = ()


def _event(journal: Journal, profile: Profile, schedule: Schedule, event: str, run_id: str,
           ticket: str | None, text: str) -> None:
    """One decision as a run of no actions (its run and end rows in one transaction)."""
    run = Run(command=f"schedule {schedule.name}: {event}", profile=profile.name,
              ticket=ticket, operator=current_operator(f"schedule {schedule.name}"))
    common = {"run_id": run.id, "operator": run.operator, "profile": run.profile,
              "ticket": run.ticket, "mode": run.mode}
    detail = {"event": event, "for_run": run_id, "schedule": schedule.name}
    journal.append_many([
        (None, {"kind": "run", "summary": run.command, "status": "started",
                "detail": detail, **common}),
        (None, {"kind": "end", "summary": text, "status": event.split()[-1],
                "detail": {**detail, "counts": {}, "exit_code": 0}, **common})])


def _left_over(journal: Journal, profile: Profile, schedule: Schedule
               ) -> tuple[str | None, str | None]:
    """The schedule's last opening, if its run never started: (run id, ticket or None
    when the opening got no answer); (None, None) otherwise."""
    rows = [r for r in journal.entries(Filters(operator=f"schedule {schedule.name}",
                                               kinds=("end",)))
            if r["profile"] == profile.name and isinstance(r["detail"], dict)
            and r["detail"].get("event") in (OPENING, OPENED, TAKEN)]
    if not rows:
        return None, None
    last = rows[-1]
    run_id = str(last["detail"].get("for_run") or "")
    if not run_id or last["detail"]["event"] == TAKEN or journal.run(run_id) is not None:
        return None, None  # the run started (its ticket is in its rows), or was tried once
    return run_id, str(last["ticket"]) if last["detail"]["event"] == OPENED else None


def open_ticket(journal_path: Path, profile: Profile, schedule: Schedule, *,
                local: bool) -> Opened:
    """The run's id and its new ticket, journaled before and as it is opened; a ticket
    a killed run opened and never used is taken up instead."""
    from adminkit.automation.schedule import new_ticket

    journal = Journal(journal_path)
    try:
        run_id, ticket = _left_over(journal, profile, schedule)
        if run_id and ticket:  # taken up once: a run that fails again gets a new one
            _event(journal, profile, schedule, TAKEN, run_id, ticket,
                   f"{ticket}, opened for run {run_id} which was stopped before it "
                   "started, is taken up by it now")
            return Opened(ticket, run_id, (f"{ticket} was opened for run {run_id}, which "
                                           "was stopped before it started: it runs now",))
        notices: tuple[str, ...] = ()
        if run_id:
            notices = (f"run {run_id} was stopped while opening its ticket: if the ticket "
                       f"system made one, its text names run {run_id}",)
        run_id = new_run_id()
        _event(journal, profile, schedule, OPENING, run_id, None,
               f"opening a ticket for run {run_id}")
        ticket = new_ticket(profile, schedule, local=local, check=False, run_id=run_id)
        _event(journal, profile, schedule, OPENED, run_id, ticket,
               f"opened {ticket} for run {run_id}")
        return Opened(ticket, run_id, notices)
    finally:
        journal.close()
