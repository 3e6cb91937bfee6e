"""Scheduled runs: one schedule's run (never two copies at once), and its systemd units.

A scheduled run goes through the run service like any other: journaled, noted on its
ticket, the policy guards and the profile's bulk limit (a step over it fails and says
so on the ticket, unless the schedule carries `force`, which its run record keeps).
`install` writes a timer and a oneshot service per schedule, and one timer that
delivers the outbox every two minutes, so every note reaches its ticket without
anyone typing a command.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from adminkit.automation.request import PlaybookRequest, RunRequest
from adminkit.automation.runlock import held
from adminkit.automation.service import RunService
from adminkit.automation.settings import Schedule, automation_settings
from adminkit.core.config import Profile
from adminkit.core.errors import UsageError
from adminkit.core.runner import RunReport

FLUSH_CALENDAR = "*:0/2"  # the outbox timer: every two minutes
NEW = ("new", "new:local")  # a schedule's `ticket`: a new one per run


def schedules(profile: Profile) -> list[Schedule]:
    cfg = automation_settings(profile)
    return list(cfg.schedules) if cfg else []


def named(profile: Profile, name: str) -> Schedule:
    for schedule in schedules(profile):
        if schedule.name == name:
            return schedule
    known = ", ".join(s.name for s in schedules(profile)) or "none"
    raise UsageError(f"profile {profile.name} has no schedule {name!r} (schedules: {known})")


def run(service: RunService, profile: Profile, schedule: Schedule,
        find_playbook: Callable[[str], Path], *, check: bool = False) -> RunReport:
    """Run it now; refused (exit 2) while another copy of it runs."""
    with held(service.journal_path, f"schedule-{profile.name}-{schedule.name}",
              f"schedule {schedule.name} of {profile.name} is running already",
              hint="two copies never overlap; this one was skipped"):
        ticket = schedule.ticket
        path = find_playbook(schedule.playbook)
        run_id: str | None = None
        notices: tuple[str, ...] = ()
        if ticket in NEW:
            _startable(schedule, path, check=check)  # never an empty ticket per firing
            local = ticket == "new:local"
            if check:
                ticket = new_ticket(profile, schedule, local=local, check=check)
            else:  # journaled as it is opened: a run killed before its first row loses none
                from adminkit.automation.opening import open_ticket

                opened = open_ticket(service.journal_path, profile, schedule, local=local)
                ticket, run_id, notices = opened.ticket, opened.run_id, opened.notices
        request = RunRequest(
            command=f"schedule {schedule.name}: {schedule.playbook}"
                    + (" (forced over the bulk limit)" if schedule.force else ""),
            profile=profile, ticket=ticket, check=check,
            operator=f"schedule {schedule.name}",
            playbook=PlaybookRequest(path=path,
                                     inputs=dict(schedule.inputs), force=schedule.force),
            run_id=run_id)
        report = service.run(request)
        report.notices[:0] = notices
        return report


def _startable(schedule: Schedule, path: Path, *, check: bool) -> None:
    """Refuse, as the run itself would, a schedule whose run cannot start: its playbook
    gone or broken, its inputs bad, an approval it can never have. Checked before a
    new ticket is opened, so a broken schedule does not open one on every firing."""
    from adminkit.core.errors import PolicyRefused
    from adminkit.playbook.inputs import resolve_inputs
    from adminkit.playbook.loader import load_cached

    loaded = load_cached(path)
    resolve_inputs(loaded.playbook, dict(schedule.inputs))
    if loaded.playbook.requires_approval and not check:
        raise PolicyRefused(f"schedule {schedule.name}: playbook {loaded.playbook.name} "
                            "requires approval, which a schedule cannot have",
                            hint="run it by hand with --approved-by NAME once approved")


def new_ticket(profile: Profile, schedule: Schedule, *, local: bool,
               check: bool, run_id: str | None = None) -> str | None:
    """A ticket of its own for this run: in the profile's ticket system (every backend
    has `create`; Jira SM and Zammad need `tickets.new`), or the local store
    (`new:local`, or a profile with no ticket system). A check run opens none in a
    ticket system (nothing is done)."""
    from adminkit.tickets.settings import ticket_settings

    subject = f"schedule {schedule.name}: {schedule.playbook}"
    cfg = ticket_settings(profile)
    if local or cfg is None or cfg.kind == "local":
        from adminkit.tickets.local import LocalTickets

        store = LocalTickets()
        try:
            return "local:" + store.new(subject, requester=f"schedule {schedule.name}")
        finally:
            store.close()
    if check:
        return None
    lacking = cfg.needs_new()
    if lacking is not None:  # before anything is opened or sent
        raise UsageError(f"schedule {schedule.name}: {cfg.kind} opens a ticket only with "
                         f"{lacking} in the profile", hint="or ticket: new:local keeps the "
                                                           "run's ticket in the local store")
    from adminkit.tickets.base import PREFIX_OF_KIND
    from adminkit.tickets.systems import open_system

    system = open_system(profile, cfg.kind)
    try:
        create = getattr(system, "create", None)
        if not callable(create):
            raise UsageError(f"schedule {schedule.name}: the {cfg.kind} backend cannot open "
                             "tickets", hint="ticket: new:local keeps them in the local store")
        run = f" as run {run_id}" if run_id else ""
        ident = str(create(subject, f"adminkit runs playbook {schedule.playbook} on schedule "
                                    f"{schedule.name} ({schedule.calendar}) for profile "
                                    f"{profile.name}{run}; what it does is noted here."))
    finally:
        system.close()
    return f"{PREFIX_OF_KIND[cfg.kind]}:{ident}"


def _quote(word: str) -> str:
    """One word of a systemd ExecStart= line, quoted and with specifiers escaped."""
    text = word.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{text}"'


def units(profile: Profile, command: list[str], environment: dict[str, str]
          ) -> dict[str, str]:
    """File name -> text of the systemd units for the profile's schedules, and the
    outbox timer. `command`: how to start adminkit (its path, maybe with options)."""
    env = "".join(f"Environment={_quote(f'{k}={v}')}\n" for k, v in sorted(environment.items()))
    out: dict[str, str] = {}

    from adminkit.automation.units import mark

    first = mark(profile.name)  # what `schedule uninstall` recognises its files by

    def pair(stem: str, what: str, args: list[str], calendar: str) -> None:
        line = " ".join(_quote(w) for w in [*command, "--profile", profile.name, *args])
        out[f"{stem}.service"] = (
            f"{first}[Unit]\nDescription=adminkit {what} (profile {profile.name})\n\n"
            f"[Service]\nType=oneshot\n{env}ExecStart={line}\n")
        out[f"{stem}.timer"] = (
            f"{first}[Unit]\nDescription=adminkit {what} (profile {profile.name}): timer\n\n"
            f"[Timer]\nOnCalendar={calendar}\nPersistent=true\nUnit={stem}.service\n\n"
            "[Install]\nWantedBy=timers.target\n")

    for (what, calendar, args), stem in zip(entries(profile), _stems(profile), strict=True):
        pair(stem, what, args, calendar)
    return out


def entries(profile: Profile) -> list[tuple[str, str, list[str]]]:
    """What the timers (or crontab lines) start: (what, calendar, adminkit arguments)
    per schedule, then the outbox's delivery."""
    return [*((f"schedule {s.name}", s.calendar, ["schedule", "run", s.name])
              for s in schedules(profile)),
            ("delivers the ticket outbox", FLUSH_CALENDAR,
             ["ticket", "flush", "--deadline", "100"])]


def _stems(profile: Profile) -> list[str]:
    return [*(f"adminkit-{profile.name}-{s.name}" for s in schedules(profile)),
            f"adminkit-{profile.name}-outbox"]


def next_elapse(calendar: str, after: datetime) -> datetime | None:
    """When the calendar next fires after `after` (UTC), as systemd computes it; None
    without systemd-analyze (then `serve` leaves schedules to the timers)."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        return None
    base = after.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    done = subprocess.run([tool, "calendar", "--iterations=1", f"--base-time={base}", "--",
                           calendar], capture_output=True, text=True, timeout=30, check=False,
                          env={**os.environ, "TZ": "UTC", "SYSTEMD_COLORS": "0"})
    for line in done.stdout.splitlines():
        key, _, value = line.strip().partition(": ")
        if key == "Next elapse":
            try:
                return datetime.strptime(value, "%a %Y-%m-%d %H:%M:%S UTC").replace(tzinfo=UTC)
            except ValueError:
                return None
    return None


class Due:
    """`serve`'s own timer: which schedules are due, from when each last ran (its
    journal rows) or, never run, from when serve started."""

    def __init__(self, journal_path: Path, profile: Profile) -> None:
        self.journal_path, self.profile = journal_path, profile
        self.started = datetime.now(UTC)
        # when each was last handed out as due: a run that stopped before its first
        # row (a broken playbook, a timer's copy running) is not due again at once
        self.fired: dict[str, datetime] = {}

    def last_run(self, schedule: Schedule) -> datetime:
        from adminkit.journal.store import Filters, Journal

        journal = Journal(self.journal_path)
        try:
            rows = journal.entries(Filters(kinds=("run",), operator=f"schedule {schedule.name}"))
        finally:
            journal.close()
        mine = [r for r in rows if r["profile"] == self.profile.name]
        last = datetime.fromisoformat(str(mine[-1]["time"])) if mine else self.started
        return max(last, self.fired.get(schedule.name, last))

    def due(self, now: datetime | None = None) -> list[Schedule]:
        now = now or datetime.now(UTC)
        found = []
        for schedule in schedules(self.profile):
            when = next_elapse(schedule.calendar, self.last_run(schedule))
            if when is not None and when <= now:
                found.append(schedule)
                self.fired[schedule.name] = now
        return found


def check_calendar(expression: str) -> str | None:
    """What systemd says is wrong with a calendar expression; None when it is fine (or
    systemd-analyze is not here to ask)."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        return None
    done = subprocess.run([tool, "calendar", "--", expression], capture_output=True,
                          text=True, timeout=30, check=False)
    return None if done.returncode == 0 else (done.stderr.strip() or "not a calendar")
