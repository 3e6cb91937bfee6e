"""The Request Tracker lab server: REST2 with a token, notes, mail kept local, reset."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import httpx
import pytest

from adminkit.core import secrets
from adminkit.lab import process
from adminkit.lab.base import LabServer
from adminkit.lab.rt import QUEUE, RequestTracker
from adminkit.tickets.settings import TicketsConfig

pytestmark = pytest.mark.integration

DMA_SPOOL = Path("/var/spool/dma")


@pytest.fixture(scope="module")
def server(rt: LabServer) -> RequestTracker:
    assert isinstance(rt, RequestTracker)
    return rt


def _group_members(pgid: int) -> list[int]:
    """PIDs whose process group is `pgid` (the Starlet master and its workers)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            raw = stat.read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            found.append(int(stat.parent.name))
    return found


def _spool_files() -> set[str]:
    return {p.name for p in DMA_SPOOL.iterdir()} if DMA_SPOOL.is_dir() else set()


def test_token_lists_the_helpdesk_queue(server: RequestTracker) -> None:
    with server.client() as rt:
        r = rt.get("/queues/all", params={"fields": "Name"})
        assert r.status_code == 200, r.text
        assert QUEUE in [q["Name"] for q in r.json()["items"]]
        r = rt.get(f"/queue/{QUEUE}")
        assert r.status_code == 200
        assert r.json()["Name"] == QUEUE


def test_wrong_token_is_refused(server: RequestTracker) -> None:
    good = server.token_file.read_text().strip()
    bad = good[:-4] + ("0000" if not good.endswith("0000") else "1111")
    r = httpx.get(
        f"{server.url}/queue/{QUEUE}", headers={"Authorization": f"token {bad}"}, timeout=30
    )
    assert r.status_code == 401


def test_comment_is_read_back_and_mail_stays_local(server: RequestTracker) -> None:
    spool_before = _spool_files()
    mail_before = set(server.mail_dir.iterdir())
    subject = f"lab test {uuid.uuid4().hex[:12]}"
    tid = server.new_ticket(subject, Content="Please disable jdoe.", ContentType="text/plain")
    marker = f"adminkit:R-{tid}:1; account.disable jdoe: changed"
    with server.client() as rt:
        r = rt.post(f"/ticket/{tid}/comment", json={"Content": marker, "ContentType": "text/plain"})
        assert r.status_code == 201, r.text
        txn = r.headers["Location"].rsplit("/", 1)[1]

        history = rt.get(f"/ticket/{tid}/history", params={"fields": "Type,Creator"}).json()
        comments = [t for t in history["items"] if t["Type"] == "Comment"]
        assert [(t["id"], t["Creator"]["id"]) for t in comments] == [(txn, "tech1")]

        attachments = rt.get(
            f"/ticket/{tid}/attachments", params={"fields": "TransactionId,ContentType,Content"}
        ).json()
        bodies = [a["Content"] for a in attachments["items"] if a["TransactionId"] == txn]
        assert bodies == [marker]

    # The create made an autoreply to the requestor: it is a file, not a queued mail.
    new_mail = set(server.mail_dir.iterdir()) - mail_before
    assert any(subject in m.read_text(errors="replace") for m in new_mail)
    assert _spool_files() == spool_before


def test_record_holds_the_rt_server_master(server: RequestTracker) -> None:
    [proc] = server.procs.load("rt")
    assert proc.argv0 == "rt-server"
    assert process.alive(proc)
    assert b"rt-server" in Path(f"/proc/{proc.pid}/cmdline").read_bytes()
    assert os.getpgid(proc.pid) == proc.pid  # leads its group: a group SIGTERM takes all
    workers = [p for p in _group_members(proc.pid) if p != proc.pid]
    assert workers, "Starlet should have forked its workers"
    for pid in workers:
        ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        assert ppid == proc.pid


def test_no_secret_in_any_cmdline(server: RequestTracker) -> None:
    values = [
        f.read_text().strip().encode()
        for f in (server.token_file, server.root_password_file, server.tech_password_file)
    ]
    assert all(len(v) >= 16 for v in values)
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes()
        except OSError:
            continue
        for value in values:
            assert value not in argv, f"a lab secret is in the argv of {cmdline.parent.name}"


def test_profile_validates_and_its_token_works(server: RequestTracker) -> None:
    tickets = TicketsConfig.model_validate(server.profile()["tickets"])
    assert tickets.kind == "rt"
    assert tickets.queue == QUEUE
    assert tickets.url == "http://127.0.0.1:8085/REST/2.0"
    assert tickets.token is not None
    token = secrets.resolve(str(tickets.token), label="rt token")  # also checks mode 0600
    r = httpx.get(
        f"{tickets.url}/queue/{QUEUE}",
        timeout=30,
        headers={"Authorization": f"token {token.reveal()}"},
    )
    assert r.status_code == 200


def test_reset_restores_golden_and_leaves_no_process(server: RequestTracker) -> None:
    tid = server.new_ticket("gone after reset")
    [old] = server.procs.load("rt")
    server.reset()
    assert _group_members(old.pid) == []  # master and workers all gone
    [new] = server.procs.load("rt")
    assert new.pid != old.pid
    assert process.alive(new)
    server.probe()
    with server.client() as rt:
        assert rt.get(f"/ticket/{tid}").status_code == 404
