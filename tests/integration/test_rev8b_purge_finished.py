"""A purge's jobs that finish between its plan and its apply (printing/cups_backend.py
`purge`), on the tests' private cupsd (tests/integration/owncups.py).

cupsd keeps a finished job as history, so Cancel-Jobs with its id is not refused as "no
such job": the purge counted it as cancelled and the journal said nothing finished
meanwhile, whatever cupsd did to it. What a person reads back must match: a job that
printed is not one the purge cancelled.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from adminkit.lab.cups import CupsServer
from tests.integration.test_printing_hostile import backend, doc, held, state

pytestmark = pytest.mark.integration
cups = pytest.importorskip("cups")
COMPLETED, CANCELED = 9, 7
__all__ = ["doc"]


def test_a_job_that_printed_after_the_plan_is_not_counted_cancelled(
        fresh: CupsServer, doc: Path) -> None:
    ids = held(fresh, doc, 3)
    conn = fresh.connection()
    conn.setJobHoldUntil(ids[0], "no-hold")  # it prints now, after the plan chose it
    for _ in range(600):
        if state(fresh, ids[0]) >= CANCELED:
            break
        time.sleep(0.05)
    printed = state(fresh, ids[0])
    assert printed == COMPLETED
    done = backend(fresh).purge("front-desk", ids)
    after = [state(fresh, i) for i in ids]
    assert after[1:] == [CANCELED, CANCELED]
    assert after[0] == COMPLETED, "the purge rewrote a printed job as cancelled"
    assert done == [ids[0]], "a job that printed was counted as cancelled"
