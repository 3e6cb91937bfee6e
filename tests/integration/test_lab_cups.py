"""The CUPS lab server: real IPP, jobs that really print as lp, a golden reset, the real PID."""

from __future__ import annotations

import os
import pwd
import stat
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from adminkit.lab import base, process
from adminkit.lab.cups import DEVICE, OPERATOR, QUEUES, CupsServer
from adminkit.printing.settings import PrintServerConfig
from tests.integration.procfs import listener_inode, socket_inodes

pytestmark = pytest.mark.integration
cups = pytest.importorskip("cups")

ATTRS = ["job-id", "job-name", "job-state", "job-originating-user-name",
         "job-impressions-completed", "job-printer-state-message"]


@pytest.fixture
def server(cups_clean: CupsServer) -> CupsServer:
    return cups_clean


@pytest.fixture
def doc(tmp_path: Path) -> Path:
    path = tmp_path / "letter.txt"
    path.write_text("Dear customer, marker-7f3a\n" * 40)
    return path


def wait_done(conn: Any, job_id: int, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        attrs: dict[str, Any] = conn.getJobAttributes(job_id)
        if attrs["job-state"] >= 7 or time.monotonic() > deadline:
            return attrs
        time.sleep(0.05)




def test_ipp_lists_exactly_the_two_queues(server: CupsServer) -> None:
    conn = server.connection()
    assert set(conn.getPrinters()) == set(QUEUES)
    for queue in QUEUES:
        attrs = conn.getPrinterAttributes(queue)
        assert attrs["printer-state"] == 3  # idle
        assert attrs["printer-is-accepting-jobs"] is True
        assert attrs["device-uri"] == DEVICE
        assert attrs["printer-op-policy"] == "lab"


def test_profile_is_a_valid_print_server(server: CupsServer) -> None:
    [entry] = server.profile()["print_servers"]
    cfg = PrintServerConfig(**entry)
    assert (cfg.kind, cfg.host, cfg.port) == ("cups", "127.0.0.1", 6310)


def test_job_on_paused_queue_stays_pending(server: CupsServer, doc: Path) -> None:
    conn = server.connection()
    conn.disablePrinter("front-desk", reason="toner change")
    job_id = conn.printFile("front-desk", str(doc), "Quarterly report", {})
    time.sleep(0.3)  # give a (wrongly) running queue time to take it
    jobs = conn.getJobs(which_jobs="not-completed", requested_attributes=ATTRS)
    assert set(jobs) == {job_id}
    assert jobs[job_id]["job-name"] == "Quarterly report"
    assert jobs[job_id]["job-state"] == 3  # pending
    assert jobs[job_id]["job-originating-user-name"] == pwd.getpwuid(os.geteuid()).pw_name
    assert conn.getPrinterAttributes("front-desk")["printer-state"] == 5  # stopped


def test_job_on_enabled_queue_is_really_printed_by_lp(
    server: CupsServer, doc: Path, tmp_path: Path
) -> None:
    """The filters run as lp below a 0700 /root (or pytest's 0700 tmp) and still read the job.

    A job whose document lp cannot open still ends "completed" (9), so look further:
    pages counted, no error message, and the text in the device's output.
    """
    conn = server.connection()
    job_id = conn.printFile("front-desk", str(doc), "Letter", {})
    attrs = wait_done(conn, job_id)
    assert attrs["job-state"] == 9, attrs
    assert attrs["job-impressions-completed"] >= 1, attrs
    assert "Unable" not in attrs.get("job-printer-state-message", ""), attrs

    out = tmp_path / "front-desk.out"  # cupsd (root) opens the device file itself
    conn.addPrinter("front-desk", device=f"file://{out}")
    job_id = conn.printFile("front-desk", str(doc), "Letter to file", {})
    attrs = wait_done(conn, job_id)
    assert attrs["job-state"] == 9, attrs
    assert "marker-7f3a" in out.read_text(errors="replace")


def test_reset_gives_back_two_empty_queues(server: CupsServer, doc: Path) -> None:
    conn = server.connection()
    conn.printFile("back-office", str(doc), "history", {})
    conn.disablePrinter("front-desk")
    for n in range(5):
        conn.printFile("front-desk", str(doc), f"waiting {n}", {})
    conn.rejectJobs("back-office", reason="moving office")
    conn.addPrinter("scratch", ppdname="drv:///cupsfilters.drv/textonly.ppd",
                    device="file:///dev/null")
    pid_before = server.procs.load("cups")[0].pid

    started = time.monotonic()
    server.reset()
    took = time.monotonic() - started

    conn = server.connection()
    assert set(conn.getPrinters()) == set(QUEUES)
    assert conn.getJobs(which_jobs="all", requested_attributes=ATTRS) == {}
    for queue in QUEUES:
        attrs = conn.getPrinterAttributes(queue)
        assert (attrs["printer-state"], attrs["printer-is-accepting-jobs"]) == (3, True)
    assert conn.printFile("back-office", str(doc), "first again", {}) == 1  # ids restart
    assert server.procs.load("cups")[0].pid != pid_before
    assert took < 10, f"reset took {took:.2f}s"


def test_process_record_is_the_real_cupsd(server: CupsServer) -> None:
    [proc] = server.procs.load("cups")
    assert process.alive(proc)
    assert Path(f"/proc/{proc.pid}/exe").resolve().name == "cupsd"
    assert listener_inode(server.port) in socket_inodes(proc.pid)
    # The lp pitfall's fix: cupsd's working directory is the lab's cups dir.
    assert os.readlink(f"/proc/{proc.pid}/cwd") == str(server.dir)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root creates the operator user")
def test_secured_queue_needs_the_operator(server: CupsServer) -> None:
    pwd.getpwnam(OPERATOR)  # setup created it
    password = server.operator_password()
    server.connection().setPrinterOpPolicy("back-office", "secured")
    outcome: dict[str, Any] = {}

    def as_operator() -> None:  # user and password callback are per thread
        try:
            cups.Connection(host=server.host, port=server.port).disablePrinter("back-office")
        except cups.IPPError as exc:
            outcome["anonymous"] = exc.args[0]
        prompts: list[str] = []

        def password_cb(prompt: str) -> str | None:
            prompts.append(prompt)
            return password if len(prompts) == 1 else None

        cups.setUser(OPERATOR)
        cups.setPasswordCB(password_cb)
        conn = cups.Connection(host=server.host, port=server.port)
        conn.disablePrinter("back-office")
        outcome["state"] = conn.getPrinterAttributes("back-office")["printer-state"]
        outcome["prompts"] = prompts

    worker = threading.Thread(target=as_operator)
    worker.start()
    worker.join(30)
    assert outcome["anonymous"] == cups.IPP_AUTHENTICATION_CANCELED
    assert outcome["state"] == 5
    assert len(outcome["prompts"]) == 1

    server.reset()
    attrs = server.connection().getPrinterAttributes("back-office")
    assert (attrs["printer-op-policy"], attrs["printer-state"]) == ("lab", 3)


class _SecondCups(CupsServer):
    port = 6311
    operator = None  # the operator user is machine-wide; leave the session lab's alone


def test_lab_below_a_0700_folder_prints(tmp_path: Path, doc: Path) -> None:
    """A whole second lab under pytest's tmp (0700 parents): set up, print as lp, stop."""
    assert any(stat.S_IMODE(p.stat().st_mode) == 0o700 for p in tmp_path.parents)
    if not base.port_free("127.0.0.1", _SecondCups.port):
        pytest.skip(f"127.0.0.1:{_SecondCups.port} is taken")
    second = _SecondCups(tmp_path / "lab")
    second.setup()
    second.start()
    try:
        second.wait_ready()
        conn = second.connection()
        assert set(conn.getPrinters()) == set(QUEUES)
        attrs = wait_done(conn, conn.printFile("back-office", str(doc), "Letter", {}))
        assert (attrs["job-state"], attrs["job-impressions-completed"] >= 1) == (9, True), attrs
    finally:
        second.stop()
    assert not second.is_running()
