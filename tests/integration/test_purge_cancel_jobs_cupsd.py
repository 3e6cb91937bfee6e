"""What cupsd 2.4 does with a Cancel-Jobs that names jobs (scheduler/ipp.c
`cancel_all_jobs`), and what the purge makes of it, on the tests' private
cupsd (tests/integration/owncups.py).

cupsd checks every id before cancelling any, but only that it is a job of the queue: a
job purged from the history (or moved) makes it refuse the whole request, a job that
printed meanwhile (kept as history) passes and is rewritten as cancelled. So the purge
cannot just send the plan's ids and wait for a refusal: it asks which of them finished
first. A write whose answer never comes may have been done (unknown outcome).
"""

from __future__ import annotations

import contextlib
import getpass
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from adminkit.lab.cups import CupsServer
from tests.fakes.loopback import LoopbackListener
from tests.integration.test_printing_hostile import backend, doc, held, state

pytestmark = pytest.mark.integration
cups = pytest.importorskip("cups")
HELD, CANCELED, COMPLETED = 4, 7, 9
URI = "ipp://localhost/printers/front-desk"
__all__ = ["doc"]


def printed(server: CupsServer, job_id: int) -> None:
    server.connection().setJobHoldUntil(job_id, "no-hold")
    for _ in range(600):
        if state(server, job_id) == COMPLETED:
            return
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not print")


def test_one_id_no_longer_there_refuses_the_whole_request(fresh: CupsServer,
                                                          doc: Path) -> None:
    from adminkit.printing import ipp

    ids = held(fresh, doc, 3)
    fresh.connection().cancelJob(ids[1], purge_job=True)  # gone, history too
    with pytest.raises(ipp.IppRequestFailed) as refused:
        ipp.cancel_jobs_whole(fresh.host, fresh.port, URI, getpass.getuser(), ids)
    assert refused.value.code == 1030 and f"#{ids[1]}" in refused.value.message
    assert [state(fresh, i) for i in (ids[0], ids[2])] == [HELD, HELD]  # none of them


def test_a_printed_jobs_id_is_taken_and_the_job_rewritten_as_cancelled(
        fresh: CupsServer, doc: Path) -> None:
    """Why the purge asks which jobs finished before it sends: cupsd does not refuse."""
    from adminkit.printing import ipp

    ids = held(fresh, doc, 2)
    printed(fresh, ids[0])
    assert ipp.cancel_jobs_whole(fresh.host, fresh.port, URI, getpass.getuser(), ids)
    assert [state(fresh, i) for i in ids] == [CANCELED, CANCELED]


def test_the_purge_leaves_out_and_names_a_job_that_printed_since_the_plan(
        fresh: CupsServer, doc: Path) -> None:
    ids = held(fresh, doc, 4)
    printed(fresh, ids[2])
    fresh.connection().cancelJob(ids[3], purge_job=True)  # and one gone altogether
    left = backend(fresh).purge("front-desk", ids)
    assert left == [ids[2], ids[3]]
    assert [state(fresh, i) for i in ids[:3]] == [CANCELED, CANCELED, COMPLETED]


class Swallower(LoopbackListener):
    """A TCP relay to cupsd that passes requests on, and answers only on its first
    `answered` connections: the later ones' answers are swallowed."""

    def __init__(self, host: str, port: int, answered: int) -> None:
        super().__init__()
        self.upstream, self.answered = (host, port), answered
        self.held: list[socket.socket] = []
        self.start()

    def serve(self, sock: socket.socket) -> None:
        up = socket.create_connection(self.upstream)
        self.held += [sock, up]
        if self.answered > 0:
            self.answered -= 1
            threading.Thread(target=_pipe, args=(up, sock), daemon=True).start()
        _pipe(sock, up)

    def close_open(self) -> None:
        for s in self.held:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)  # wakes the recv() on Linux
            s.close()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)


def test_a_purge_whose_answer_never_comes_is_an_unknown_outcome(
        fresh: CupsServer, doc: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The request went whole and cupsd ran it; its answer was lost at the deadline:
    "may or may not have been done", never a plain failure (a resume reads the queue)."""
    from adminkit.core.errors import OutcomeUnknown
    from adminkit.printing import ipp
    from adminkit.printing.cups_backend import CupsPrintServer
    from adminkit.printing.settings import PrintServerConfig

    monkeypatch.setattr(ipp, "ANSWER_SECONDS", 1.0)
    ids = held(fresh, doc, 3)
    relay = Swallower(fresh.host, fresh.port, answered=1)  # the finished jobs' question
    [entry] = fresh.profile()["print_servers"]
    server = CupsPrintServer(PrintServerConfig(**{**entry, "host": "127.0.0.1",
                                                  "port": relay.port}))
    try:
        with pytest.raises(OutcomeUnknown, match="may or may not") as unknown:
            server.purge("front-desk", ids)
    finally:
        relay.stop()
    assert "no answer within 1 s" in unknown.value.message
    assert [state(fresh, i) for i in ids] == [CANCELED] * 3  # it was done


def test_through_libcups_an_answer_that_never_comes_is_no_answer_after_sending(
        fresh: CupsServer, doc: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The path a server that wants a login takes (libcups, printing/ipp.py): the same
    lost answer is IppNoAnswer(sent=True), which the backend says as unknown."""
    from adminkit.printing import ipp

    monkeypatch.setattr(ipp, "ANSWER_SECONDS", 1.0)
    ids = held(fresh, doc, 2)
    relay = Swallower(fresh.host, fresh.port, answered=0)
    cups.setServer("127.0.0.1")
    cups.setPort(relay.port)
    try:
        with pytest.raises(ipp.IppNoAnswer) as lost:
            ipp.cancel_jobs(URI, ids, lambda _prompt: None)
    finally:
        cups.setServer(fresh.host)
        cups.setPort(fresh.port)
        relay.stop()
    assert lost.value.sent
    assert [state(fresh, i) for i in ids] == [CANCELED] * 2


def ctrl_c_before_the_third_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """A purge's requests carry two ids each; before the third is sent, the operator's
    Ctrl-C (SIGINT to this process, as the terminal sends it)."""
    import os
    import signal

    from adminkit.printing import ipp

    monkeypatch.setattr(ipp, "MAX_IDS", 2)
    real, requests = ipp.cancel_jobs_whole, []

    def ctrl_c_before_the_third(*args: object) -> bool:
        requests.append(args[-1])
        if len(requests) == 3:
            os.kill(os.getpid(), signal.SIGINT)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(ipp, "cancel_jobs_whole", ctrl_c_before_the_third)


def test_a_purge_interrupted_midway_names_the_jobs_it_cancelled(
        fresh: CupsServer, doc: Path, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    """Ctrl-C between two Cancel-Jobs requests of a large queue (two ids a request
    here): the result and its journal row say which jobs CUPS had already cancelled,
    and which request was under way, read back from cupsd."""
    import json

    from adminkit.core.config import Profile
    from adminkit.core.context import Context
    from adminkit.core.run import Run
    from adminkit.core.runner import Runner
    from adminkit.journal.hook import JournalHook
    from adminkit.journal.store import Journal
    from adminkit.printing.actions.queue import PurgeParams, PurgeQueue
    from adminkit.printing.idranges import id_ranges

    ids = held(fresh, doc, 6)
    ctrl_c_before_the_third_request(monkeypatch)
    ctx = Context(run=Run(command="queue purge front-desk"),
                  profile=Profile.of(name="own", **fresh.profile()))
    journal = Journal(tmp_path / "journal.db")
    try:
        [result] = Runner(ctx, [JournalHook(journal)]).execute(
            [PurgeQueue(PurgeParams(printer="front-desk"))]).results
        [row] = [dict(r) for r in journal.iter_all()
                 if r["kind"] == "action" and r["status"] != "started"]
    finally:
        ctx.close()
        journal.close()
    assert [state(fresh, i) for i in ids] == [CANCELED] * 4 + [HELD] * 2  # on the server
    done, underway = id_ranges(ids[:4]), id_ranges(ids[4:])
    assert (result.status.value, result.exit_code) == ("failed", 130), result
    assert f"4 job(s) of the purge were cancelled before it: {done}" in result.error
    assert f"the request under way for 2 more ({underway}) may or may not" in result.error
    assert result.data["cancelled_ids"] == done
    assert (row["status"], row["error"]) == ("failed", result.error)
    detail = json.loads(row["detail"])
    assert (detail["cancelled"], detail["cancelled_ids"]) == (4, done)
    assert (detail["underway_ids"], detail["error_type"]) == (underway, "Interrupted")


def test_a_purge_in_a_parallel_run_stops_at_ctrl_c_and_names_what_it_cancelled(
        fresh: CupsServer, doc: Path, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    """Ctrl-C while a purge runs in a worker thread (several actions in one run): the
    KeyboardInterrupt lands in the main thread, never in the purge. The purge sends no
    request after it, and its journal row names the jobs CUPS had cancelled."""
    import json
    import os
    import signal

    from adminkit.core.config import Profile
    from adminkit.core.context import Context
    from adminkit.core.run import Run
    from adminkit.core.runner import Runner
    from adminkit.journal.hook import JournalHook
    from adminkit.journal.store import Journal
    from adminkit.printing import ipp
    from adminkit.printing.actions.queue import PurgeParams, PurgeQueue
    from adminkit.printing.idranges import id_ranges

    monkeypatch.setattr(ipp, "MAX_IDS", 2)
    ids = held(fresh, doc, 6)
    real, requests = ipp.cancel_jobs_whole, []

    def ctrl_c_after_the_first(*args: object) -> bool:
        requests.append(args[-1])
        done = real(*args)  # type: ignore[arg-type]
        if len(requests) == 1:  # the operator's Ctrl-C, as the terminal sends it
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1.0)  # the main thread has heard it by now
        return done

    monkeypatch.setattr(ipp, "cancel_jobs_whole", ctrl_c_after_the_first)
    ctx = Context(run=Run(command="queue purge front-desk"),
                  profile=Profile.of(name="own", **fresh.profile()))
    journal = Journal(tmp_path / "journal.db")
    try:
        with pytest.raises(KeyboardInterrupt):
            Runner(ctx, [JournalHook(journal)]).execute(
                [PurgeQueue(PurgeParams(printer="front-desk")),
                 PurgeQueue(PurgeParams(printer="front-desk", user="nobody-here"))],
                workers=2)
        rows = [dict(r) for r in journal.iter_all()
                if r["kind"] == "action" and r["status"] != "started" and r["idx"] == 0]
    finally:
        ctx.close()
        journal.close()
    assert len(requests) == 1, requests  # nothing sent after the Ctrl-C
    assert [state(fresh, i) for i in ids] == [CANCELED] * 2 + [HELD] * 4
    [row] = rows
    assert row["status"] == "failed"
    detail = json.loads(row["detail"])
    assert (detail["cancelled"], detail["cancelled_ids"]) == (2, id_ranges(ids[:2]))
    assert detail["error_type"] == "Interrupted"


def _ctrl_c_at(step: int) -> Any:
    """A tracer that raises KeyboardInterrupt, as a Ctrl-C would, at the `step`-th line
    the purge (or its request sender) runs: every point between and inside its requests."""
    import sys

    seen = [0]

    def local(frame: Any, event: str, _arg: object) -> Any:
        if event == "line":
            seen[0] += 1
            if seen[0] == step:
                sys.settrace(None)
                raise KeyboardInterrupt
        return local

    def tracer(frame: Any, event: str, _arg: object) -> Any:
        code = frame.f_code
        if event == "call" and code.co_filename.endswith("cups_backend.py") and \
                code.co_name in ("purge", "send"):
            return local
        return None

    return tracer


def test_a_ctrl_c_at_any_line_of_the_purge_names_exactly_what_cups_cancelled(
        fresh: CupsServer, doc: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C at each line the purge runs in turn (two requests of two ids): either
    nothing was sent and the Ctrl-C goes on as it is, or the Interrupted failure names
    the jobs cancelled and the request under way, each id once, read back from cupsd."""
    import sys

    from adminkit.core.errors import Interrupted
    from adminkit.printing import ipp
    from adminkit.printing.idranges import id_ranges

    monkeypatch.setattr(ipp, "MAX_IDS", 2)
    server = backend(fresh)
    step, outcomes = 0, []
    while True:
        step += 1
        ids = held(fresh, doc, 4)
        caught: BaseException | None = None
        sys.settrace(_ctrl_c_at(step))
        try:
            left = server.purge("front-desk", ids)
        except (KeyboardInterrupt, Interrupted) as exc:
            caught = exc
        finally:
            sys.settrace(None)
        if caught is None:  # past the purge's last line: the whole range was tried
            assert left == [] and [state(fresh, i) for i in ids] == [CANCELED] * 4
            break
        outcomes.append(type(caught).__name__)
        done = [i for i in ids if state(fresh, i) == CANCELED]
        if isinstance(caught, KeyboardInterrupt):
            assert done == [], step  # nothing was sent: the Ctrl-C goes on as it is
            continue
        assert isinstance(caught, Interrupted)
        cancelled = caught.data["cancelled_ids"]
        named = _ids_of(cancelled) + _ids_of(caught.data.get("underway_ids", ""))
        assert len(named) == len(set(named)), (step, caught.message)  # each id once
        assert set(_ids_of(cancelled)) <= set(done) <= set(named), (step, caught.message)
        assert caught.data["cancelled"] == len(_ids_of(cancelled))
        assert id_ranges(_ids_of(cancelled)) == cancelled
    assert {"Interrupted", "KeyboardInterrupt"} <= set(outcomes), outcomes


def _ids_of(runs: str) -> list[int]:
    back: list[int] = []
    for run in runs.split(",") if runs else []:
        first, _, last = run.partition("-")
        back += range(int(first), int(last or first) + 1)
    return back
