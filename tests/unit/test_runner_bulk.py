"""Bulk runs: looking up for all rows at once, reusing the validation's plans, applying
several rows of one class together, and handing connections from one pass to the next."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, ClassVar

from adminkit.automation.service import _unsettled
from adminkit.core.action import Action, Applied, Plan
from adminkit.core.context import Context
from adminkit.core.errors import ConnectionFailed, Interrupted, ValidationError
from adminkit.core.result import Status
from adminkit.core.run import Run
from adminkit.core.runner import Runner
from adminkit.journal.hook import JournalHook
from adminkit.journal.store import Journal
from tests.unit.conftest import Env
from tests.unit.toys import RecordingHook, ToyAction, ToyParams, toy

Calls = list[tuple[str, str]]


def _ctx(check: bool = False) -> Context:
    return Context(run=Run(command="toy", check=check))


class Batched(ToyAction):
    """Applies up to three rows per call; rows whose key starts with "x" fail there."""

    name = "toy.batched"
    together: ClassVar[int] = 3
    batches: ClassVar[list[list[str]]] = []
    prepared: ClassVar[list[list[str]]] = []
    prepare_error: ClassVar[Exception | None] = None

    @classmethod
    def prepare(cls, ctx: Context, actions: Sequence[Action[Any]]) -> None:
        cls.prepared.append([a.params.key for a in actions])
        if cls.prepare_error is not None:
            raise cls.prepare_error

    @classmethod
    def apply_many(cls, ctx: Context, items: Sequence[tuple[Action[Any], Plan]]
                   ) -> list[Applied | Exception]:
        cls.batches.append([a.params.key for a, _ in items])
        return [ValidationError(f"{a.params.key} refused") if a.params.key.startswith("x")
                else Applied(summary=f"batched {a.params.key}") for a, _ in items]


def batched(key: str, calls: Calls, **kw: Any) -> Batched:
    return Batched(ToyParams(key=key, **kw), calls)


def _reset() -> None:
    Batched.batches, Batched.prepared, Batched.prepare_error = [], [], None


def test_rows_of_a_class_are_applied_together_and_each_keeps_its_outcome() -> None:
    _reset()
    calls: Calls = []
    events: list[tuple[str, str, Any]] = []
    rows = [batched(k, calls) for k in ("a", "b", "xc", "d", "e", "f", "g")]
    report = Runner(_ctx(), [RecordingHook("h", events)]).execute(rows, workers=2)
    # 7 rows on 2 workers: units of 3, 3 and 1; a unit of one row goes through apply
    assert sorted(Batched.batches) == [["a", "b", "xc"], ["d", "e", "f"]]
    assert [k for k, phase in calls if phase == "apply"] == ["g"]
    assert [r.status for r in report.results] == [Status.CHANGED, Status.CHANGED,
                                                  Status.FAILED] + [Status.CHANGED] * 4
    assert report.results[0].summary == "batched a"
    assert report.results[2].error == "xc refused" and report.results[2].exit_code == 2
    assert sorted(e[2][0] for e in events if e[1] == "action_finished") == list(range(7))


def test_a_few_rows_are_spread_over_the_workers_instead_of_batched_on_one() -> None:
    _reset()
    calls: Calls = []
    rows = [batched(k, calls) for k in "abcdefgh"]
    Runner(_ctx()).execute(rows, workers=4)
    assert sorted(Batched.batches) == [["a", "b"], ["c", "d"], ["e", "f"], ["g", "h"]]


def test_classes_are_not_mixed_in_one_batch() -> None:
    _reset()
    calls: Calls = []
    rows: list[Action[Any]] = [batched("a", calls), toy("t", calls), batched("b", calls)]
    report = Runner(_ctx()).execute(rows, workers=1)
    assert Batched.batches == []  # a, t, b: three units of one, each through apply
    assert [r.status for r in report.results] == [Status.CHANGED] * 3
    assert [k for k, phase in calls if phase == "apply"] == ["a", "t", "b"]


def test_check_mode_never_applies_a_batch() -> None:
    _reset()
    report = Runner(_ctx(check=True)).execute([batched(k, []) for k in "abcdef"], workers=2)
    assert Batched.batches == []
    assert all(r.status is Status.CHANGED and r.check for r in report.results)


def test_prepare_sees_every_row_to_plan_once() -> None:
    _reset()
    rows = [batched(k, []) for k in "abcd"]
    Runner(_ctx(), done={1}).execute(rows, workers=2)
    assert Batched.prepared == [["a", "c", "d"]]


def test_a_failing_prepare_leaves_each_row_to_plan_on_its_own() -> None:
    _reset()
    Batched.prepare_error = ConnectionFailed("directory gone")
    report = Runner(_ctx()).execute([batched(k, []) for k in "abc"], workers=2)
    assert [r.status for r in report.results] == [Status.CHANGED] * 3


def test_plans_of_the_validation_pass_are_applied_without_planning_again() -> None:
    calls: Calls = []
    rows = [toy(k, calls) for k in "abc"]
    checker = Runner(_ctx(check=True), keep_plans=True)
    checked = checker.execute(rows, workers=2)
    assert checker.plans is not None and sorted(checker.plans) == [0, 1, 2]
    assert all(r.check for r in checked.results)
    calls.clear()
    report = Runner(_ctx(), planned=checker.plans).execute(rows, workers=2)
    assert sorted(calls) == [("a", "apply"), ("b", "apply"), ("c", "apply")]
    assert [r.data for r in report.results] == [{"planned": k, "applied": k} for k in "abc"]


def test_a_row_without_a_plan_from_validation_is_planned_then() -> None:
    calls: Calls = []
    rows = [toy("a", calls), toy("b", calls)]
    plan = rows[0].plan(_ctx())
    calls.clear()
    Runner(_ctx(), planned={0: plan}).execute(rows, workers=1)
    assert ("a", "plan") not in calls and ("b", "plan") in calls


def test_handover_moves_open_resources_to_the_next_run() -> None:
    closed: list[str] = []
    first = _ctx(check=True)
    conn = first.resource("cache", lambda: object(), lambda _v: closed.append("conn"))
    second = first.handover(Run(command="toy"))
    first.close()
    assert closed == []  # no longer the first context's to close
    assert second.resource("cache", lambda: object()) is conn
    assert not second.check
    second.close()
    assert closed == ["conn"]


def test_resources_of_different_keys_are_made_at_the_same_time_and_each_once() -> None:
    """Workers open their connections side by side; one key is still made only once."""
    ctx = _ctx()
    inside = threading.Barrier(2, timeout=5)  # both factories must run at once to pass
    made: list[str] = []

    def factory(key: str) -> object:
        made.append(key)
        if key in ("a", "b"):
            inside.wait()
        return object()

    results: dict[str, object] = {}

    def get(key: str) -> None:
        results[f"{key}{threading.get_ident()}"] = ctx.resource(key, lambda: factory(key))

    threads = [threading.Thread(target=get, args=(k,)) for k in ("a", "b", "c", "c", "c")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(made) == ["a", "b", "c"]
    assert len({id(v) for k, v in results.items() if k.startswith("c")}) == 1


class Exploding(Batched):
    """apply_many itself breaks (a connection lost between the accounts and the groups)."""

    name = "toy.exploding"

    @classmethod
    def apply_many(cls, ctx: Context, items: Sequence[tuple[Action[Any], Plan]]
                   ) -> list[Applied | Exception]:
        raise OSError("connection reset while writing the groups")


def test_a_unit_that_breaks_fails_its_rows_and_the_run_goes_on() -> None:
    events: list[tuple[str, str, Any]] = []
    rows = [Exploding(ToyParams(key=k), []) for k in "abcdef"]
    report = Runner(_ctx(), [RecordingHook("h", events)]).execute(rows, workers=2)
    assert [r.status for r in report.results] == [Status.FAILED] * 6
    assert all("may be partly done" in (r.error or "") for r in report.results)
    assert "connection reset" in (report.results[0].error or "")
    assert len([e for e in events if e[1] == "action_finished"]) == 6
    assert events[-1] == ("h", "run_finished", "failed")


class CutShort(Batched):
    """Ctrl-C came as the unit began writing: no connection is handed out any more."""

    name = "toy.cut_short"

    @classmethod
    def apply_many(cls, ctx: Context, items: Sequence[tuple[Action[Any], Plan]]
                   ) -> list[Applied | Exception]:
        raise Interrupted("toy t1: the run was interrupted")


def test_a_unit_cut_short_by_ctrl_c_is_left_for_the_resume_to_settle(env: Env) -> None:
    """Its rows were announced and may be partly written: they fail as Interrupted (not
    as an ordinary failure, which a resume would plan afresh and report `ok` if it finds
    them done), so the resume reads the system and journals what it finds as this run's.
    A row that Ctrl-C stopped while planning wrote nothing: skipped."""
    journal = Journal(env.journal)
    ctx = _ctx()
    rows: list[Action[Any]] = [CutShort(ToyParams(key=k), []) for k in "abc"]
    stop = Interrupted("toy t1: the run was interrupted")
    rows += [toy("d", [], fail_in="plan", exc=stop), toy("e", [], fail_in="apply", exc=stop)]
    report = Runner(ctx, [JournalHook(journal)]).execute(rows, workers=1)
    assert [r.status for r in report.results] == [Status.FAILED] * 3 + [Status.SKIPPED,
                                                                     Status.FAILED]
    assert {r.error_type for r in report.results if r.failed} == {"Interrupted"}
    assert "may be partly done" not in (report.results[0].error or "")
    assert "interrupted" in report.results[3].summary
    assert _unsettled(journal, ctx.run.id) == {0, 1, 2, 4}
    journal.close()


def test_rows_done_earlier_say_so_in_a_bulk_report() -> None:
    from adminkit.core.result import Result

    earlier = Result(action="toy.action", target="item-a", status=Status.CHANGED,
                     summary="updated item-a")
    report = Runner(_ctx(), done={0: earlier}).execute([toy("a", []), toy("b", [])],
                                                       workers=2)
    assert report.results[0].summary == "updated item-a (done earlier)"
    assert report.results[1].status is Status.CHANGED


def test_stop_on_error_takes_rows_one_at_a_time() -> None:
    _reset()
    calls: Calls = []
    rows = [batched(k, calls) for k in ("a", "xb", "c", "d")]
    report = Runner(_ctx(), stop_on_error=True).execute(rows, workers=2)
    assert Batched.batches == []  # no unit of several rows
    assert [r.status for r in report.results][:1] == [Status.CHANGED]
