"""Hostile review (rev9b) of the purge's finished-jobs question, on the tests'
private cupsd (tests/integration/owncups.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from adminkit.lab.cups import CupsServer
from tests.integration.test_printing_hostile import backend, doc, held, state

pytestmark = pytest.mark.integration
cups = pytest.importorskip("cups")
HELD, CANCELED, COMPLETED = 4, 7, 9
__all__ = ["doc"]


def test_a_job_moved_out_of_the_queue_meanwhile_is_not_cancelled(
        fresh: CupsServer, doc: Path) -> None:
    ids = held(fresh, doc, 3)
    fresh.connection().moveJob(job_id=ids[1], job_printer_uri=
                               "ipp://localhost/printers/back-office")
    left = backend(fresh).purge("front-desk", ids)
    assert state(fresh, ids[1]) == HELD  # on back-office, nobody asked to purge it
    assert left == [ids[1]]
    assert [state(fresh, i) for i in (ids[0], ids[2])] == [CANCELED, CANCELED]


def test_cupsd_stopped_between_requests_the_error_names_the_jobs_cancelled(
        fresh: CupsServer, doc: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A purge in several requests (MAX_IDS) whose server stops after the first: exit 3,
    and the error (the journal's text) says which jobs that first request cancelled,
    not only that the server does not answer."""
    from adminkit.core.errors import ConnectionFailed
    from adminkit.printing import ipp

    ids = held(fresh, doc, 4)
    monkeypatch.setattr(ipp, "MAX_IDS", 2)
    real = ipp.cancel_jobs_whole

    def then_stop(*args: object, **kw: object) -> bool:
        answer = real(*args, **kw)  # type: ignore[arg-type]
        fresh.stop()  # cupsd goes down right after it took the first request
        return answer

    monkeypatch.setattr(ipp, "cancel_jobs_whole", then_stop)
    try:
        with pytest.raises(ConnectionFailed) as failed:
            backend(fresh).purge("front-desk", ids)
    finally:
        fresh.start()
        fresh.wait_ready()
    assert f"{ids[0]}-{ids[1]}" in failed.value.message
    assert "cancelled" in failed.value.message
    assert [state(fresh, i) for i in ids] == [CANCELED, CANCELED, HELD, HELD]


def test_a_job_that_prints_while_an_earlier_request_runs_is_left_out_and_named(
        fresh: CupsServer, doc: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A purge in several requests: the printer takes the next pending job while cupsd
    cancels the first request's (10,000 jobs: seconds). One that printed by the time its
    own request goes would be rewritten as cancelled: it is asked about per request."""
    from adminkit.printing import ipp
    from tests.integration.test_purge_cancel_jobs_cupsd import printed

    ids = held(fresh, doc, 4)
    monkeypatch.setattr(ipp, "MAX_IDS", 2)
    real = ipp.cancel_jobs_whole
    calls: list[object] = []

    def then_print(*args: object, **kw: object) -> bool:
        answer = real(*args, **kw)  # type: ignore[arg-type]
        if not calls:
            printed(fresh, ids[2])  # the printer moved on to the next request's job
        calls.append(args)
        return answer

    monkeypatch.setattr(ipp, "cancel_jobs_whole", then_print)
    left = backend(fresh).purge("front-desk", ids)
    assert [state(fresh, i) for i in ids] == [CANCELED, CANCELED, COMPLETED, CANCELED]
    assert left == [ids[2]]
