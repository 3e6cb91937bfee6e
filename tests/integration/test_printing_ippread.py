"""The Get-Jobs reader (printing/ippread.py) against pycups on the tests' real private
cupsd (tests/integration/owncups.py): the same jobs, attributes and values for every
listing adminkit asks for, and the backend's listings the same whichever of the two
reads them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest

from adminkit.lab.cups import DEVICE, MODEL, CupsServer
from tests.integration.owncups import seeded

pytestmark = pytest.mark.integration
cups = pytest.importorskip("cups")

ODD = "Drucker-Büro%20x"  # CUPS percent-encodes it in job-printer-uri


@pytest.fixture(scope="module")
def jobs_cups(private_cups: CupsServer, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[CupsServer]:
    """Held jobs of two users on three queues, and a cancelled one."""
    own_cups = seeded(private_cups)
    folder = tmp_path_factory.mktemp("ippread-doc")
    folder.chmod(0o755)
    doc = folder / "page.txt"
    doc.write_text("page\n" * 3)
    doc.chmod(0o644)
    conn = own_cups.connection()
    conn.addPrinter(ODD, device=DEVICE, ppdname=MODEL)
    conn.enablePrinter(ODD)
    conn.acceptJobs(ODD)
    try:
        for queue, user, title in [("front-desk", "root", "Žádost o tisk"),
                                   ("front-desk", "jnovak", "=cmd|' /C calc'!A0"),
                                   ("back-office", "jnovak", "report"), (ODD, "root", "brief")]:
            cups.setUser(user)
            own_cups.connection().printFile(queue, str(doc), title,
                                            {"job-hold-until": "indefinite"})
    finally:
        cups.setUser("root")
    conn = own_cups.connection()
    gone = conn.printFile("back-office", str(doc), "gone", {"job-hold-until": "indefinite"})
    conn.cancelJob(gone)
    yield own_cups
    own_cups.reset()


def pycups_jobs(server: CupsServer, which: str, attrs: list[str]) -> dict[int, Any]:
    cups.setServer(server.host)
    cups.setPort(server.port)
    found: dict[int, Any] = server.connection().getJobs(which_jobs=which,
                                                         requested_attributes=attrs)
    return found


@pytest.mark.parametrize("which", ["not-completed", "completed", "all"])
def test_the_same_jobs_as_pycups(jobs_cups: CupsServer, which: str) -> None:
    from adminkit.printing import ippread
    from adminkit.printing.cups_backend import ALL_JOBS, BRIEF_ATTRS, JOB_ATTRS

    # not a boolean: pycups 2.0.4 reads every one false (job-preserved is 1 on the wire);
    # nor job-state-reasons, which change while a cancelled job comes to its stop
    for attrs in (JOB_ATTRS, BRIEF_ATTRS, ["job-id", "job-printer-uri"],
                  ["job-id", "job-uri", "job-hold-until", "job-originating-host-name",
                   "job-impressions-completed"]):
        theirs = pycups_jobs(jobs_cups, which, attrs)
        assert theirs, (which, attrs)
        assert ippread.get_jobs(jobs_cups.host, jobs_cups.port, ALL_JOBS, which,
                                attrs) == theirs


@pytest.mark.parametrize("queue", ["front-desk", "FRONT-DESK", ODD])
def test_one_queue_read_of_that_queue(jobs_cups: CupsServer, queue: str) -> None:
    """The purge's plan asks the queue itself, without `job-printer-uri`."""
    from adminkit.printing import ippread
    from adminkit.printing.cups_backend import BRIEF_ATTRS, QUEUE_ATTRS, _printer_uri
    from adminkit.printing.server import same_queue

    every = pycups_jobs(jobs_cups, "not-completed", BRIEF_ATTRS)
    mine = ippread.get_jobs(jobs_cups.host, jobs_cups.port, _printer_uri(queue),
                            "not-completed", QUEUE_ATTRS)
    wanted = {i: {k: v for k, v in a.items() if k != "job-printer-uri"}
              for i, a in every.items()
              if same_queue(unquote(a["job-printer-uri"].rpartition("/")[2]), queue)}
    assert wanted
    assert mine == wanted


@pytest.mark.parametrize(("printer", "brief", "finished"), [
    (None, False, False), (None, False, True), ("front-desk", True, False),
    ("FRONT-DESK", True, False), (ODD, True, False), ("no-such-queue", True, False),
    ("back-office", False, True)])
def test_the_backend_lists_the_same_either_way(jobs_cups: CupsServer,
                                               monkeypatch: pytest.MonkeyPatch,
                                               printer: str | None, brief: bool,
                                               finished: bool) -> None:
    """Read whole, or (an answer it does not take: a login asked for, an error) through
    pycups: the same Job rows, but for the queue's name, which a one-queue read takes as
    the caller wrote it."""
    from adminkit.printing import ippread
    from adminkit.printing.cups_backend import CupsPrintServer
    from adminkit.printing.settings import PrintServerConfig

    [entry] = jobs_cups.profile()["print_servers"]
    server = CupsPrintServer(PrintServerConfig(**entry))

    def listed() -> list[tuple[Any, ...]]:
        jobs = server.jobs(printer, brief=brief, finished=finished)
        return [(j.id, j.owner, j.name, j.size_kb, j.state, j.created,
                 j.printer.lower() if printer else j.printer) for j in jobs]

    whole = listed()

    def unread(*_args: Any, **_kw: Any) -> None:
        raise ippread.Unread("as if the server had asked for a login")

    monkeypatch.setattr(ippread, "get_jobs", unread)
    assert listed() == whole
    if printer != "no-such-queue":
        assert whole
