"""Hostile review of Zammad approvals: notes written in Zammad's own editor.

An agent's note from Zammad's web UI is `content_type: text/html` (`<div>/approve</div>`):
mergework read its first line as `<div>/approve</div>` and never took it for an answer,
so an approver could only answer through the API. The HTML's text is read; what is
quoted (`<blockquote>`) or code (`<pre>`, `<code>`) is someone else's words, never an
answer.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.zammad import FakeZammad
from tests.unit.test_approvals_by_id import (  # noqa: F401  (fixtures: rig, zammad)
    again,
    rig,
    z_said,
    z_start,
    zammad,
)


@pytest.mark.parametrize("body", ["<div>/approve</div>", "<p>/approve&nbsp;</p><p>ok</p>",
                                  "<div><br></div><div>/APPROVE looks right</div>"])
def test_zammad_an_approvers_html_note_approves(rig: Any, zammad: FakeZammad,  # noqa: F811
                                                body: str) -> None:
    boss = zammad.person("boss@example.com", "Boss", "Person")
    dispatcher, ticket, first = z_start(rig, zammad, [f"zammad:{boss.id}"])
    zammad.article(ticket, body, by=boss).content_type = "text/html"
    assert again(dispatcher, first).status != "waiting"
    assert any(f"approved by Boss Person (zammad:{boss.id})" in b
               for b in z_said(zammad, ticket)), z_said(zammad, ticket)


@pytest.mark.parametrize("body", ["<blockquote><div>/approve</div></blockquote><div>no</div>",
                                  "<pre>/approve</pre>", "<div><code>/approve</code></div>"])
def test_zammad_a_quoted_or_code_approve_is_no_answer(rig: Any, zammad: FakeZammad,  # noqa: F811
                                                      body: str) -> None:
    boss = zammad.person("boss@example.com", "Boss", "Person")
    dispatcher, ticket, first = z_start(rig, zammad, [f"zammad:{boss.id}"])
    zammad.article(ticket, body, by=boss).content_type = "text/html"
    assert again(dispatcher, first).status == "waiting"
    assert not any("approved by" in b for b in z_said(zammad, ticket))
