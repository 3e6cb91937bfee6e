"""From a queued trigger to a run: the rule, its inputs, approval, the run, and its notes.

Shared by every trigger (`watch` today, webhooks next). A triggered run goes through
the run service like a CLI run: the playbook's typed inputs, the policy guards and the
bulk limit apply (a trigger never forces), secrets never reach a note, and the run id
is written on the trigger before the run starts, so a process killed mid-run leaves a
`running` trigger that the next one resumes from the journal.

What a trigger decides without running (no rule, a missing field, a requester who may
not ask, waiting for approval, rejected, timed out) is journaled as a run of no
actions whose end row carries a note for the ticket: the journal is the full history
of the request, and the outbox delivers the note.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adminkit.automation.request import PlaybookRequest, RunRequest
from adminkit.automation.rules import decide, find_rule, identity
from adminkit.automation.runlock import Busy
from adminkit.automation.settings import AutomationConfig, automation_settings
from adminkit.core.config import Profile
from adminkit.core.errors import AdminkitError, ConnectionFailed, Interrupted, UsageError
from adminkit.core.jsonvalues import cut_text
from adminkit.core.run import Run, current_operator, new_run_id
from adminkit.core.secrets import redact
from adminkit.journal.store import Journal
from adminkit.journal.triggers import Trigger, Triggers
from adminkit.tickets.base import (
    USER_ID_KINDS,
    Ticket,
    TicketNotFound,
    TicketRef,
    TicketSystem,
    parse_ref,
)
from adminkit.tickets.notes import marker

if TYPE_CHECKING:
    from adminkit.automation.service import RunService
    from adminkit.automation.warm import Warm

FindPlaybook = Callable[[str], Path]
APPROVE, REJECT = "/approve", "/reject"


@dataclass
class Outcome:
    key: str
    status: str  # the trigger's status after this step
    run_id: str | None = None
    exit_code: int | None = None
    why: str = ""
    already: bool = False  # an answer to a request another answer had settled first


class Dispatcher:
    """Handles one profile's triggers against its ticket system."""

    def __init__(self, service: RunService, profile: Profile, system: TicketSystem,
                 journal: Journal, find_playbook: FindPlaybook, *, source: str,
                 warm: Warm | None = None) -> None:
        cfg = automation_settings(profile)
        if cfg is None or not cfg.rules:
            raise UsageError(f"profile {profile.name} has no automation rules",
                             hint="add `automation: {rules: [...]}` to the profile")
        self.cfg: AutomationConfig = cfg
        self.service, self.profile, self.system = service, profile, system
        self.journal, self.find_playbook, self.source = journal, find_playbook, source
        self.warm = warm  # a serve worker's connections, from one run to its next
        self.triggers = Triggers(journal)

    def flush(self) -> int:
        """Deliver the outbox now (this profile's system lent, others opened by name):
        whoever handles triggers is the outbox's pump. The count delivered."""
        from adminkit.tickets.outbox import flush
        from adminkit.tickets.systems import opener

        lent, by_name = self.system, opener(self.service.config_dir)

        def open_system(profile: str | None, kind: str) -> TicketSystem:
            if profile == self.profile.name and kind == lent.kind:
                return lent
            return by_name(profile, kind)

        return flush(self.journal, open_system, deadline=30, close=False).delivered

    # -- one trigger -----------------------------------------------------------------
    def handle(self, trigger: Trigger) -> Outcome:
        """Move an open trigger on as far as it can go now."""
        if trigger.status == "running":
            return self._settle(trigger)
        try:
            if trigger.status == "waiting":
                return self._check_approval(trigger)
            return self._decide(trigger)
        except ConnectionFailed as exc:  # the ticket system: tried again later, as it was
            message = redact(exc.message.splitlines()[0])
            self.triggers.move(trigger.key, trigger.status, attempt=True,
                               detail={"why": message})
            return Outcome(trigger.key, trigger.status, why=message)
        except TicketNotFound as exc:  # deleted while it waited: nobody left to answer
            message = redact(exc.message.splitlines()[0])
            self.triggers.move(trigger.key, "cancelled", was=(trigger.status,),
                               detail={"why": message})
            return Outcome(trigger.key, "cancelled", trigger.run_id, why=message)

    def _ref(self, trigger: Trigger) -> TicketRef:
        assert trigger.ticket is not None
        return parse_ref(trigger.ticket, self.system.kind, what="trigger")

    def _decide(self, trigger: Trigger) -> Outcome:
        ref = self._ref(trigger)
        try:
            ticket = self.system.get(ref.id)
        except TicketNotFound as exc:
            self.triggers.move(trigger.key, "ignored", detail={"why": exc.message})
            return Outcome(trigger.key, "ignored", why=exc.message)
        foreign = self._outside(ref, ticket)
        if foreign is not None:  # another team's ticket: not a note on it, not a run
            self.triggers.move(trigger.key, "ignored", detail={"why": foreign})
            return Outcome(trigger.key, "ignored", why=foreign)
        rule = find_rule(self.cfg.rules, ticket)
        if rule is None:
            self.triggers.move(trigger.key, "ignored", detail={"why": "no rule takes it"})
            return Outcome(trigger.key, "ignored", why="no rule takes it")
        operator = f"{self.source} for {_plain(ticket.requester or 'nobody')}"
        try:
            from adminkit.playbook.loader import load_cached

            path = self.find_playbook(rule.playbook)
            loaded = load_cached(path)
            playbook = loaded.playbook
        except UsageError as exc:
            return self._refuse(trigger, ref, operator, "refused",
                                f"rule {rule.name}: its playbook cannot be used: "
                                f"{exc.message.splitlines()[0]}")
        decision = decide(rule, ticket, playbook)
        if decision.refused is not None:
            return self._refuse(trigger, ref, operator, "refused",
                                f"not run: {decision.refused}")
        if decision.problems:
            return self._refuse(
                trigger, ref, operator, "refused",
                f"rule {rule.name} (playbook {playbook.name}) takes this ticket, but it "
                "cannot run until the ticket is fixed:\n"
                + "\n".join(f"- {p}" for p in decision.problems))
        # the digest: what was decided (and approved) is what runs; an edit in between
        # refuses the run (the service compares it with the file's bytes)
        plan = {"rule": rule.name, "playbook": str(path), "name": playbook.name,
                "inputs": decision.inputs, "requester": ticket.requester,
                "requester_id": ticket.requester_id,
                "operator": operator, "digest": loaded.source.digest}
        if rule.requires_approval or playbook.requires_approval:
            return self._wait(trigger, ref, ticket, plan)
        self.triggers.move(trigger.key, "queued", detail={"plan": plan})
        return self._start(trigger.key, plan, approved_by=None)

    def _outside(self, ref: TicketRef, ticket: Ticket) -> str | None:
        from adminkit.tickets.base import outside
        from adminkit.tickets.settings import allowed_queues, ticket_settings

        return outside(ref, ticket, allowed_queues(ticket_settings(self.profile), ref.kind))

    # -- running -----------------------------------------------------------------------
    def _start(self, key: str, plan: dict[str, Any], *, approved_by: str | None,
               run_id: str | None = None) -> Outcome:
        trigger = self.triggers.get(key)
        assert trigger is not None
        run_id = run_id or trigger.run_id or new_run_id()
        if not self.triggers.move(key, "running", was=("queued", "waiting"), run_id=run_id,
                                  detail={"approved_by": approved_by}):
            return Outcome(key, "busy", run_id, why="another process took it")
        return self._run(self.triggers.get(key) or trigger, plan, approved_by)

    def _run(self, trigger: Trigger, plan: dict[str, Any], approved_by: str | None) -> Outcome:
        run_id = trigger.run_id
        assert run_id is not None
        ref = self._ref(trigger)
        by = f", approved by {approved_by}" if approved_by else ""
        request = RunRequest(
            command=f"{plan['name']} for {ref} (rule {plan['rule']}{by})", profile=self.profile,
            playbook=PlaybookRequest(path=Path(plan["playbook"]),
                                     inputs=dict(plan["inputs"]), approved_by=approved_by,
                                     digest=plan.get("digest")),
            ticket=str(ref), operator=plan["operator"], run_id=run_id)
        try:
            report = self.service.run(request, warm=self.warm)
        except Interrupted:  # Ctrl-C: the trigger stays running, the next process resumes it
            raise
        except Busy as exc:  # the run is another process's now: the trigger is left as it is
            return Outcome(trigger.key, "busy", run_id, why=exc.message)
        except ConnectionFailed as exc:
            return self._not_started(trigger, ref, plan, exc, retry=True)
        except AdminkitError as exc:
            return self._not_started(trigger, ref, plan, exc, retry=False)
        status = "done" if report.exit_code == 0 else "failed"
        self.triggers.move(trigger.key, status, detail={"exit_code": report.exit_code})
        return Outcome(trigger.key, status, run_id, report.exit_code)

    def _not_started(self, trigger: Trigger, ref: TicketRef, plan: dict[str, Any],
                     exc: AdminkitError, *, retry: bool) -> Outcome:
        """The service raised: before the run started (bad inputs, a refused bulk, an
        unreachable system), or a run that started and then stopped (its rows say)."""
        started = self.journal.run(trigger.run_id or "") is not None
        message = redact(exc.message.splitlines()[0])
        if retry and not started and trigger.attempts + 1 < self.cfg.retry.attempts:
            self.triggers.move(trigger.key, "queued", attempt=True, detail={"why": message})
            return Outcome(trigger.key, "queued", trigger.run_id, why=message)
        from adminkit.automation.ticketcheck import OutsideQueues

        if not started and not isinstance(exc, OutsideQueues):  # never a note on another's
            self._event(ref, plan["operator"], "failed",
                        f"{plan['name']} (rule {plan['rule']}) did not start: {message}")
        self.triggers.move(trigger.key, "failed", attempt=True, detail={"why": message})
        return Outcome(trigger.key, "failed", trigger.run_id, int(exc.exit_code), message)

    def _settle(self, trigger: Trigger) -> Outcome:
        """A trigger left `running` by a process that died: resume its run from the
        journal (nothing journaled as done is done again), or start it if it never did."""
        plan = trigger.detail.get("plan") or {}
        approved_by = trigger.detail.get("approved_by")
        if self.journal.run(trigger.run_id or "") is None:
            return self._run(trigger, plan, approved_by)
        seen = self.journal.ends(str(trigger.run_id))  # another's resume since: not redone
        try:
            report = self.service.resume(str(trigger.run_id), operator=plan.get("operator"),
                                         seen_ends=seen)
        except Busy as exc:  # being resumed in another process: looked at again later
            return Outcome(trigger.key, "running", trigger.run_id, why=exc.message)
        except ConnectionFailed as exc:
            # a system that did not answer this time (a connection reset, the ticket
            # system restarting): the trigger stays running, and the run half done is
            # resumed again later (`retry_due`), up to automation.retry.attempts, as a run
            # that never started is
            if trigger.attempts + 1 < self.cfg.retry.attempts:
                message = redact(exc.message.splitlines()[0])
                self.triggers.move(trigger.key, "running", was=("running",), attempt=True,
                                   detail={"why": message})
                return Outcome(trigger.key, "running", trigger.run_id, why=message)
            return self._not_started(trigger, self._ref(trigger), plan, exc, retry=False)
        except AdminkitError as exc:
            return self._not_started(trigger, self._ref(trigger), plan, exc, retry=False)
        status = "done" if report.exit_code == 0 else "failed"
        self.triggers.move(trigger.key, status, detail={"exit_code": report.exit_code,
                                                        "resumed": True})
        return Outcome(trigger.key, status, trigger.run_id, report.exit_code)

    # -- approval ----------------------------------------------------------------------
    def _wait(self, trigger: Trigger, ref: TicketRef, ticket: Ticket,
              plan: dict[str, Any]) -> Outcome:
        run_id = new_run_id()
        since = datetime.now(UTC).isoformat(timespec="seconds")
        approvers = ", ".join(self.cfg.approvers) or "(none configured)"
        self.triggers.move(trigger.key, "waiting", run_id=run_id,
                           detail={"plan": plan, "since": since, "seen": []})
        self._event(ref, plan["operator"], "waiting",
                    f"{plan['name']} (rule {plan['rule']}) waits for approval as run {run_id}. "
                    f"An approver ({approvers}), not the requester, comments {APPROVE} or "
                    f"{REJECT} on this ticket, or runs `adminkit approve {run_id}` (a login "
                    "automation.console_approvers names); "
                    f"without an answer in {self.cfg.approval_timeout_hours:g} h it is "
                    "cancelled.")
        return Outcome(trigger.key, "waiting", run_id)

    def _check_approval(self, trigger: Trigger) -> Outcome:
        trigger = self.triggers.get(trigger.key) or trigger  # the answers seen so far
        plan = trigger.detail.get("plan") or {}
        ref = self._ref(trigger)
        since = datetime.fromisoformat(str(trigger.detail["since"]))
        deadline = self._deadline(trigger)
        reader = getattr(self.system, "notes", None)
        if callable(reader):
            seen = list(trigger.detail.get("seen") or [])
            for note in reader(ref.id):
                answer = _answer(str(note.get("body") or ""))
                when = _when(note.get("time"))
                if answer is None or when is None or when < since or when > deadline:
                    continue  # before the request, or after it was given up
                mark = hashlib.sha256(repr(sorted(note.items())).encode()).hexdigest()[:16]
                if mark in seen:
                    continue
                seen.append(mark)
                self.triggers.move(trigger.key, "waiting", detail={"seen": seen})
                author_id, unverified = note.get("author_id"), note.get("unverified")
                done = self.answer(trigger.run_id or "", str(note.get("author") or ""),
                                   approve=answer == APPROVE, via=f"{ref} comment at {when}",
                                   who_id=str(author_id) if author_id else None,
                                   unverified=str(unverified) if unverified else None,
                                   when=when)
                if done.status != "waiting":
                    return done
        if datetime.now(UTC) > deadline:
            return self._cancel(trigger, ref, plan)
        return Outcome(trigger.key, "waiting", trigger.run_id)

    def _deadline(self, trigger: Trigger) -> datetime:
        """When a request waiting for approval is given up: an answer after it is none."""
        return datetime.fromisoformat(str(trigger.detail["since"])) + timedelta(
            hours=self.cfg.approval_timeout_hours)

    def _cancel(self, trigger: Trigger, ref: TicketRef, plan: dict[str, Any]) -> Outcome:
        why = (f"run {trigger.run_id} ({plan.get('name')}) cancelled: no approval within "
               f"{self.cfg.approval_timeout_hours:g} h")
        if self.triggers.move(trigger.key, "cancelled", was=("waiting",)):
            self._event(ref, plan.get("operator", self.source), "cancelled", why)
        return Outcome(trigger.key, "cancelled", trigger.run_id, why=why)

    def answer(self, run_id: str, who: str, *, approve: bool, via: str,
               who_id: str | None = None, unverified: str | None = None,
               operator: str | None = None, when: datetime | None = None) -> Outcome:
        """An approver's /approve or /reject (a ticket comment, or `adminkit approve`).
        The requester never approves their own request; a refusal is noted once. Both
        are told by `identity`: the user id a comment's system gives (`who_id`), else
        (where the system has no ids) the name; `who` is what the notes show. A comment
        whose author the system took from the message itself (`unverified`: an e-mail's
        From) proves nobody, and is refused. `operator`: who typed it (`adminkit
        approve`), the journal's operator of the decision. `when`: when it was given
        (a comment's time; default now): after the approval timeout, the request is
        cancelled instead."""
        trigger = self.triggers.by_run(run_id)
        if trigger is None or (trigger.status != "waiting" and not trigger.detail.get("since")):
            raise UsageError(f"no run {run_id} waiting for approval",
                             hint="`adminkit status TICKET` shows the ticket's runs")
        plan = trigger.detail.get("plan") or {}
        actor = operator or plan.get("operator", self.source)  # the decision's operator
        ref = self._ref(trigger)
        verb = "approve" if approve else "reject"
        if trigger.status != "waiting":  # answered (or given up) already
            return self._already(trigger, ref, actor, verb, who)
        if (when or datetime.now(UTC)) > self._deadline(trigger):  # given up: too late
            return self._cancel(trigger, ref, plan)
        requester = identity(plan.get("requester"), plan.get("requester_id"), ref.kind)
        if not requester and plan.get("requester") and ref.kind in USER_ID_KINDS:
            # planned before this system's people were ids: the ticket says who asked
            requester = identity(None, self.system.get(ref.id).requester_id, ref.kind)
        key = identity(who, who_id, ref.kind)
        who = f"{who} ({who_id})" if who_id and who and who != who_id else who or key
        problem = None
        if unverified is not None:
            problem = (f"a {verb} signed {who or 'by nobody'} proves nobody: {unverified}; "
                       f"an approver answers in the ticket system itself (a note)")
        elif not key or key.casefold() not in {a.strip().casefold() for a in self.cfg.approvers}:
            problem = f"{who or 'someone'} may not {verb} it (not an approver)"
        elif requester and key.casefold() == requester.casefold():
            problem = f"{who} asked for it and cannot {verb} it too (four eyes)"
        if problem is not None:
            self._event(ref, actor, "refused",
                        f"run {run_id} ({plan.get('name')}) still waits: {problem}")
            return Outcome(trigger.key, "waiting", run_id, why=problem)
        # The answer is a claim on the waiting trigger that one answer wins (a /approve
        # comment and `adminkit approve` at once): only the winner notes it and runs it.
        if not approve:
            if not self.triggers.move(trigger.key, "rejected", was=("waiting",),
                                      detail={"rejected_by": who, "via": via}):
                return self._already(trigger, ref, actor, verb, who)
            self._event(ref, actor, "rejected",
                        f"run {run_id} ({plan.get('name')}) rejected by {who} ({via}): "
                        "nothing was done")
            return Outcome(trigger.key, "rejected", run_id)
        if not self.triggers.move(trigger.key, "running", was=("waiting",),
                                  detail={"approved_by": who, "via": via}):
            return self._already(trigger, ref, actor, verb, who)
        self._event(ref, actor, "approved",
                    f"run {run_id} ({plan.get('name')}) approved by {who} ({via}); it starts now")
        return self._run(self.triggers.get(trigger.key) or trigger, plan, approved_by=who)

    def _already(self, trigger: Trigger, ref: TicketRef, actor: str, verb: str,
                 who: str) -> Outcome:
        """An answer that came after another settled the request: journaled (the ticket's
        history has every answer), not noted again, nothing started."""
        now = self.triggers.get(trigger.key) or trigger
        plan = now.detail.get("plan") or {}
        if now.status == "rejected":
            done = f"rejected by {now.detail.get('rejected_by')}"
        elif now.status in ("cancelled", "waiting"):
            done = "cancelled"
        else:
            done = f"approved by {now.detail.get('approved_by')}"
        why = f"run {now.run_id} ({plan.get('name')}) was {done} already: {who}'s {verb} " \
              "changes nothing"
        journal_event(self.journal, profile=self.profile.name, ref=ref, operator=actor,
                      command=f"{self.source}: {verb} after the answer ({ref})",
                      status="ignored", text=why, note=False)
        return Outcome(now.key, now.status, now.run_id, why=why, already=True)

    # -- journaled decisions -----------------------------------------------------------
    def _refuse(self, trigger: Trigger, ref: TicketRef, operator: str, status: str,
                text: str) -> Outcome:
        run_id = self._event(ref, operator, status, text)
        self.triggers.move(trigger.key, status, detail={"why": text, "event": run_id})
        return Outcome(trigger.key, status, run_id, why=text)

    def _event(self, ref: TicketRef, operator: str, status: str, text: str) -> str:
        return journal_event(self.journal, profile=self.profile.name, ref=ref,
                             operator=operator, command=f"{self.source}: {status} ({ref})",
                             status=status, text=text)


def next_try(trigger: Trigger, delays: Sequence[float]) -> datetime | None:
    """When a queued or running trigger that failed `attempts` tries (a system not
    reached) is tried again: its row's last change (that failed try) plus the delay
    for that many tries, the last delay repeating (automation.retry). None: at once
    (never failed; waiting for approval, which is looked at each time)."""
    if trigger.status not in ("queued", "running") or trigger.attempts <= 0:
        return None
    delay = delays[min(trigger.attempts, len(delays)) - 1]
    return datetime.fromisoformat(trigger.updated) + timedelta(seconds=delay)


def retry_due(trigger: Trigger, delays: Sequence[float], now: datetime) -> bool:
    at = next_try(trigger, delays)
    return at is None or now >= at


def journal_event(journal: Journal, *, profile: str | None, ref: TicketRef | None,
                  operator: str, command: str, status: str, text: str,
                  note: bool = True) -> str:
    """A decision as a run of no actions: its run and end rows, and (with a ticket,
    unless not `note`) a note in the same transaction. Its run id. `text` (a server's
    error, say) is cut to `ERROR_CHARS`, marked."""
    text = cut_text(text)
    run = Run(command=command, profile=profile, ticket=str(ref) if ref else None,
              operator=current_operator(operator))
    common = {"run_id": run.id, "operator": run.operator, "profile": run.profile,
              "ticket": run.ticket, "mode": run.mode}
    outbox = None
    if ref is not None and note:
        outbox = {"key": f"{run.id}:{status}", "system": ref.kind, "ticket": ref.id,
                "internal": True, "body": redact(f"{marker(run.id, status)} {text}"),
                "anchor": True}
    journal.append_many([
        (None, {"kind": "run", "summary": run.command, "status": "started",
                "detail": {"event": status}, **common}),
        (outbox, {"kind": "end", "summary": text[:500], "status": status,
                "detail": {"counts": {}, "exit_code": 0}, **common})])
    return run.id


def _plain(text: str) -> str:
    """A name from a ticket, fit for a journal's operator and a note's first line."""
    return re.sub(r"[\x00-\x1f\x7f]", "?", text)[:120]


def _answer(body: str) -> str | None:
    first = body.strip().split("\n", 1)[0].strip().casefold()
    for word in (APPROVE, REJECT):
        if first == word or first.startswith(word + " "):
            return word
    return None


def _when(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
