"""A paged read the server never ends stops: a server (or a proxy's cache in front of it)
that ignores the offset answers the same full page again and again, never the last one.
RT's reader stopped at MAX_PAGES; Jira's, GLPI's and ServiceNow's read on without end
(the outbox's find_note, `ticket show`, approvals), holding memory and the delivery.

The fakes answer the same page REPEATS times, then as the vendor does: without the guard
the read ends there and finds nothing, with it the read fails as a connection trouble
(the note is retried later) after the second page."""

from __future__ import annotations

import pytest

from adminkit.core.errors import ConnectionFailed
from adminkit.tickets.glpi import Glpi
from adminkit.tickets.jira import Jira
from adminkit.tickets.servicenow import ServiceNow
from tests.fakes.glpi import PREFIX, FakeGlpi
from tests.fakes.httpserver import json_reply
from tests.fakes.jira import FakeJira
from tests.fakes.servicenow import FakeServiceNow
from tests.fakes.ticketfake import profile_for

REPEATS = 20


def test_jira_comments_that_never_reach_the_last_page_stop(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeJira(pat="jira-pat-7") as fake:
        fake.issue("HD-12", "Please block jdoe")
        page = {"size": 1, "start": 0, "limit": 50, "isLastPage": False,
                "values": [{"id": "1", "body": "hello", "public": False}]}
        fake.fail(200, times=REPEATS, method="GET",
                  path="/rest/servicedeskapi/request/HD-12/comment",
                  reply=json_reply(200, page))
        jira = Jira(profile_for(fake, monkeypatch))
        try:
            with pytest.raises(ConnectionFailed, match="same page twice"):
                jira.find_note("HD-12", "adminkit:R-1:0;")
        finally:
            jira.close()
        assert len(fake.seen("GET", "/rest/servicedeskapi/request/HD-12/comment")) == 2


def test_glpi_followups_that_never_reach_the_last_page_stop(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeGlpi() as fake:
        ticket = fake.add_ticket()
        page = [{"id": n, "items_id": ticket, "content": "hello", "is_private": 1}
                for n in range(1, 101)]  # a full page, no Content-Range
        fake.fail(200, times=REPEATS, method="GET",
                  path=f"{PREFIX}/Ticket/{ticket}/ITILFollowup",
                  reply=json_reply(200, page))
        glpi = Glpi(profile_for(fake, monkeypatch))
        try:
            with pytest.raises(ConnectionFailed, match="same page twice"):
                glpi.find_note(str(ticket), "adminkit:R-1:0;")
        finally:
            glpi.close()


def test_servicenow_journal_pages_that_never_end_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeServiceNow(token="snow-oauth-token-9") as fake:
        fake.record("INC0012345", "Please block jdoe", caller="Anna Example")
        snow = ServiceNow(profile_for(fake, monkeypatch))
        try:
            sys_id = fake.find("INC0012345")["sys_id"]
            rows = [{"sys_id": f"{n:032x}", "element_id": sys_id, "element": "work_notes",
                     "value": "hello", "sys_created_on": "2025-11-25 10:00:00",
                     "sys_created_by": "admin"} for n in range(100)]
            fake.fail(200, times=REPEATS, method="GET", path="/api/now/table/sys_journal_field",
                      reply=json_reply(200, {"result": rows}))
            with pytest.raises(ConnectionFailed, match="same page twice"):
                snow.notes("INC0012345")
        finally:
            snow.close()
