"""Windows print servers over WinRM: the PrintManagement cmdlets, one packaged script per
operation (`printing/scripts/*.ps1`), run through the transport in core/winrm.

One WinRM shell per server for as long as this object lives (a run, or a listing), and
deleted when it is closed. Every value from a person travels in the parameter blob,
never in script text. A queue here has no "reject" state and jobs cannot move between
queues (`can_reject`, `can_move`); job ids are the spooler's, unique on the server.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from adminkit.core.errors import AuthenticationFailed, UsageError, ValidationError
from adminkit.core.secrets import Secret
from adminkit.core.winrm import ScriptFailed, WinRMSession, WinRMTarget, load_script
from adminkit.printing.server import Job, Printer, SpoolerDown, mask_uri
from adminkit.printing.settings import PrintServerConfig

SCRIPTS = "adminkit.printing.scripts"
# IPP option names and values <-> Set-PrintConfiguration's
SIDES = {"one-sided": "OneSided", "two-sided-long-edge": "TwoSidedLongEdge",
         "two-sided-short-edge": "TwoSidedShortEdge"}
MEDIA = {"iso_a4_210x297mm": "A4", "iso_a3_297x420mm": "A3", "iso_a5_148x210mm": "A5",
         "na_letter_8.5x11in": "Letter", "na_legal_8.5x14in": "Legal"}
SETTABLE = ("sides", "print-color-mode", "media")


def job_state(status: str) -> str:
    """JobStatus is a list of flags ("Paused, Printing"): the one that matters most."""
    flags = {f.strip().lower() for f in status.split(",")}
    for flag, state in (("deleting", "canceled"), ("deleted", "canceled"),
                        ("printed", "completed"), ("complete", "completed"),
                        ("error", "stopped"), ("blocked", "stopped"), ("paused", "held"),
                        ("printing", "processing")):
        if flag in flags:
            return state
    return "pending"


def port_of(uri: str) -> tuple[str, str]:
    """(port name, host address) for a device URI: Windows prints to a TCP/IP port."""
    host = urlsplit(uri).hostname
    if not host:
        raise ValidationError(f"device URI {mask_uri(uri)!r} names no host",
                              hint="a Windows print server needs socket://HOST or ipp://HOST/…")
    return f"IP_{host}", host


class WindowsPrintServer:
    """A Windows print server as the profile names it (`kind: windows`)."""

    kind = "windows"
    can_reject = False
    can_move = False
    keeps_reason = False

    def __init__(self, cfg: PrintServerConfig, password: Secret | None, *,
                 cancelled: Callable[[], bool] = lambda: False) -> None:
        if cfg.user is None or password is None:
            raise UsageError(f"print server {cfg.name}: a Windows print server needs `user` "
                             "and `password` (a secret reference) in the profile")
        self.cfg = cfg
        self.name = cfg.name
        self.target = WinRMTarget(cfg.name, cfg.host, cfg.user, password, port=cfg.port,
                                  ca_file=cfg.ca_file, insecure=cfg.insecure, deadline=120,
                                  section="print_servers")
        self._session = WinRMSession(self.target, cancelled=cancelled)

    def _run(self, op: str, what: str, **params: Any) -> Any:
        try:
            return self._session.run_script(load_script(SCRIPTS, op), params)
        except ScriptFailed as exc:
            raise self._error(what, exc) from None

    def _error(self, what: str, exc: ScriptFailed) -> Exception:
        where = f"print server {self.name} ({self.cfg.host})"
        text = exc.message
        if exc.category == "ObjectNotFound":
            return ValidationError(f"{where}: {what}: {text}",
                                   hint="`adminkit printer list` / `job list` show what there is")
        if exc.category == "PermissionDenied":
            return AuthenticationFailed(f"{where}: {what}: access denied",
                                        hint=f"{self.cfg.user} needs Manage Printers (or "
                                             "Manage Documents) on this print server")
        if exc.category == "ResourceUnavailable" or "spooler" in text.lower():
            return SpoolerDown(f"{where}: {what}: the print spooler does not answer "
                                    f"({text})", hint=f"`adminkit spooler restart --server "
                                                      f"{self.name}`")
        return exc

    # -- printers ---------------------------------------------------------------------
    def printers(self) -> list[Printer]:
        found = self._run("printer_list", "list printers")
        return [self._printer(p) for p in (found or {}).get("printers") or []]

    def _printer(self, raw: dict[str, Any]) -> Printer:
        status = str(raw.get("status") or "Normal")
        state = {"paused": "paused", "printing": "printing"}.get(status.lower(), "idle")
        return Printer(name=str(raw["name"]), server=self.name, state=state, accepting=True,
                       reason="" if status in ("Normal", "Paused", "Printing") else status,
                       jobs=int(raw.get("jobs") or 0), location=str(raw.get("location") or ""),
                       model=str(raw.get("driver") or ""),
                       device_uri=f"port:{raw.get('port') or ''}",
                       shared=bool(raw.get("shared")), default=bool(raw.get("default")))

    def printer(self, name: str) -> Printer | None:
        found = self._run("printer_list", f"read printer {name}", name=name)
        rows = (found or {}).get("printers") or []
        if not rows:
            return None
        printer = self._printer(rows[0])
        config = self._run("printer_config", f"read the defaults of {name}", name=name) or {}
        sides = {v: k for k, v in SIDES.items()}.get(str(config.get("duplex")))
        printer.options = {"sides": sides or str(config.get("duplex") or ""),
                           "print-color-mode": "color" if config.get("color") else "monochrome",
                           "media": {v: k for k, v in MEDIA.items()}.get(
                               str(config.get("paper")), str(config.get("paper") or ""))}
        return printer

    def set_enabled(self, name: str, enabled: bool, reason: str | None) -> None:
        self._run("printer_pause", f"{'resume' if enabled else 'pause'} {name}", name=name,
                  pause=not enabled)

    def set_accepting(self, name: str, accepting: bool, reason: str | None) -> None:
        if not accepting:
            raise UsageError(f"print server {self.name}: Windows print queues cannot refuse "
                             "jobs", hint="pause the queue instead")

    def add_printer(self, name: str, uri: str, driver: str, location: str | None,
                    shared: bool) -> None:
        port, address = port_of(uri)
        self._run("printer_add", f"add printer {name}", name=name, port=port, address=address,
                  driver=driver, location=location, shared=shared)

    def update_printer(self, name: str, uri: str | None, location: str | None,
                       shared: bool | None) -> None:
        port, address = port_of(uri) if uri is not None else (None, None)
        self._run("printer_update", f"change printer {name}", name=name, port=port,
                  address=address, location=location, shared=shared)

    def same_device(self, name: str, uri: str) -> bool:
        found = self.printer(name)
        return found is not None and found.device_uri == f"port:{port_of(uri)[0]}"

    def remove_printer(self, name: str) -> None:
        self._run("printer_remove", f"remove printer {name}", name=name)

    def set_options(self, name: str, options: dict[str, str]) -> None:
        unknown = sorted(set(options) - set(SETTABLE))
        if unknown:
            raise ValidationError(f"print server {self.name}: Windows queues take "
                                  f"{', '.join(SETTABLE)}, not {', '.join(unknown)}")
        params: dict[str, Any] = {"name": name}
        if "sides" in options:
            params["duplex"] = SIDES.get(options["sides"], options["sides"])
        if "print-color-mode" in options:
            params["color"] = options["print-color-mode"] == "color"
        if "media" in options:
            params["paper"] = MEDIA.get(options["media"], options["media"])
        self._run("printer_set_config", f"set the defaults of {name}", **params)

    def default_printer(self) -> str | None:
        return next((p.name for p in self.printers() if p.default), None)

    def set_default(self, name: str) -> None:
        self._run("printer_default", f"make {name} the default", name=name)

    def test_page(self, name: str) -> int:
        found = self._run("printer_test_page", f"print a test page on {name}", name=name)
        return int((found or {}).get("id") or 0)

    # -- jobs -------------------------------------------------------------------------
    def jobs(self, printer: str | None = None, *, finished: bool = False,
             brief: bool = False) -> list[Job]:
        found = self._run("job_list", "list jobs", printer=printer)
        jobs = [self._job(j) for j in (found or {}).get("jobs") or []]
        return sorted((j for j in jobs if j.finished == finished), key=lambda j: j.id)

    def _job(self, raw: dict[str, Any]) -> Job:
        submitted = raw.get("submitted")
        created = datetime.fromisoformat(str(submitted)).astimezone(UTC) if submitted else None
        return Job(id=int(raw["id"]), server=self.name, printer=str(raw.get("printer") or ""),
                   owner=str(raw.get("owner") or ""), name=str(raw.get("name") or ""),
                   size_kb=(int(raw.get("size") or 0) + 1023) // 1024,
                   state=job_state(str(raw.get("status") or "")), created=created)

    def job(self, job_id: int) -> Job | None:
        found = self._run("job_list", f"read job {job_id}", id=job_id)
        rows = (found or {}).get("jobs") or []
        return self._job(rows[0]) if rows else None

    def _on_job(self, op: str, verb: str, job_id: int) -> None:
        job = self.job(job_id)
        if job is None:
            raise ValidationError(f"print server {self.name} has no job {job_id}")
        self._run(op, f"{verb} job {job_id}", printer=job.printer, id=job_id)

    def cancel_job(self, job_id: int) -> None:
        self._on_job("job_cancel", "cancel", job_id)

    def hold_job(self, job_id: int) -> None:
        self._on_job("job_hold", "hold", job_id)

    def release_job(self, job_id: int) -> None:
        self._on_job("job_release", "release", job_id)

    def restart_job(self, job_id: int) -> None:
        self._on_job("job_restart", "restart", job_id)

    def move_job(self, job_id: int, printer: str) -> None:
        raise UsageError(f"print server {self.name}: Windows cannot move a job to another "
                         "queue", hint="cancel it and print it again on the other queue")

    def purge(self, printer: str, job_ids: Sequence[int]) -> list[int]:
        """One script removes exactly these jobs of the queue (the others stay) and
        names the ones it removed."""
        if not job_ids:
            return []
        found = self._run("queue_purge", f"purge {printer}", name=printer,
                          ids=list(job_ids))
        removed = {int(i) for i in (found or {}).get("removed_ids") or []}
        return [i for i in job_ids if i not in removed]

    def restart_spooler(self) -> None:
        self._run("spooler_restart", "restart the spooler")

    def close(self) -> None:
        self._session.close()
