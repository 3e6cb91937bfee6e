"""A careless operator and a hostile server against the purge and the CUPS backend, on the
tests' private cupsd (tests/integration/owncups.py, reset for each test), so stopping it
(SIGSTOP) or filling it touches no lab server another test uses.

Outcomes are read back with a pycups connection of the test's own.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from adminkit.lab.cups import CupsServer

pytestmark = pytest.mark.integration
cups = pytest.importorskip("cups")

Cli = Callable[..., Any]
HELD, CANCELED = 4, 7


@pytest.fixture
def doc(tmp_path: Path) -> Path:
    path = tmp_path / "letter.txt"
    path.write_text("Dear customer\n" * 5)
    path.chmod(0o644)
    tmp_path.chmod(0o755)
    return path


def held(server: CupsServer, doc: Path, n: int, queue: str = "front-desk") -> list[int]:
    conn = server.connection()
    return [conn.printFile(queue, str(doc), f"doc {i}", {"job-hold-until": "indefinite"})
            for i in range(n)]


def state(server: CupsServer, job_id: int) -> int:
    return int(server.connection().getJobAttributes(job_id)["job-state"])


def backend(server: CupsServer) -> Any:
    from adminkit.printing.cups_backend import CupsPrintServer
    from adminkit.printing.settings import PrintServerConfig

    [entry] = server.profile()["print_servers"]
    return CupsPrintServer(PrintServerConfig(**entry))


def test_an_id_beyond_int32_is_refused_not_wrapped_onto_another_job(
        fresh: CupsServer, doc: Path) -> None:
    """2**32 + N as a C int is N: the request would cancel job N, which nobody named."""
    from adminkit.printing import ipp

    [job] = held(fresh, doc, 1)
    cups.setServer(fresh.host)
    cups.setPort(fresh.port)
    for bad in (2**32 + job, 2**70, 0, -job):
        with pytest.raises(ValueError, match="out of range"):
            ipp.cancel_jobs("ipp://localhost/printers/front-desk", [bad], lambda _p: None)
    assert state(fresh, job) == HELD


def test_a_nul_in_the_printer_uri_is_refused_not_cut(fresh: CupsServer, doc: Path) -> None:
    """libcups reads the URI up to the NUL: `front-desk\\0x` would purge `front-desk`."""
    from adminkit.printing import ipp

    [job] = held(fresh, doc, 1)
    cups.setServer(fresh.host)
    cups.setPort(fresh.port)
    with pytest.raises(ValueError, match="NUL"):
        ipp.cancel_jobs("ipp://localhost/printers/front-desk\x00x", [job], lambda _p: None)
    assert state(fresh, job) == HELD


def test_purge_in_several_requests_counts_every_cancelled_job(
        fresh: CupsServer, doc: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ids go in requests of MAX_IDS; a job moved away between plan and apply makes
    CUPS refuse the second request. The jobs the first cancelled are cancelled too."""
    from adminkit.printing import ipp

    monkeypatch.setattr(ipp, "MAX_IDS", 2)
    ids = held(fresh, doc, 4)
    fresh.connection().moveJob(job_id=ids[3],
                               job_printer_uri="ipp://localhost/printers/back-office")
    done = backend(fresh).purge("front-desk", ids)
    assert [state(fresh, i) for i in ids] == [CANCELED, CANCELED, CANCELED, HELD]
    assert done == [ids[3]]  # named: the one not cancelled


def test_a_cupsd_that_stopped_answering_is_exit_3_not_success(
        fresh: CupsServer, cli: Cli, lab_config_dir: Path) -> None:
    """SIGSTOP: the TCP connection is taken (the kernel's backlog), no answer comes."""
    (lab_config_dir / "profiles").mkdir(exist_ok=True)
    (lab_config_dir / "profiles" / "hostile.yaml").write_text(
        yaml.safe_dump({"description": "own cupsd", **fresh.profile()}))
    procs = fresh.procs.load(fresh.name)
    for proc in procs:
        os.kill(proc.pid, signal.SIGSTOP)
    try:
        r = cli("-p", "hostile", "job", "list")
    finally:
        for proc in procs:
            os.kill(proc.pid, signal.SIGCONT)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "Success" not in r.stderr
    assert f"{fresh.host}:{fresh.port}" in r.stderr


def test_a_queue_named_in_other_case_is_the_same_queue(
        fresh: CupsServer, doc: Path, cli: Cli, lab_config_dir: Path) -> None:
    """CUPS finds `FRONT-DESK` as front-desk (names are ASCII case-insensitive): a purge
    of it must not say `no job to purge` and leave every job in the queue."""
    (lab_config_dir / "profiles").mkdir(exist_ok=True)
    (lab_config_dir / "profiles" / "hostile.yaml").write_text(
        yaml.safe_dump({"description": "own cupsd", **fresh.profile()}))
    ids = held(fresh, doc, 2)
    r = cli("-p", "hostile", "-o", "json", "job", "list", "--printer", "FRONT-DESK")
    assert r.returncode == 0, r.stdout + r.stderr
    assert sorted(j["id"] for j in json.loads(r.stdout)) == ids
    r = cli("-p", "hostile", "queue", "purge", "FRONT-DESK")
    assert r.returncode == 0, r.stdout + r.stderr
    assert [state(fresh, i) for i in ids] == [CANCELED, CANCELED]
