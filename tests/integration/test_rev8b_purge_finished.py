"""A purge's jobs that finish between its plan and its apply (printing/cups_backend.py
`purge`), on a cupsd of this module's own (127.0.3.248).

cupsd keeps a finished job as history, so Cancel-Jobs with its id is not refused as "no
such job": the purge counted it as cancelled and the journal said nothing finished
meanwhile, whatever cupsd did to it. What a person reads back must match: a job that
printed is not one the purge cancelled.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from adminkit.lab.cups import CupsServer, extra_instance
from tests.integration.owncups import running
from tests.integration.test_printing_hostile import backend, doc, held, state

pytestmark = pytest.mark.integration
cups = pytest.importorskip("cups")
NUMBER = 248  # 127.0.3.248: no other lab server's address
COMPLETED, CANCELED = 9, 7
__all__ = ["doc"]


@pytest.fixture(scope="module")
def own_cups(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CupsServer]:
    yield from running(extra_instance(tmp_path_factory.mktemp("rev8b-lab"), NUMBER))


def test_a_job_that_printed_after_the_plan_is_not_counted_cancelled(
        own_cups: CupsServer, doc: Path) -> None:
    own_cups.reset()
    ids = held(own_cups, doc, 3)
    conn = own_cups.connection()
    conn.setJobHoldUntil(ids[0], "no-hold")  # it prints now, after the plan chose it
    for _ in range(600):
        if state(own_cups, ids[0]) >= CANCELED:
            break
        time.sleep(0.05)
    printed = state(own_cups, ids[0])
    assert printed == COMPLETED
    done = backend(own_cups).purge("front-desk", ids)
    after = [state(own_cups, i) for i in ids]
    assert after[1:] == [CANCELED, CANCELED]
    assert after[0] == COMPLETED, "the purge rewrote a printed job as cancelled"
    assert done == [ids[0]], "a job that printed was counted as cancelled"
