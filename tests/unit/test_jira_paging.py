"""Both of Jira's comment lists are read to their last page through one pager: the
servicedeskapi's (`start`/`limit`, `isLastPage`) and the platform API's
(`startAt`/`maxResults`, `total`), each with a server that gives fewer per page than
asked. Against the protocol-level fake; what the backend read is compared with what the
fake holds.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adminkit.tickets.jira import Jira
from tests.fakes.jira import FakeJira, person
from tests.fakes.ticketfake import SECRET_ENV
from tests.unit.test_approvals_by_id import ANNA, BOSS, cloud, profile

EVE = person("eve", "Eve Agent")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeJira]:
    with FakeJira() as jira:
        monkeypatch.setenv(SECRET_ENV, jira.secret)
        yield jira


def test_every_page_of_both_apis_is_read(fake: FakeJira) -> None:
    key = fake.issue("HD-1", "unlock: jdoe", reporter=ANNA).key
    posted = [fake.comment(key, f"comment {n}", author=BOSS, public=n % 2 == 0)
              for n in range(7)]
    fake.edit(key, posted[-1].id, "/approve", by=EVE)  # the last page's only comment
    fake.max_page, fake.max_platform_page = 3, 2
    system = Jira(profile(cloud(fake), []))
    try:
        notes = system.notes(key)
    finally:
        system.close()
    assert [n["body"] for n in notes] == [f"comment {n}" for n in range(6)] + ["/approve"]
    assert [bool(n.get("unverified")) for n in notes] == [False] * 6 + [True]
