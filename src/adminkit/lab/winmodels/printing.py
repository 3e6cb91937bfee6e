"""A Windows print server for the WinRM fake: queues, ports, jobs and the spooler.

Each handler does what its script in `adminkit/printing/scripts/` does with the
PrintManagement cmdlets and answers with the same JSON; errors carry the message,
FullyQualifiedErrorId and category that Windows gives. Faults are set over the fake's
control endpoint (`{"model": "printing", "do": {…}}`, answered with the model's state
and the ids of the jobs `added`): `{"spooler": "stopped"}` (every cmdlet fails as with
the Print Spooler stopped, until `spooler restart` or `{"spooler": "running"}`),
`{"deny": true}` (writes are refused: access denied); a (re)start numbers jobs as Windows
does, from 2 when every queue is empty (an id is reused), `{"finish_in_purge": [ids]}` (those
jobs print and leave between the purge script's listing and their removal; once),
`{"hang_in_purge": true}` (the next purge removes its jobs, then its command never
finishes until signalled: a Ctrl-C or a lost answer after the write). Tests seed jobs with
`{"jobs": [{"printer": …, "owner": …, "name": …, "status": "Paused", "age": 3600}]}`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from adminkit.lab.winrm_fake import FakeHost, Outcome, ScriptError, handler, model_of

NOT_FOUND = "The specified printer was not found."
SPOOLER_DOWN = "The spooler service is not reachable.  Ensure the spooler service is running."
DENIED = "Access was denied to the specified resource."
DRIVER = "Microsoft IPP Class Driver"
DRIVERS = (DRIVER, "Microsoft PS Class Driver", "HP Universal Printing PCL 6")


@dataclass
class Queue:
    name: str
    port: str
    driver: str = DRIVER
    location: str = ""
    shared: bool = False
    status: str = "Normal"  # PrinterStatus: Normal, Paused, Error, …
    duplex: str = "OneSided"
    color: bool = True
    paper: str = "A4"


@dataclass
class PrintJob:
    id: int
    printer: str
    owner: str
    name: str
    size: int = 20480
    status: str = "Normal"  # JobStatus flags, as Get-PrintJob gives them
    submitted: str = field(default_factory=lambda: datetime.now(UTC).isoformat())


class PrintServerModel:
    """The print side of one fake host."""

    def __init__(self, host: FakeHost) -> None:
        self.host = host
        self.lock = threading.RLock()
        self.queues: dict[str, Queue] = {
            "front-desk": Queue("front-desk", "IP_10.0.0.11", location="Reception"),
            "back-office": Queue("back-office", "IP_10.0.0.12")}
        self.ports = {"IP_10.0.0.11": "10.0.0.11", "IP_10.0.0.12": "10.0.0.12"}
        self.jobs: dict[int, PrintJob] = {}
        self.next_id = 2
        self.default: str | None = "front-desk"
        self.spooler = "Running"
        self.restarts = 0
        self.deny = False
        self.finish_in_purge: set[int] = set()
        self.hang_in_purge = False

    # -- what a cmdlet checks first ------------------------------------------------------
    def ready(self, cmdlet: str, *, write: bool = False) -> None:
        if self.spooler != "Running":
            raise ScriptError(SPOOLER_DOWN, f"HRESULT 0x800706ba,{cmdlet}", "NotSpecified")
        if write and self.deny:
            raise ScriptError(DENIED, f"HRESULT 0x80070005,{cmdlet}", "PermissionDenied")

    def queue(self, name: str, cmdlet: str) -> Queue:
        found = self.queues.get(name)
        if found is None:
            raise ScriptError(NOT_FOUND, f"HRESULT 0x80070709,{cmdlet}", "ObjectNotFound")
        return found

    def job(self, printer: str, job_id: int, cmdlet: str) -> PrintJob:
        self.queue(printer, cmdlet)
        found = self.jobs.get(job_id)
        if found is None or found.printer != printer:
            raise ScriptError("The specified print job was not found.",
                              f"HRESULT 0x80070057,{cmdlet}", "ObjectNotFound")
        return found

    def add_job(self, printer: str, owner: str, name: str, status: str = "Normal",
                age: float = 0) -> PrintJob:
        with self.lock:
            self.queue(printer, "Add-Job")
            job = PrintJob(self.next_id, printer, owner, name, status=status,
                           submitted=(datetime.now(UTC) - timedelta(seconds=age)).isoformat())
            self.jobs[job.id] = job
            self.next_id += 1
            return job

    def started(self) -> None:
        """The spooler (re)started. Windows numbers a server's jobs from 2 when it starts
        with every queue empty, else after the highest job left (.NET's
        PrintSystemJobInfo.JobIdentifier): an id is reused after a restart."""
        if self.spooler != "Running":
            self.next_id = max(self.jobs, default=1) + 1
        self.spooler = "Running"

    # -- what tests drive and read ---------------------------------------------------------
    def control(self, do: dict[str, Any]) -> Any:
        with self.lock:
            if "spooler" in do:
                if do["spooler"] == "running":
                    self.started()
                else:
                    self.spooler = "Stopped"
            if "deny" in do:
                self.deny = bool(do["deny"])
            if "finish_in_purge" in do:
                self.finish_in_purge = {int(i) for i in do["finish_in_purge"]}
            if "hang_in_purge" in do:
                self.hang_in_purge = bool(do["hang_in_purge"])
            added = [self.add_job(j["printer"], j.get("owner", "jnovak"),
                                  j.get("name", "document"), j.get("status", "Normal"),
                                  float(j.get("age", 0))).id for j in do.get("jobs", [])]
            return {**self.snapshot(), "added": added}

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"queues": {n: asdict(q) for n, q in self.queues.items()},
                    "ports": dict(self.ports), "default": self.default,
                    "jobs": {str(i): asdict(j) for i, j in self.jobs.items()},
                    "spooler": self.spooler, "restarts": self.restarts}


_model = model_of("printing", PrintServerModel)
Script = Callable[[PrintServerModel, dict[str, Any]], dict[str, Any]]


def _script(op: str, cmdlet: str | None, *, write: bool = False) -> Callable[[Script], Script]:
    """The fake of the script `op`: it runs under the model's lock, once `cmdlet` found
    the spooler running (and, for a write, access allowed)."""
    def register(fn: Script) -> Script:
        def run(host: FakeHost, p: dict[str, Any]) -> dict[str, Any]:
            m = _model(host)
            with m.lock:
                if cmdlet is not None:
                    m.ready(cmdlet, write=write)
                return fn(m, p)
        handler(op)(run)
        return fn
    return register


# -- the scripts ---------------------------------------------------------------------------
@_script("printing.printer_list", "Get-Printer")
def printer_list(m: PrintServerModel, p: dict[str, Any]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for job in m.jobs.values():
        counts[job.printer] = counts.get(job.printer, 0) + 1
    return {"printers": [
        {"name": q.name, "status": q.status, "jobs": counts.get(q.name, 0),
         "location": q.location, "driver": q.driver, "port": q.port, "shared": q.shared,
         "comment": "", "default": q.name == m.default}
        for q in m.queues.values() if not p.get("name") or q.name == p["name"]]}


@_script("printing.printer_config", "Get-PrintConfiguration")
def printer_config(m: PrintServerModel, p: dict[str, Any]) -> dict[str, Any]:
    q = m.queue(p["name"], "Get-PrintConfiguration")
    return {"duplex": q.duplex, "color": q.color, "paper": q.paper}


@_script("printing.printer_set_config", "Set-PrintConfiguration", write=True)
def printer_set_config(m: PrintServerModel, p: dict[str, Any]) -> dict[str, Any]:
    q = m.queue(p["name"], "Set-PrintConfiguration")
    if p.get("duplex") is not None:
        if p["duplex"] not in ("OneSided", "TwoSidedLongEdge", "TwoSidedShortEdge"):
            raise ScriptError(f"Cannot bind parameter 'DuplexingMode'. Cannot convert "
                              f"value \"{p['duplex']}\" to type \"DuplexingMode\".",
                              "CannotConvertArgumentNoMessage,Set-PrintConfiguration",
                              "InvalidArgument")
        q.duplex = p["duplex"]
    if p.get("color") is not None:
        q.color = bool(p["color"])
    if p.get("paper") is not None:
        q.paper = str(p["paper"])
    return {"done": True}


# Win32_Printer's methods, on the printer Get-Printer found
@_script("printing.printer_pause", "Get-Printer", write=True)
def printer_pause(m: PrintServerModel, p: dict[str, Any]) -> dict[str, Any]:
    m.queue(p["name"], "Get-Printer").status = "Paused" if p.get("pause") else "Normal"
    return {"code": 0}


@_script("printing.printer_default", "Get-Printer", write=True)
def printer_default(m: PrintServerModel, p: dict[str, Any]) -> dict[str, Any]:
    m.default = m.queue(p["name"], "Get-Printer").name
    return {"code": 0}


@_script("printing.printer_test_page", "Get-Printer")
def printer_test_page(m: PrintServerModel, p: dict[str, Any]) -> dict[str, Any]:
    m.queue(p["name"], "Get-Printer")
    job = m.add_job(p["name"], m.host.caller(), "Test Page")
    return {"code": 0, "id": job.id}


def _port(m: PrintServerModel, p: dict[str, Any]) -> None:
    if p.get("port") and p["port"] not in m.ports:
        m.ports[p["port"]] = str(p.get("address") or "")


@_script("printing.printer_add", "Add-Printer", write=True)
def printer_add(m: PrintServerModel, p: dict[str, Any]) -> dict[str, Any]:
    if p["name"] in m.queues:
        raise ScriptError("The specified printer already exists.",
                          "HRESULT 0x80070709,Add-Printer", "ResourceExists")
    if p["driver"] not in DRIVERS:
        raise ScriptError("The specified driver does not exist on the server.",
                          "HRESULT 0x80070705,Add-Printer", "ObjectNotFound")
    _port(m, p)
    m.queues[p["name"]] = Queue(p["name"], p["port"], driver=p["driver"],
                                location=p.get("location") or "",
                                shared=bool(p.get("shared")))
    return {"done": True}


@_script("printing.printer_update", "Set-Printer", write=True)
def printer_update(m: PrintServerModel, p: dict[str, Any]) -> dict[str, Any]:
    q = m.queue(p["name"], "Set-Printer")
    _port(m, p)
    if p.get("port"):
        q.port = p["port"]
    if p.get("location") is not None:
        q.location = p["location"]
    if p.get("shared") is not None:
        q.shared = bool(p["shared"])
    return {"done": True}


@_script("printing.printer_remove", "Remove-Printer", write=True)
def printer_remove(m: PrintServerModel, p: dict[str, Any]) -> dict[str, Any]:
    m.queue(p["name"], "Remove-Printer")
    del m.queues[p["name"]]
    m.jobs = {i: j for i, j in m.jobs.items() if j.printer != p["name"]}
    if m.default == p["name"]:
        m.default = None
    return {"done": True}


@_script("printing.job_list", "Get-PrintJob")
def job_list(m: PrintServerModel, p: dict[str, Any]) -> dict[str, Any]:
    if p.get("printer"):
        m.queue(p["printer"], "Get-Printer")
    return {"jobs": [{"id": j.id, "printer": j.printer, "owner": j.owner, "name": j.name,
                      "size": j.size, "status": j.status, "submitted": j.submitted}
                     for j in sorted(m.jobs.values(), key=lambda j: j.id)
                     if (not p.get("printer") or j.printer == p["printer"])
                     and (not p.get("id") or j.id == p["id"])]}


JOB_CMDLETS = {  # script -> the cmdlet it runs on one job, and the status it leaves (None: gone)
    "printing.job_cancel": ("Remove-PrintJob", None),
    "printing.job_hold": ("Suspend-PrintJob", "Paused"),
    "printing.job_release": ("Resume-PrintJob", "Normal"),
    "printing.job_restart": ("Restart-PrintJob", "Normal"),
}


def _job_cmdlet(cmdlet: str, status: str | None) -> Script:
    def run(m: PrintServerModel, p: dict[str, Any]) -> dict[str, Any]:
        job = m.job(p["printer"], int(p["id"]), cmdlet)
        if status is None:
            del m.jobs[job.id]
        else:
            job.status = status
        return {"done": True}
    return run


for _op, (_cmdlet, _status) in JOB_CMDLETS.items():
    _script(_op, _cmdlet, write=True)(_job_cmdlet(_cmdlet, _status))


@_script("printing.queue_purge", "Remove-PrintJob", write=True)
def queue_purge(m: PrintServerModel, p: dict[str, Any]) -> Any:
    m.queue(p["name"], "Get-PrintJob")
    ids = {int(i) for i in p["ids"]}
    listed = [i for i, j in m.jobs.items() if j.printer == p["name"] and i in ids]
    finishing, m.finish_in_purge = m.finish_in_purge, set()
    removed = []
    for job_id in listed:
        del m.jobs[job_id]  # printed meanwhile, or removed: either way it has left
        if job_id not in finishing:  # Remove-PrintJob's ObjectNotFound is skipped
            removed.append(job_id)
    found = {"removed": len(removed), "removed_ids": removed}
    if m.hang_in_purge:  # done, and the answer never comes
        m.hang_in_purge = False
        return Outcome(result=found, hang=True)
    return found


@_script("printing.spooler_restart", None)  # Restart-Service: the spooler may be stopped
def spooler_restart(m: PrintServerModel, p: dict[str, Any]) -> dict[str, Any]:
    if m.deny:
        raise ScriptError("Service 'Print Spooler (Spooler)' cannot be stopped due to "
                          "the following error: Cannot open Spooler service on "
                          "computer '.'.", "CouldNotStopService,Microsoft.PowerShell."
                          "Commands.RestartServiceCommand", "PermissionDenied")
    m.spooler = "Stopped"  # Restart-Service: stopped, then started
    m.started()
    m.restarts += 1
    return {"status": "Running"}
