"""Runner semantics: plan, guard, apply unless checking; failures, stop_on_error, hooks."""

from __future__ import annotations

from typing import Any

import pytest

from adminkit.core.action import Plan
from adminkit.core.context import Context
from adminkit.core.errors import ConnectionFailed, PolicyRefused, UsageError
from adminkit.core.result import Status
from adminkit.core.run import Run, new_run_id, os_login
from adminkit.core.runner import Runner
from adminkit.core.secrets import MASK, Secret
from tests.unit.toys import RecordingHook, ToyAction, ToyParams, toy

Calls = list[tuple[str, str]]


def _runner(check: bool = False, **kw: Any) -> Runner:
    return Runner(Context(run=Run(command="toy", check=check)), **kw)


def test_empty_plan_is_ok_and_not_applied() -> None:
    calls: Calls = []
    [result] = _runner().execute([toy("a", calls, changes=0)]).results
    assert result.status is Status.OK
    assert result.summary == "update item-a"  # the plan's own summary
    assert result.changes == []
    assert ("a", "apply") not in calls
    # guarded all the same: a protected target is refused whether or not it is as asked
    assert calls == [("a", "plan"), ("a", "guard")]


def test_empty_plan_without_summary_says_nothing_to_do() -> None:
    class Quiet(ToyAction):
        def plan(self, ctx: Context) -> Plan:
            return Plan()

    [result] = _runner().execute([Quiet(ToyParams(key="q"), [])]).results
    assert result.status is Status.OK
    assert result.summary == "toy.action item-q: nothing to do"


def test_changes_are_applied() -> None:
    calls: Calls = []
    [result] = _runner().execute([toy("a", calls, changes=2)]).results
    assert calls == [("a", "plan"), ("a", "guard"), ("a", "apply")]
    assert result.status is Status.CHANGED
    assert result.summary == "updated item-a"  # apply's summary wins over the plan's
    assert len(result.changes) == 2
    assert result.data == {"planned": "a", "applied": "a"}
    assert result.check is False
    assert result.exit_code == 0
    assert result.duration >= 0


def test_check_mode_plans_but_does_not_apply() -> None:
    calls: Calls = []
    [result] = _runner(check=True).execute([toy("a", calls, changes=2)]).results
    assert ("a", "apply") not in calls
    assert result.status is Status.CHANGED
    assert result.summary.startswith("would ")
    assert result.summary == "would update item-a"
    assert result.check is True
    assert len(result.changes) == 2


def test_check_mode_nothing_to_do_is_ok() -> None:
    [result] = _runner(check=True).execute([toy("a", [], changes=0)]).results
    assert result.status is Status.OK
    assert not result.summary.startswith("would")


def test_exception_in_plan_fails_that_action_and_the_run_continues() -> None:
    calls: Calls = []
    canary = Secret("runner-canary-71c0").reveal()
    report = _runner().execute([
        toy("a", calls, fail_in="plan", error=f"cannot read state\nserver said {canary}"),
        toy("b", calls),
    ])
    first, second = report.results
    assert first.status is Status.FAILED
    assert first.error_type == "RuntimeError"
    assert first.error == f"cannot read state\nserver said {MASK}"
    assert first.summary == "toy.action item-a: cannot read state"  # first line only
    assert first.exit_code == 1
    assert canary not in first.model_dump_json()
    assert second.status is Status.CHANGED
    assert ("a", "apply") not in calls
    assert ("b", "apply") in calls
    assert report.exit_code == 1
    assert report.status == "failed"


def test_exception_without_message_uses_the_type_name() -> None:
    [result] = _runner().execute([toy("a", [], fail_in="apply", error="")]).results
    assert result.status is Status.FAILED
    assert result.error == "RuntimeError"


def test_exception_in_apply_fails() -> None:
    calls: Calls = []
    [result] = _runner().execute([toy("a", calls, fail_in="apply", error="ldap: busy")]).results
    assert result.status is Status.FAILED
    assert result.error == "ldap: busy"
    assert result.changes == []  # a failed result carries no claimed changes


@pytest.mark.parametrize(("exc", "code"), [
    (PolicyRefused("Domain Admins is protected"), 4),
    (ConnectionFailed("dc1 unreachable"), 3),
    (UsageError("bad input"), 2),
])
def test_adminkit_errors_keep_their_exit_code(exc: Exception, code: int) -> None:
    report = _runner().execute([toy("a", [], fail_in="plan", exc=exc)])
    [result] = report.results
    assert result.status is Status.FAILED
    assert result.exit_code == code
    assert result.error_type == type(exc).__name__
    assert report.exit_code == code


def test_guard_refusal_prevents_apply() -> None:
    calls: Calls = []
    report = _runner().execute([
        toy("a", calls, fail_in="guard", exc=PolicyRefused("krbtgt is protected")),
    ])
    [result] = report.results
    assert calls == [("a", "plan"), ("a", "guard")]
    assert result.status is Status.FAILED
    assert result.exit_code == 4
    assert result.summary == "toy.action item-a: krbtgt is protected"


def test_guard_runs_in_check_mode_too() -> None:
    calls: Calls = []
    [result] = _runner(check=True).execute([
        toy("a", calls, fail_in="guard", exc=PolicyRefused("protected")),
    ]).results
    assert result.status is Status.FAILED
    assert result.exit_code == 4


def test_stop_on_error_skips_the_rest() -> None:
    calls: Calls = []
    events: list[tuple[str, str, Any]] = []
    report = _runner(stop_on_error=True, hooks=[RecordingHook("h", events)]).execute([
        toy("a", calls), toy("b", calls, fail_in="apply"), toy("c", calls), toy("d", calls),
    ])
    assert [r.status for r in report.results] == [Status.CHANGED, Status.FAILED,
                                                  Status.SKIPPED, Status.SKIPPED]
    assert {k for k, _ in calls} == {"a", "b"}  # c and d were never planned
    assert "earlier action failed" in report.results[2].summary
    assert report.results[3].target == "item-d"
    # skipped actions are still reported to hooks (and so journaled)
    assert [e[2] for e in events if e[1] == "action_finished"] == [
        (0, "changed"), (1, "failed"), (2, "skipped"), (3, "skipped")]
    assert report.exit_code == 1


def test_without_stop_on_error_everything_runs() -> None:
    calls: Calls = []
    report = _runner().execute([toy("a", calls, fail_in="plan"), toy("b", calls, fail_in="apply"),
                                toy("c", calls)])
    assert [r.status for r in report.results] == [Status.FAILED, Status.FAILED, Status.CHANGED]
    assert report.count(Status.FAILED) == 2


def test_hooks_are_called_in_order() -> None:
    events: list[tuple[str, str, Any]] = []
    runner = _runner(hooks=[RecordingHook("first", events), RecordingHook("second", events)])
    run_id = runner.run.id
    runner.execute([toy("a", []), toy("b", [], changes=0), toy("c", [], fail_in="plan")])
    assert events == [
        ("first", "run_started", run_id),
        ("second", "run_started", run_id),
        ("first", "action_finished", (0, "changed")),
        ("second", "action_finished", (0, "changed")),
        ("first", "action_finished", (1, "ok")),
        ("second", "action_finished", (1, "ok")),
        ("first", "action_finished", (2, "failed")),
        ("second", "action_finished", (2, "failed")),
        ("first", "run_finished", "failed"),
        ("second", "run_finished", "failed"),
    ]


def test_each_action_is_reported_before_the_next_starts() -> None:
    calls: Calls = []

    class Marker(RecordingHook):
        def action_finished(self, run: Run, index: int, result: Any) -> None:
            calls.append((str(index), "reported"))

    _runner(hooks=[Marker("m", [])]).execute([toy("a", calls), toy("b", calls)])
    assert calls == [("a", "plan"), ("a", "guard"), ("a", "apply"), ("0", "reported"),
                     ("b", "plan"), ("b", "guard"), ("b", "apply"), ("1", "reported")]


def test_run_finished_is_called_even_if_a_hook_fails() -> None:
    events: list[tuple[str, str, Any]] = []

    class Broken(RecordingHook):
        def action_finished(self, run: Run, index: int, result: Any) -> None:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        _runner(hooks=[Broken("b", events)]).execute([toy("a", [])])
    assert events[-1] == ("b", "run_finished", "changed")


def test_done_indexes_are_skipped_and_not_reported() -> None:
    calls: Calls = []
    events: list[tuple[str, str, Any]] = []
    runner = _runner(done={0, 2}, hooks=[RecordingHook("h", events)])
    report = runner.execute([toy("a", calls), toy("b", calls), toy("c", calls)])
    assert [r.status for r in report.results] == [Status.SKIPPED, Status.CHANGED, Status.SKIPPED]
    assert {k for k, _ in calls} == {"b"}
    assert f"done in an earlier attempt of {runner.run.id}" in report.results[0].summary
    assert [e[2] for e in events if e[1] == "action_finished"] == [(1, "changed")]


def test_debug_prints_the_traceback_of_an_unexpected_error(
        capsys: pytest.CaptureFixture[str]) -> None:
    _runner(debug=True).execute([toy("a", [], fail_in="apply", error="kaboom")])
    assert "Traceback" in capsys.readouterr().err
    _runner(debug=False).execute([toy("a", [], fail_in="apply", error="kaboom")])
    assert "Traceback" not in capsys.readouterr().err


def test_a_target_that_raises_becomes_a_question_mark() -> None:
    class NoTarget(ToyAction):
        def target(self) -> str:
            raise LookupError("no login yet")

    [result] = _runner().execute([NoTarget(ToyParams(key="a"), [])]).results
    assert result.target == "?"
    assert result.status is Status.CHANGED


def test_target_is_redacted() -> None:
    value = Secret("target-canary-55aa").reveal()

    class Leaky(ToyAction):
        def target(self) -> str:
            return f"user {value}"

    [result] = _runner().execute([Leaky(ToyParams(key="a"), [])]).results
    assert result.target == f"user {MASK}"


def test_context_resources_are_shared_and_closed() -> None:
    ctx = Context(run=Run(command="x"))
    made: list[int] = []
    closed: list[int] = []

    def factory() -> int:
        made.append(1)
        return len(made)

    assert ctx.resource("conn", factory, close=closed.append) == 1
    assert ctx.resource("conn", factory, close=closed.append) == 1
    assert made == [1]
    ctx.close()
    assert closed == [1]
    assert ctx.resource("conn", factory) == 2  # a fresh one after close


def test_context_close_survives_a_failing_closer() -> None:
    ctx = Context(run=Run(command="x"))
    closed: list[str] = []

    def bad(_: object) -> None:
        raise OSError("already gone")

    ctx.resource("a", lambda: "a", close=closed.append)
    ctx.resource("b", lambda: "b", close=bad)
    ctx.close()
    assert closed == ["a"]


def test_context_require_profile() -> None:
    with pytest.raises(UsageError, match="needs a profile"):
        Context(run=Run(command="x")).require_profile()


def test_run_defaults() -> None:
    run = Run(command="x", check=True)
    assert run.mode == "check"
    # ADMINKIT_OPERATOR from the test environment, and the OS login that claimed it
    login = os_login()
    assert run.operator == ("tester" if login == "tester" else f"tester (login {login})")
    assert Run(command="x").mode == "apply"
    assert run.id.startswith("R-")
    assert new_run_id() != new_run_id()
