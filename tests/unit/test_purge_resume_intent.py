"""A resumed `queue purge` cancels only the jobs its interrupted attempt chose: the plan
keeps their ids in its intent row (`Plan.intent`), `settle` plans exactly those still
pending, and the bulk limit is checked against that set. Against an in-memory print
server; the real ones: tests/integration/test_purge_resume.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adminkit.core.config import Profile
from adminkit.core.context import Context
from adminkit.core.result import Result
from adminkit.core.run import Run
from adminkit.core.runner import Runner
from adminkit.printing.actions.queue import PurgeParams, PurgeQueue
from adminkit.printing.idranges import MAX_PARSED, id_ranges, parse_id_ranges
from adminkit.printing.server import Job, Printer, SpoolerDown
from tests.unit.conftest import Env


class Queue:
    """One queue's pending jobs; what a purge asked to cancel."""

    def __init__(self, *ids: int, owner: str = "jnovak") -> None:
        self.jobs = {i: owner for i in ids}
        self.purged: list[list[int]] = []
        self.down = False  # the spooler does not answer
        self.created: dict[int, datetime] = {}  # when a job was submitted, where known


    def printer(self, name: str) -> Printer:
        return Printer(name=name, state="idle", accepting=True, jobs=len(self.jobs))

    def jobs_of(self, printer: str, *, brief: bool = False) -> list[Job]:
        if self.down:
            raise SpoolerDown("the spooler does not answer")
        return [Job(i, printer, owner, "doc", 1, "held", self.created.get(i))
                for i, owner in sorted(self.jobs.items())]

    def purge(self, printer: str, job_ids: list[int]) -> list[int]:
        self.purged.append(list(job_ids))
        for i in job_ids:
            self.jobs.pop(i, None)
        return []


@pytest.fixture
def queue(monkeypatch: pytest.MonkeyPatch) -> Queue:
    found = Queue()

    class Server:
        printer = staticmethod(found.printer)
        jobs = staticmethod(found.jobs_of)
        purge = staticmethod(found.purge)

    monkeypatch.setattr(PurgeQueue, "server", lambda self, ctx: Server())
    return found


def resumed(intent: dict[str, Any] | None, **params: Any) -> Result:
    """The purge's row resumed as unsettled (its intent row kept `intent`)."""
    ctx = Context(run=Run(command="queue purge front-desk"),
                  profile=Profile.of(name="t", policy={"bulk_limit": 5}))
    try:
        runner = Runner(ctx, unsettled=[0], intents={0: intent} if intent else {})
        [result] = runner.execute([PurgeQueue(PurgeParams(printer="front-desk", **params))]
                                  ).results
    finally:
        ctx.close()
    assert isinstance(result, Result)
    return result


def test_the_plan_keeps_the_chosen_ids_as_its_intent(queue: Queue) -> None:
    queue.jobs = {3: "a", 4: "a", 5: "b", 9: "a"}
    ctx = Context(run=Run(command="x"), profile=Profile.of(name="t"))
    plan = PurgeQueue(PurgeParams(printer="front-desk", user="a")).plan(ctx)
    assert plan.intent == {"ids": "3-4,9"} and plan.data["ids"] == "3-4,9"


def test_only_the_chosen_jobs_still_pending_are_purged(queue: Queue) -> None:
    queue.jobs = dict.fromkeys([3, 5, 9], "jnovak")  # 2 left already; 9 came after Ctrl-C
    result = resumed({"ids": "2-3,5"})
    assert queue.purged == [[3, 5]] and list(queue.jobs) == [9]
    assert result.status.value == "changed", result
    assert (result.data["ids"], result.data["chosen_ids"]) == ("3,5", "2-3,5")


def test_none_left_is_done_by_the_interrupted_attempt(queue: Queue) -> None:
    queue.jobs = {9: "jnovak"}
    result = resumed({"ids": "2-3"})
    assert queue.purged == [] and list(queue.jobs) == [9]
    assert result.status.value == "changed", result
    assert "none of the 2 job(s)" in result.summary
    assert "done by the interrupted attempt" in result.summary
    assert result.data == {"chosen_ids": "2-3"}


T0 = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)


def test_the_intent_keeps_when_the_newest_chosen_job_was_submitted(queue: Queue) -> None:
    queue.jobs = {3: "a", 4: "a"}
    queue.created = {3: T0 - timedelta(minutes=5), 4: T0}
    ctx = Context(run=Run(command="x"), profile=Profile.of(name="t"))
    plan = PurgeQueue(PurgeParams(printer="front-desk")).plan(ctx)
    assert plan.intent == {"ids": "3-4", "newest": T0.isoformat()}


def test_a_job_that_took_a_chosen_id_since_is_left(queue: Queue) -> None:
    """A Windows spooler restarted with its queues empty numbers jobs from 2 again: job 2
    is a new one (submitted after every chosen job), job 3 the chosen one still held."""
    queue.jobs = {2: "alice", 3: "jnovak"}
    queue.created = {2: T0 + timedelta(minutes=2), 3: T0 - timedelta(seconds=1)}
    result = resumed({"ids": "2-4", "newest": T0.isoformat()})
    assert queue.purged == [[3]] and list(queue.jobs) == [2]
    assert result.status.value == "changed", result
    assert result.data["ids"] == "3"


def test_an_intent_without_a_newest_time_trusts_the_ids(queue: Queue) -> None:
    """A row written before adminkit kept the time (and a server that gives none)."""
    queue.jobs = {2: "alice"}
    queue.created = {2: T0 + timedelta(minutes=2)}
    resumed({"ids": "2"})
    assert queue.purged == [[2]]


def test_an_unreadable_newest_time_purges_nothing(queue: Queue) -> None:
    queue.jobs = {2: "jnovak"}
    result = resumed({"ids": "2", "newest": "yesterday"})
    assert result.status.value == "failed" and result.error_type == "JournalError", result
    assert "which is no time" in (result.error or "") and queue.purged == []


def test_the_bulk_limit_counts_the_chosen_jobs_only(queue: Queue) -> None:
    # 40 jobs of others submitted after the Ctrl-C: a fresh plan would be refused
    queue.jobs = {1: "a", 2: "b", **dict.fromkeys(range(100, 140), "c")}
    result = resumed({"ids": "1-2"})
    assert result.status.value == "changed", result
    assert queue.purged == [[1, 2]] and len(queue.jobs) == 40


@pytest.mark.parametrize("intent", [{"ids": "1-x"}, {"ids": 12}, {"ids": None},
                                    {"ids": "2-1"}, {"other": "1"}])
def test_an_unreadable_intent_purges_nothing(queue: Queue, intent: dict[str, Any]) -> None:
    queue.jobs = {1: "jnovak", 9: "jnovak"}
    result = resumed(intent)
    assert result.status.value == "failed" and result.error_type == "JournalError", result
    assert "does not name its jobs readably" in (result.error or "")
    assert queue.purged == [] and sorted(queue.jobs) == [1, 9]


@pytest.mark.parametrize("ids", [[], [7], [1, 2, 3], [5, 1, 2, 3, 9, 10, 12],
                                 [*range(1, 1501), *range(1502, 2001)], [2**31 - 1],
                                 list(range(1, 4001, 2))])
def test_parsed_back_exactly(ids: list[int]) -> None:
    assert parse_id_ranges(id_ranges(ids)) == sorted(set(ids))


@pytest.mark.parametrize("text", [
    " 1", "1 ", "01", "+1", "-1", "1-", "-", "1--2", "1,,2", ",1", "1,", "3-2", "2-2",
    "1_0", "١", "0", "2147483648", "1-2147483648", "5,3", "1-3,2", "1-3,4", "3,4",
    "99999999999", "1;2", "1\n",
])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"^has "):
        parse_id_ranges(text)


def test_the_count_is_capped_before_a_run_is_expanded() -> None:
    with pytest.raises(ValueError, match="more than"):
        parse_id_ranges("1-2000000000")  # would be 2e9 ints
    assert len(parse_id_ranges(f"1-{MAX_PARSED}")) == MAX_PARSED
    with pytest.raises(ValueError, match="more than 3 ids"):
        parse_id_ranges("1-2,4-5", limit=3)
    with pytest.raises(ValueError, match="characters long"):
        parse_id_ranges("1," * MAX_PARSED * 12)
    with pytest.raises(ValueError, match="not a list"):
        parse_id_ranges(["1"])


def test_a_resume_that_failed_before_writing_leaves_the_purge_unsettled(
        queue: Queue, env: Env) -> None:
    """Killed after its intent row; the first resume cannot list the queue (the spooler
    is down): the second resume must still cancel only the jobs the first attempt chose,
    not purge afresh (job 9 came after the kill)."""
    from adminkit.automation.service import _intents, _unsettled
    from adminkit.journal.hook import JournalHook
    from adminkit.journal.store import Journal

    journal = Journal(env.journal)
    profile = Profile.of(name="t", policy={"bulk_limit": 5})

    def attempt(run: Run) -> Result:
        ctx = Context(run=run, profile=profile)
        try:
            unsettled = _unsettled(journal, run.id) if run.resumed else set()
            runner = Runner(ctx, [JournalHook(journal)], unsettled=unsettled,
                            intents=_intents(journal, run.id, unsettled))
            [result] = runner.execute([PurgeQueue(PurgeParams(printer="front-desk"))]).results
        finally:
            ctx.close()
        assert isinstance(result, Result)
        return result

    def resuming(run: Run) -> Run:
        again = Run(command=run.command)
        again.id, again.resumed = run.id, True
        return again

    try:
        first = Run(command="queue purge front-desk")
        JournalHook(journal).run_started(first)
        JournalHook(journal).actions_starting(first, [(0, "queue.purge", "front-desk",
                                                       "purge 2 job(s)", {"ids": "1-2"})])
        queue.jobs = dict.fromkeys([1, 2, 9], "jnovak")  # SIGKILLed before its request
        queue.down = True
        assert attempt(resuming(first)).error_type == "SpoolerDown"
        queue.down = False
        result = attempt(resuming(first))
        assert result.status.value == "changed", result
        assert queue.purged == [[1, 2]] and list(queue.jobs) == [9]
    finally:
        journal.close()
