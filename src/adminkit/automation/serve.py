"""`adminkit serve`: ticket webhooks in (Starlette on uvicorn), triggered runs out.

A delivery is authenticated, parsed and queued as a trigger in the journal's database
(its idempotency key, the event in the ticket-system instance the profile names, makes
a repeated delivery one run, through any profile on that instance) before the answer 202: what
was accepted is never lost. A pool of workers takes the queued triggers and runs them
through the dispatcher; at start every trigger left open by an earlier process is
taken again (a run it was in the middle of is resumed from the journal). Refused
deliveries get 401/400/413/429 and are journaled (at most `REFUSALS_PER_MINUTE` a
minute, so a flood cannot fill the journal), queueing nothing. The workers also
deliver the outbox after each trigger and every few seconds when idle.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from adminkit.automation.dispatch import Dispatcher, FindPlaybook, journal_event, retry_due
from adminkit.automation.settings import AutomationConfig, Sender, automation_settings
from adminkit.automation.webhooks import Keys, Refused, authenticate, parse
from adminkit.core.config import Profile
from adminkit.core.errors import AdminkitError, UsageError
from adminkit.core.secrets import redact
from adminkit.journal.store import Journal
from adminkit.journal.triggers import Triggers, event_key
from adminkit.tickets.base import PREFIX_OF_KIND, TicketSystem
from adminkit.tickets.instance import instance

if TYPE_CHECKING:
    from adminkit.automation.service import RunService

SOURCE = "serve"
REFUSALS_PER_MINUTE = 60
IDLE_FLUSH = 5.0  # seconds between outbox deliveries when no trigger comes, and at most
# between looks for open triggers due again (automation.retry) while triggers do come
# How long a thread runs Python before one waiting for the interpreter gets it (CPython's
# default: 5 ms). A worker waits on its directory, then needs the interpreter to go on;
# while another worker computes, that wake-up waited up to 5 ms, a dozen times per run
# (measured: 4 workers slower than 1 against a directory on loopback).
SWITCH_INTERVAL = 0.0005


@dataclass
class Stats:
    accepted: int = 0
    duplicates: int = 0
    refused: int = 0
    handled: int = 0


class Hub:
    """The queue between the HTTP side and the workers, for one profile."""

    def __init__(self, service: RunService, profile: Profile,
                 open_system: Callable[[], TicketSystem], find_playbook: FindPlaybook) -> None:
        cfg = automation_settings(profile)
        if cfg is None or not cfg.senders:
            raise UsageError(f"profile {profile.name} has no webhook senders",
                             hint="add `automation: {senders: [{name, kind, token}]}`")
        self.cfg: AutomationConfig = cfg
        self.service, self.profile = service, profile
        service.deliver_later = False  # the workers deliver the outbox themselves
        service.notes_during_run = False  # at each run's end, by its worker
        self.open_system, self.find_playbook = open_system, find_playbook
        self.senders = {s.name: s for s in cfg.senders}
        self.keys = {s.name: Keys(
            token=profile.secret(s.token, f"sender {s.name} token").reveal().encode()
            if s.token else None,
            secret=profile.secret(s.secret, f"sender {s.name} secret").reveal().encode()
            if s.secret else None) for s in cfg.senders}
        from adminkit.tickets.settings import ticket_settings

        tickets = ticket_settings(profile)
        self.ticket_kind = tickets.kind if tickets else None
        self.journal = Journal(service.journal_path)
        self.triggers = Triggers(self.journal)
        if self.ticket_kind is not None:  # keys written before they named the instance
            self.triggers.adopt(profile.name, PREFIX_OF_KIND[self.ticket_kind],
                                instance(profile, self.ticket_kind))
        self.work: queue.Queue[str | None] = queue.Queue()
        self.in_flight: set[str] = set()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.stats = Stats()
        self.threads: list[threading.Thread] = []
        self._refusals: list[float] = []
        self._looked = time.monotonic()  # the last look for open triggers due again
        # what time it is for a trigger's next try (automation.retry; a test sets it)
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self._switch: float | None = None  # the process's interval before start()

    # -- the HTTP side ---------------------------------------------------------------
    def receive(self, sender_name: str, headers: dict[str, str],
                body: bytes) -> tuple[int, dict[str, Any]]:
        """One delivery: (status, JSON answer). Thread-safe; quick (a SQLite insert)."""
        try:
            sender = self.senders.get(sender_name)
            if sender is None:
                raise Refused(401, "unknown sender")
            if len(body) > self.cfg.serve.max_body:
                raise Refused(413, f"body over {self.cfg.serve.max_body} bytes")
            authenticate(sender, self.keys[sender.name], headers, body, time.time())
            delivery = parse(sender, headers, body, self.ticket_kind)
            if len(self.in_flight) >= self.cfg.serve.queue_limit:  # queued or running
                raise Refused(429, "the queue is full")
        except Refused as exc:
            return self.refuse(sender_name, exc)
        key = event_key(delivery.key, instance(self.profile, delivery.kind))
        new = self.triggers.add(key, source=SOURCE, profile=self.profile.name,
                                ticket=delivery.ticket, detail={"sender": sender.name})
        if new:
            self.stats.accepted += 1
            self._enqueue(key)
        else:
            self.stats.duplicates += 1
        return 202, {"trigger": key, "duplicate": not new}

    def refuse(self, sender: str, exc: Refused) -> tuple[int, dict[str, Any]]:
        """Journaled, a row pair per refusal, at most REFUSALS_PER_MINUTE a minute."""
        self.stats.refused += 1
        now = time.monotonic()
        with self.lock:
            self._refusals = [t for t in self._refusals if now - t < 60]
            full = len(self._refusals) >= REFUSALS_PER_MINUTE
            if not full:
                self._refusals.append(now)
        if not full:
            self._journal_refusal(sender, exc)
        return exc.status, {"error": exc.reason}

    def _journal_refusal(self, sender: str, exc: Refused) -> None:
        name = sender if sender in self.senders else "(unknown sender)"
        journal_event(self.journal, profile=self.profile.name, ref=None,
                      operator=f"webhook {name}", command=f"webhook from {name} refused",
                      status="refused", text=f"HTTP {exc.status}: {exc.reason}")

    def _enqueue(self, key: str) -> None:
        with self.lock:
            if key in self.in_flight:
                return
            self.in_flight.add(key)
        self.work.put(key)

    # -- the workers -----------------------------------------------------------------
    def start(self, workers: int | None = None) -> None:
        if self._switch is None:
            self._switch = sys.getswitchinterval()
            sys.setswitchinterval(min(self._switch, SWITCH_INTERVAL))
        self._waiting()  # what an earlier process left open, as far as it is due
        for n in range(self.cfg.serve.workers if workers is None else workers):
            thread = threading.Thread(target=self._worker, name=f"adminkit-worker-{n}",
                                      daemon=True)
            thread.start()
            self.threads.append(thread)

    def _worker(self) -> None:
        from adminkit.automation.warm import Warm

        system = self.open_system()
        journal = Journal(self.service.journal_path)
        warm = Warm()  # this worker's connections, from one of its runs to the next
        try:
            dispatcher = Dispatcher(self.service, self.profile, system, journal,
                                    self.find_playbook, source="webhook", warm=warm)
            while not self.stop.is_set():
                try:
                    key = self.work.get(timeout=IDLE_FLUSH)
                except queue.Empty:
                    warm.expire()
                    dispatcher.flush()
                    self._waiting()
                    continue
                if key is None:
                    return
                try:
                    self._handle(dispatcher, key)
                finally:
                    with self.lock:
                        self.in_flight.discard(key)
                dispatcher.flush()
                if time.monotonic() - self._looked >= IDLE_FLUSH:  # busy: retries still come
                    self._waiting()
        finally:
            warm.close()
            journal.close()
            system.close()

    def _handle(self, dispatcher: Dispatcher, key: str) -> None:
        trigger = dispatcher.triggers.get(key)
        if trigger is None or trigger.status not in ("queued", "running", "waiting"):
            return
        if not retry_due(trigger, self.cfg.retry.delays, self.clock()):  # queued twice, say
            return
        try:
            dispatcher.handle(trigger)
        except Exception:
            import logging

            logging.getLogger("adminkit.serve").exception("trigger %s", key)
        self.stats.handled += 1

    def run_schedules(self, every: float = 30.0) -> None:
        """serve's own timer: a thread that runs the profile's due schedules, one at a
        time (each takes its schedule lock: never beside a copy a timer started)."""
        from adminkit.automation import schedule

        if not schedule.schedules(self.profile):
            return
        due = schedule.Due(self.service.journal_path, self.profile)

        def loop() -> None:
            import logging

            while not self.stop.wait(every):
                for item in due.due():  # once per elapse, however its run went
                    try:
                        schedule.run(self.service, self.profile, item, self.find_playbook)
                    except AdminkitError as exc:  # said, not a traceback (a timer's copy)
                        logging.getLogger("adminkit.serve").warning(
                            "schedule %s: %s", item.name, redact(exc.message.splitlines()[0]))
                    except Exception:
                        logging.getLogger("adminkit.serve").exception("schedule %s",
                                                                      item.name)

        thread = threading.Thread(target=loop, name="adminkit-schedules", daemon=True)
        thread.start()
        self.threads.append(thread)

    def _waiting(self) -> None:
        """At start, when the workers idle, and every IDLE_FLUSH while they are busy, open
        triggers are looked at again: those waiting for approval, and, once due
        (automation.retry: their row's last change plus the delay for their failed
        tries, so no worker spins on a system that is away and a restart keeps the
        pace), those whose ticket system or target was unreachable and those left
        running by a resume that could not reach a system (or found the run busy in
        another process). One in a worker's hands now is skipped (`_enqueue`); one that
        another process runs is held by that run's lock, which the resume finds taken."""
        self._looked = time.monotonic()
        now, delays = self.clock(), self.cfg.retry.delays
        for trigger in self.triggers.open(self.profile.name, SOURCE):
            if retry_due(trigger, delays, now):
                self._enqueue(trigger.key)

    def shutdown(self, wait: float = 5.0) -> None:
        self.stop.set()
        for _ in self.threads:
            self.work.put(None)
        for thread in self.threads:
            thread.join(wait)
        self.journal.close()
        if self._switch is not None:
            sys.setswitchinterval(self._switch)
            self._switch = None


def app(hub: Hub) -> Any:
    """The ASGI application: POST /hooks/SENDER, GET /health."""
    import asyncio

    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    limit, patience = hub.cfg.serve.max_body, hub.cfg.serve.body_timeout

    async def refused(request: Request, status: int, reason: str) -> JSONResponse:
        code, answer = await run_in_threadpool(hub.refuse, request.path_params["sender"],
                                               Refused(status, reason))
        return JSONResponse(answer, status_code=code)

    async def hook(request: Request) -> JSONResponse:
        body = bytearray()
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            return await refused(request, 413, f"body over {limit} bytes")
        try:  # a body sent a byte at a time would hold its connection for ever
            async with asyncio.timeout(patience):
                async for chunk in request.stream():
                    body += chunk
                    if len(body) > limit:
                        break
        except TimeoutError:
            return await refused(request, 408, f"the body took over {patience:g} s to arrive")
        headers = {k.lower(): v for k, v in request.headers.items()}
        status, answer = await run_in_threadpool(hub.receive, request.path_params["sender"],
                                                 headers, bytes(body))
        extra = {"Retry-After": "30"} if status == 429 else None
        return JSONResponse(answer, status_code=status, headers=extra)

    async def health(request: Request) -> JSONResponse:
        s = hub.stats
        return JSONResponse({"ok": True, "queued": hub.work.qsize(),
                             "in_flight": len(hub.in_flight), "accepted": s.accepted,
                             "duplicates": s.duplicates, "refused": s.refused,
                             "handled": s.handled})

    return Starlette(routes=[Route("/hooks/{sender}", hook, methods=["POST"]),
                             Route("/health", health, methods=["GET"])])


def _is_loopback(host: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def server(hub: Hub, *, host: str | None = None, port: int | None = None) -> Any:
    """The uvicorn server (not started): TLS with the profile's certificate, or on
    loopback only behind a reverse proxy that terminates TLS."""
    import uvicorn

    from adminkit.automation.headerwait import protocol
    from adminkit.core.files import checked_path

    cfg = hub.cfg.serve
    host = host or cfg.host
    if not (cfg.tls_cert and cfg.tls_key) and not _is_loopback(host):
        raise UsageError(f"serve on {host} without TLS: webhook tokens would cross the "
                         "network in clear", hint="set automation.serve.tls_cert and tls_key, "
                                                  "or listen on 127.0.0.1 behind a proxy")
    config = uvicorn.Config(app(hub), host=host, port=port if port is not None else cfg.port,
                            ssl_certfile=checked_path(cfg.tls_cert, "automation.serve.tls_cert")
                            if cfg.tls_cert else None,
                            ssl_keyfile=checked_path(cfg.tls_key, "automation.serve.tls_key")
                            if cfg.tls_key else None,
                            log_level="warning", lifespan="off", access_log=False,
                            server_header=False, http=protocol(cfg.header_timeout),
                            # slow or idle clients hold a connection each: beyond this, 503
                            limit_concurrency=cfg.max_connections)
    return uvicorn.Server(config)


__all__ = ["Hub", "Sender", "app", "server"]
