"""CUPS over IPP through pycups: one `cups.Connection` per server and unit of work.

libcups keeps the default server, port, user and password callback per thread, and
submits print jobs to the thread's default server whatever the Connection says, so
every call goes through `_call`, which sets them for the calling thread first (the
runner's workers never inherit the main thread's). The password callback answers once
per call and then gives up: a wrong password costs one PAM delay, not six.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar, overload
from urllib.parse import quote, unquote

from adminkit.core.errors import (
    ActionFailed,
    AdminkitError,
    AuthenticationFailed,
    ConnectionFailed,
    Interrupted,
    OutcomeUnknown,
    UsageError,
    ValidationError,
)
from adminkit.core.secrets import Secret
from adminkit.printing.idranges import id_ranges, id_ranges_text
from adminkit.printing.server import (
    JOB_STATES,
    PRINTER_STATES,
    Job,
    Printer,
    mask_uri,
    same_queue,
    without_credentials,
)
from adminkit.printing.settings import PrintServerConfig

if TYPE_CHECKING:
    from adminkit.printing.tlsrelay import TlsRelay

T = TypeVar("T")
DEFAULT_PORT = 631
PURGE_TRIES = 4  # a purge CUPS refuses because jobs left the queue: sent again this often
PURGE_LEFT = "`adminkit job list` shows what is left; `adminkit run --resume last` purges it"
JOB_ATTRS = ["job-id", "job-originating-user-name", "job-name", "job-state", "job-k-octets",
             "time-at-creation", "job-printer-uri"]
# what choosing jobs needs (queue, owner, age): each attribute more costs the server time
BRIEF_ATTRS = ["job-id", "job-originating-user-name", "job-state", "time-at-creation",
               "job-printer-uri"]
QUEUE_ATTRS = BRIEF_ATTRS[:-1]  # the same of one queue's jobs, asked of that queue
ALL_JOBS = "ipp://localhost/printers/"  # Get-Jobs of every queue, as pycups asks it
PRINTER_ATTRS = ["printer-name", "printer-state", "printer-state-message",
                 "printer-is-accepting-jobs", "printer-is-shared", "printer-location",
                 "printer-make-and-model", "device-uri", "queued-job-count"]
# IPP status codes (cups.IPP_*), as numbers so that this module loads without pycups
NOT_FOUND, NOT_POSSIBLE, FORBIDDEN, NOT_AUTHORIZED = 1030, 1028, 1025, 1026
AUTH_CANCELED = 4096
PRINTER_DEFAULT = 0x20000  # CUPS_PRINTER_DEFAULT in printer-type
TEST_PAGE = ("adminkit test page\n\nprinter: {printer}\nserver: {server}\n"
             "sent: {when:%Y-%m-%d %H:%M:%S} UTC\n\n" + "".join(
                 f"{n:3d} ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz 0123456789\n"
                 for n in range(1, 41)))


_own_user = threading.local()  # the thread's user before any server's `user` was set


def _cups() -> Any:
    try:
        import cups
    except ImportError:
        raise UsageError("CUPS support needs pycups", hint="pip install 'adminkit[cups]'"
                         ) from None
    return cups


class CupsPrintServer:
    """A CUPS server as the profile names it (`print_servers: [{kind: cups, …}]`)."""

    kind = "cups"
    can_reject = True
    can_move = True
    keeps_reason = True

    def __init__(self, cfg: PrintServerConfig, password: Secret | None = None, *,
                 cancelled: Callable[[], bool] = lambda: False) -> None:
        self.cfg = cfg
        # the run was stopped (Ctrl-C): a purge in a worker thread never sees the
        # KeyboardInterrupt, which the main thread gets; it asks this between requests
        self._cancelled = cancelled
        self.name = cfg.name
        self.port = cfg.port or DEFAULT_PORT
        self._password = password
        self._cups = _cups()
        self._conn: Any = None
        self._relay: TlsRelay | None = None
        self._lock = threading.Lock()
        self._asked = threading.local()

    # -- the per-thread state of libcups ------------------------------------------------
    def _where(self) -> str:
        return f"print server {self.name} ({self.cfg.host}:{self.port})"

    def _endpoint(self) -> tuple[str, int, int]:
        """Where libcups connects, and its encryption: the server itself, or for
        `tls: true` this process's relay to it, which verifies the certificate on every
        connection (libcups takes any: see printing/tlsrelay.py)."""
        cups = self._cups
        if not self.cfg.tls:
            return self.cfg.host, self.port, cups.HTTP_ENCRYPT_IF_REQUESTED
        with self._lock:
            if self._relay is None:
                from adminkit.printing.tlsrelay import TlsRelay

                self._relay = TlsRelay(self.name, self.cfg.host, self.port, self.cfg.ca_file)
            relay = self._relay
        relay.failure = None  # a refusal is this call's only if it happens during it
        return relay.address, relay.port, cups.HTTP_ENCRYPT_NEVER  # TLS is the relay's

    def _bind_thread(self, host: str, port: int, encryption: int) -> None:
        cups = self._cups
        cups.setServer(host)
        cups.setPort(port)
        # both ways: a thread that served another print server keeps that one's settings
        cups.setEncryption(encryption)
        cups.setUser(self._user())
        self._asked.count = 0
        cups.setPasswordCB(self._password_cb)

    def _user(self) -> str:
        """The profile's user of this server, else the thread's own before any was set."""
        user = getattr(_own_user, "name", None)
        if user is None:
            user = _own_user.name = self._cups.getUser()
        return self.cfg.user or str(user)

    def _password_cb(self, prompt: str) -> str | None:
        """Once per call: libcups asks again after a refusal, each time after a delay."""
        count = getattr(self._asked, "count", 0)
        self._asked.count = count + 1
        if self._password is None or count:
            return None
        return self._password.reveal()

    def _refused(self) -> ConnectionFailed | None:
        """The relay's refusal of a connection libcups made during this call, if any:
        the reason libcups saw its connection closed, said in adminkit's terms."""
        return None if self._relay is None else self._relay.failure

    def _connection(self, host: str, port: int, encryption: int) -> Any:
        if self._conn is None:
            try:
                self._conn = self._cups.Connection(host=host, port=port,
                                                   encryption=encryption)
            except RuntimeError as exc:  # 'failed to connect to server'
                raise ConnectionFailed(f"{self._where()} does not answer: {exc}",
                                       hint="is it up? check `print_servers` in the profile"
                                       ) from None
        return self._conn

    def _call(self, what: str, fn: Callable[[Any], T]) -> T:
        """Run one IPP exchange on this thread, with its errors said in adminkit's terms."""
        cups = self._cups
        endpoint = self._endpoint()
        self._bind_thread(*endpoint)
        try:
            return fn(self._connection(*endpoint))
        except cups.IPPError as exc:
            code, message = ((*exc.args, None, ""))[:2]
            raise self._refused() or self._error(what, int(code or 0), str(message)) from None
        except RuntimeError as exc:
            self._conn = None
            raise self._refused() or ConnectionFailed(f"{self._where()}: {what}: {exc}"
                                                      ) from None

    def _error(self, what: str, code: int, message: str) -> Exception:
        if code in (AUTH_CANCELED, NOT_AUTHORIZED):
            return AuthenticationFailed(
                f"{self._where()}: not authorized to {what}",
                hint="set `user` and `password` (a secret reference) of this print server "
                     "in the profile to a CUPS administrator (SystemGroup, or the queue's "
                     "policy)")
        if code == FORBIDDEN:
            return AuthenticationFailed(
                f"{self._where()}: user {self.cfg.user or '(default)'} may not {what}",
                hint="the queue's operation policy does not allow this user")
        if code in (1280, 1282) and message in ("Host is down", "Connection refused"):
            return ConnectionFailed(f"{self._where()}: {what}: {message}")
        if code in (1280, 1282) and message in ("", "Success"):  # errno 0: no answer came
            return ConnectionFailed(f"{self._where()}: {what}: no answer (timed out)",
                                    hint="is cupsd hung or stopped? (it took the connection "
                                         "but did not answer)")
        text = f"{self._where()}: {what}: {message or code}"
        return IppNotFound(text, code) if code == NOT_FOUND else IppFailed(text, code)

    # -- printers ---------------------------------------------------------------------
    def printers(self) -> list[Printer]:
        found = self._call("list printers", lambda c: c.getPrinters())
        default = next((n for n, a in found.items()
                        if int(a.get("printer-type", 0)) & PRINTER_DEFAULT), None)
        counts = self._active_counts() if found else {}
        return [self._printer(name, attrs, default, counts.get(name, 0))
                for name, attrs in sorted(found.items())]

    def printer(self, name: str) -> Printer | None:
        try:
            attrs = self._call(f"read printer {name}", lambda c: c.getPrinterAttributes(name))
        except IppNotFound:
            return None
        default = self.default_printer()
        printer = self._printer(name, attrs, default, int(attrs.get("queued-job-count", 0)))
        printer.options = {k[: -len("-default")]: _text(v) for k, v in attrs.items()
                           if k.endswith("-default") and not k.startswith("media-col")}
        return printer

    def _active_counts(self) -> dict[str, int]:
        """Active jobs per queue, from one Get-Jobs asking for the least it can."""
        found = self._get_jobs("count jobs", "not-completed", ["job-id", "job-printer-uri"])
        counts: dict[str, int] = {}
        for attrs in found.values():
            queue = _queue_of(attrs)
            counts[queue] = counts.get(queue, 0) + 1
        return counts

    def _printer(self, name: str, attrs: dict[str, Any], default: str | None,
                 jobs: int) -> Printer:
        return Printer(
            name=name, server=self.name,
            state=PRINTER_STATES.get(int(attrs.get("printer-state", 3)), "unknown"),
            accepting=bool(attrs.get("printer-is-accepting-jobs", True)),
            reason=str(attrs.get("printer-state-message") or ""), jobs=jobs,
            location=str(attrs.get("printer-location") or ""),
            model=str(attrs.get("printer-make-and-model") or ""),
            device_uri=mask_uri(attrs.get("device-uri")),
            shared=bool(attrs.get("printer-is-shared", False)), default=name == default)

    def set_enabled(self, name: str, enabled: bool, reason: str | None) -> None:
        if enabled:
            self._call(f"resume {name}", lambda c: c.enablePrinter(name))
        else:
            self._call(f"pause {name}", lambda c: c.disablePrinter(name, reason=reason or ""))

    def set_accepting(self, name: str, accepting: bool, reason: str | None) -> None:
        if accepting:
            self._call(f"accept jobs on {name}", lambda c: c.acceptJobs(name))
        else:
            self._call(f"reject jobs on {name}",
                       lambda c: c.rejectJobs(name, reason=reason or ""))

    def add_printer(self, name: str, uri: str, driver: str, location: str | None,
                    shared: bool) -> None:
        def add(c: Any) -> None:
            kwargs: dict[str, Any] = {"device": uri, "info": name}
            if location is not None:
                kwargs["location"] = location
            c.addPrinter(name, ppdname=driver, **kwargs)
            c.setPrinterShared(name, shared)
            c.enablePrinter(name)  # CUPS makes new queues stopped and rejecting
            c.acceptJobs(name)

        self._call(f"add printer {name}", add)

    def update_printer(self, name: str, uri: str | None, location: str | None,
                       shared: bool | None) -> None:
        def update(c: Any) -> None:
            if uri is not None:
                c.setPrinterDevice(name, uri)
            if location is not None:
                c.setPrinterLocation(name, location)
            if shared is not None:
                c.setPrinterShared(name, shared)

        self._call(f"change printer {name}", update)

    def same_device(self, name: str, uri: str) -> bool:
        """CUPS hides the credentials of a device URI it reports: those are not compared
        (changing only them takes `printer remove` and `printer add`)."""
        attrs = self._call(f"read printer {name}", lambda c: c.getPrinterAttributes(
            name, requested_attributes=["device-uri"]))
        return without_credentials(attrs.get("device-uri")) == without_credentials(uri)

    def remove_printer(self, name: str) -> None:
        self._call(f"remove printer {name}", lambda c: c.deletePrinter(name))

    def set_options(self, name: str, options: dict[str, str]) -> None:
        def apply(c: Any) -> None:
            for key, value in options.items():
                c.addPrinterOptionDefault(name, key, value)

        self._call(f"set options of {name}", apply)

    def default_printer(self) -> str | None:
        found = self._call("read the default printer", lambda c: c.getDefault())
        return None if found is None else str(found)

    def set_default(self, name: str) -> None:
        self._call(f"make {name} the default", lambda c: c.setDefault(name))

    def test_page(self, name: str) -> int:
        """A plain-text page (every queue takes text), streamed: no temporary file."""
        cups = self._cups
        data = TEST_PAGE.format(printer=name, server=self.name, when=datetime.now(UTC)
                                ).encode()

        def submit(c: Any) -> int:
            job_id = int(c.createJob(name, "adminkit test page", {}))
            c.startDocument(name, job_id, "test-page.txt", cups.CUPS_FORMAT_TEXT, 1)
            c.writeRequestData(data, len(data))
            c.finishDocument(name)
            return job_id

        return self._call(f"print a test page on {name}", submit)

    # -- jobs -------------------------------------------------------------------------
    def jobs(self, printer: str | None = None, *, finished: bool = False,
             brief: bool = False) -> list[Job]:
        which = "completed" if finished else "not-completed"
        if brief and printer is not None:  # the queue's own jobs: no queue to read back
            queue = self._get_jobs("list jobs", which, QUEUE_ATTRS, _printer_uri(printer),
                                   fallback=False)
            if queue is not None:
                return sorted((self._job(job_id, attrs, printer)
                               for job_id, attrs in queue.items()), key=lambda j: j.id)
        found = self._get_jobs("list jobs", which, BRIEF_ATTRS if brief else JOB_ATTRS)
        jobs = [self._job(job_id, attrs) for job_id, attrs in found.items()]
        if printer is not None:
            jobs = [j for j in jobs if same_queue(j.printer, printer)]
        return sorted(jobs, key=lambda j: j.id)

    @overload
    def _get_jobs(self, what: str, which: str, attrs: list[str], uri: str = ..., *,
                  first: int | None = ...) -> dict[int, dict[str, Any]]: ...
    @overload
    def _get_jobs(self, what: str, which: str, attrs: list[str], uri: str = ..., *,
                  fallback: bool, first: int | None = ...
                  ) -> dict[int, dict[str, Any]] | None: ...

    def _get_jobs(self, what: str, which: str, attrs: list[str], uri: str = ALL_JOBS,
                  *, fallback: bool = True, first: int | None = None
                  ) -> dict[int, dict[str, Any]] | None:
        """Get-Jobs of `uri` read whole (printing/ippread.py: a quarter of libcups' CPU);
        an answer that is no plain job list (a login wanted, an error, TLS asked for) is
        asked again through pycups, for all queues (`fallback`; else None), whose errors
        adminkit words. `first`: only jobs with that id or a higher one."""
        from adminkit.printing import ippread

        host, port, _encryption = self._endpoint()
        try:
            return ippread.get_jobs(host, port, uri, which, attrs, first_job_id=first)
        except ippread.NoAnswer as exc:
            raise self._refused() or ConnectionFailed(
                f"{self._where()}: {what}: {exc}",
                hint="is cupsd hung or stopped? (it took the connection but did not answer)"
            ) from None
        except ippread.Unread:
            if not fallback:
                return None
        found: dict[int, dict[str, Any]] = self._call(what, lambda c: c.getJobs(
            which_jobs=which, requested_attributes=attrs,
            first_job_id=-1 if first is None else first))
        return found

    def job(self, job_id: int) -> Job | None:
        try:
            attrs = self._call(f"read job {job_id}", lambda c: c.getJobAttributes(
                job_id, requested_attributes=JOB_ATTRS))
        except IppNotFound:
            return None
        return self._job(job_id, attrs)

    def _job(self, job_id: int, attrs: dict[str, Any], queue: str | None = None) -> Job:
        created = attrs.get("time-at-creation")
        return Job(id=int(attrs.get("job-id", job_id)), server=self.name,
                   printer=_queue_of(attrs) if queue is None else queue,
                   owner=str(attrs.get("job-originating-user-name", "")),
                   name=str(attrs.get("job-name", "")),
                   size_kb=int(attrs.get("job-k-octets", 0)),
                   state=JOB_STATES.get(int(attrs.get("job-state", 0)), "unknown"),
                   created=datetime.fromtimestamp(created, UTC) if created else None)

    def cancel_job(self, job_id: int) -> None:
        self._call(f"cancel job {job_id}", lambda c: c.cancelJob(job_id, purge_job=False))

    def hold_job(self, job_id: int) -> None:
        self._call(f"hold job {job_id}", lambda c: c.setJobHoldUntil(job_id, "indefinite"))

    def release_job(self, job_id: int) -> None:
        self._call(f"release job {job_id}", lambda c: c.setJobHoldUntil(job_id, "no-hold"))

    def restart_job(self, job_id: int) -> None:
        self._call(f"restart job {job_id}", lambda c: c.restartJob(job_id))

    def move_job(self, job_id: int, printer: str) -> None:
        # the server takes the queue from the URI's path; the host part is not looked at
        uri = _printer_uri(printer)
        self._call(f"move job {job_id} to {printer}",
                   lambda c: c.moveJob(job_id=job_id, job_printer_uri=uri))

    def purge(self, printer: str, job_ids: Sequence[int]) -> list[int]:
        """Exactly these jobs of the queue, in one IPP Cancel-Jobs request (kept as
        history, like `cancel -a`), never one a user submitted after they were chosen;
        written whole, or through libcups when the server wants a login (printing/ipp.py).
        Returns the ids not cancelled: they finished or left the queue meanwhile.

        cupsd (scheduler/ipp.c `cancel_all_jobs`) checks every id before cancelling any,
        but only that it is a job of the queue: a job that printed since the plan is
        kept as history, passes, and would be rewritten as cancelled. So before each
        request the queue's finished jobs from its lowest id on are asked (job-id alone:
        a few rows, nothing for cupsd to load from disk) and those are left out. A job that
        left the queue otherwise (moved, purged from the history) makes cupsd refuse the
        whole request (`Job #N does not exist.`): then the queue's pending jobs are read
        and the ones still there sent again, up to PURGE_TRIES times (never a loop)."""
        from adminkit.printing import ipp

        uri = _printer_uri(printer)

        whole = [True]  # written whole until the server asks for a login (ipp.py says why)
        sent: set[int] = set()  # the ids of every request CUPS took

        def send(ids: Sequence[int]) -> None:
            try:
                if whole[0]:
                    host, port, _encryption = self._endpoint()
                    if ipp.cancel_jobs_whole(host, port, uri, self._user(), ids):
                        return
                    whole[0] = False
                self._call(f"purge {printer}",
                           lambda _c: ipp.cancel_jobs(uri, ids, self._password_cb))
            except ipp.IppNoAnswer as exc:
                if refused := self._refused():  # the relay closed it: nothing was sent
                    raise refused from None
                if exc.code in (AUTH_CANCELED, NOT_AUTHORIZED, FORBIDDEN):
                    raise self._error(f"purge {printer}", exc.code, exc.message) from None
                if not exc.sent:
                    raise ConnectionFailed(f"{self._where()} does not answer: {exc.message}",
                                           hint="is it up? check `print_servers` in the "
                                                "profile") from None
                raise OutcomeUnknown(
                    f"{self._where()}: purge {printer}: the request was sent and its "
                    f"answer lost ({exc.message}): its {len(ids)} job(s) may or may not "
                    "be cancelled", hint="`adminkit job list` shows what is left; "
                    "`adminkit run --resume last` purges it") from None
            except ipp.IppRequestFailed as exc:
                raise self._error(f"purge {printer}", exc.code, exc.message) from None
            except ValueError as exc:  # an id the server listed that IPP cannot carry
                raise IppFailed(f"{self._where()}: purge {printer}: {exc}", 0) from None
            finally:
                self._cups.setPasswordCB(self._password_cb)

        if not job_ids:
            return []
        todo = list(job_ids)
        underway: list[int] = []  # the ids of the request being sent
        try:
            for attempt in range(PURGE_TRIES):
                try:
                    while todo:  # in requests of MAX_IDS: count each one CUPS took
                        if self._cancelled():
                            raise Interrupted(f"{self._where()}: purge {printer} "
                                              "interrupted", hint=PURGE_LEFT)
                        chunk = todo[:ipp.MAX_IDS]
                        # asked right before each request, not once before all: the
                        # printer goes on printing the later requests' jobs while cupsd
                        # cancels an earlier one's. The window CUPS leaves (it has no
                        # "only if still pending") is so one question's length.
                        finished = self._get_jobs(f"list jobs of {printer}", "completed",
                                                  ["job-id"], uri, first=min(chunk))
                        going = [i for i in chunk if i not in finished]
                        if going:
                            underway = going
                            send(going)
                        todo = todo[len(chunk):]
                        sent.update(going)
                        underway = []
                    break
                except IppNotFound:
                    if attempt == PURGE_TRIES - 1:
                        raise
                    there = {j.id for j in self.jobs(printer, brief=True)}
                    todo = [i for i in todo if i in there]
            return [i for i in job_ids if i not in sent]  # in the try: a Ctrl-C here too
        except AdminkitError as exc:
            if sent:  # the error is the journal's text: say what CUPS had already done
                exc.message += (f"; before it, {len(sent)} job(s) of the purge were "
                                f"cancelled: {id_ranges_text(sent)}")
                exc.data = {**exc.data, "cancelled": len(sent), "cancelled_ids": id_ranges(sent)}
            raise
        except KeyboardInterrupt:
            # taken already if it came between counting the request and clearing this
            underway = [i for i in underway if i not in sent]
            if not sent and not underway:
                raise  # nothing done yet: the run stops as at any other Ctrl-C
            # The run's result and journal row name what CUPS already did; the Ctrl-C
            # stays unanswered (core/interrupts), so a run with more to do stops after.
            raise self._purge_interrupted(printer, sent, underway) from None

    def _purge_interrupted(self, printer: str, sent: set[int],
                           underway: list[int]) -> Interrupted:
        """A purge stopped by Ctrl-C between or during its Cancel-Jobs requests."""
        text = (f"{self._where()}: purge {printer} interrupted: {len(sent)} job(s) of the "
                f"purge were cancelled before it: {id_ranges_text(sent) or 'none'}")
        if underway:
            text += (f"; the request under way for {len(underway)} more "
                     f"({id_ranges_text(underway)}) may or may not have been done")
        exc = Interrupted(text, hint=PURGE_LEFT)
        exc.data = {"cancelled": len(sent), "cancelled_ids": id_ranges(sent),
                    **({"underway_ids": id_ranges(underway)} if underway else {})}
        return exc

    def restart_spooler(self) -> None:
        raise UsageError(f"{self._where()} is a CUPS server: `spooler restart` is for "
                         "Windows print servers",
                         hint="restart cupsd on the host itself (systemctl restart cups)")

    def close(self) -> None:
        self._conn = None  # pycups closes the HTTP connection when the object goes
        with self._lock:
            relay, self._relay = self._relay, None
        if relay is not None:
            relay.close()


class IppFailed(ActionFailed):
    """The server refused the request; `code` is the IPP status (1028: not possible)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class IppNotFound(ValidationError):
    """No such printer or job (IPP 1030): the name or id given is wrong, exit 2."""

    def __init__(self, message: str, code: int = NOT_FOUND) -> None:
        super().__init__(message)
        self.code = code


def _printer_uri(printer: str) -> str:
    """The server takes the queue from the URI's path, percent-decoded; the host part
    is not looked at."""
    return f"ipp://localhost/printers/{quote(printer, safe='')}"


def _queue_of(attrs: dict[str, Any]) -> str:
    """The queue's name from a job's `job-printer-uri`, which CUPS percent-encodes
    (`Drucker-Büro%20x` is `…/printers/Drucker-B%C3%BCro%2520x`)."""
    return unquote(str(attrs.get("job-printer-uri", "")).rpartition("/")[2])


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)
