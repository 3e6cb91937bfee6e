"""What `adminkit watch` asks a ticket system each poll: the tickets since its cursor.

A feed turns a cursor (a string kept in the journal, moved in the same transaction as
the triggers it covers) into the tickets to record and the next cursor.

RT's ticket ids only grow, so its cursor is the newest id seen. Redmine is polled by
`updated_on` (an issue moved into the watched project, or one whose transaction
committed late, still shows up), which has a resolution of one second and ties: its
cursor is the (updated_on, id) of the newest issue taken plus the start of the watch
(issues created before it are never taken), every poll reads again an overlap window
before the cursor, and the triggers' idempotency keys (`redmine:12:created`) make what
is read twice one trigger. Pages are read by keyset (`updated_on >=` the last page's
newest second), with an offset only inside a second that fills a page.

Redmine's clock can step back (NTP) by more than the overlap: an issue created then is
stamped before the window and the time search never reads it. Issue ids only grow, so
the cursor also keeps `top`, the highest id up to which every issue has been read, and
each poll asks for the issues above it (`issue_id >= top+1`, by id): a new issue is
found whatever its stamp. `top` starts at the project's highest id when the watch starts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from adminkit.core.errors import ConnectionFailed, UsageError
from adminkit.tickets.base import TicketSystem

PAGE = 100  # Redmine's largest page
MAX_PAGES = 200  # one poll reads at most this many pages (a backlog is taken in turns)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Filters a profile may add to Redmine's issue search (the watch sets the others).
REDMINE_FILTERS = re.compile(r"(tracker_id|status_id|category_id|priority_id|author_id|"
                             r"assigned_to_id|fixed_version_id|subproject_id|is_private|"
                             r"cf_[1-9][0-9]{0,6})\Z")
FILTER_VALUE = re.compile(r"[^\x00-\x1f\x7f]{1,200}\Z")


class Feed(Protocol):
    def start(self, after: str) -> str:
        """The first cursor, from `--after`."""

    def poll(self, cursor: str, limit: int,
             known: Callable[[str], bool] | None = None) -> tuple[list[str], str]:
        """Ticket ids to record (oldest first; some may be known already) and the next
        cursor. `known`: a ticket taken before (it does not count against `limit`)."""


class RtFeed:
    """RT: ids above the cursor (`new_tickets`), the newest one the next cursor."""

    def __init__(self, system: TicketSystem, queue: str) -> None:
        self.system, self.queue = system, queue

    def start(self, after: str) -> str:
        if not (after.isascii() and after.isdigit()):
            raise UsageError(f"--after {after!r}: not a ticket number")
        return after

    def poll(self, cursor: str, limit: int,
             known: Callable[[str], bool] | None = None) -> tuple[list[str], str]:
        found: list[str] = self.system.new_tickets(  # type: ignore[attr-defined]
            self.queue, cursor, limit)
        return found, found[-1] if found else cursor


@dataclass(frozen=True)
class Mark:
    """A point in Redmine's order of issues: a time (whole seconds, UTC) and an id."""

    time: datetime
    id: int

    def key(self) -> tuple[datetime, int]:
        return self.time, self.id

    def dump(self) -> list[Any]:
        return [_text(self.time), self.id]


def _time(value: Any, what: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise ConnectionFailed(f"Redmine: {what} {str(value)[:40]!r} is not a time") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _id(issue: dict[str, Any]) -> int:
    value = issue.get("id")
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConnectionFailed("Redmine: an issue without a numeric id in a search answer")
    return value


def check_filters(filters: dict[str, str]) -> dict[str, str]:
    """The profile's extra Redmine filters: known names, one-line values."""
    for name, value in filters.items():
        if not REDMINE_FILTERS.match(name):
            raise ValueError(f"{name!r}: not a Redmine issue filter a watch may set (tracker_id, "
                             "status_id, category_id, priority_id, author_id, assigned_to_id, "
                             "fixed_version_id, subproject_id, is_private, cf_N)")
        if not FILTER_VALUE.match(str(value)):
            raise ValueError(f"{name}: a filter value is one line of 1-200 characters")
    return filters


class RedmineFeed:
    """Redmine: issues of a project by `updated_on`, from a (time, id) cursor."""

    def __init__(self, system: TicketSystem, project: str, *, overlap: float,
                 filters: dict[str, str] | None = None) -> None:
        self.system, self.project = system, project
        self.overlap = timedelta(seconds=overlap)
        self.filters = check_filters(dict(filters or {}))

    def _search(self, params: dict[str, str | int]) -> tuple[list[dict[str, Any]], int]:
        return self.system.issues(params)  # type: ignore[attr-defined, no-any-return]

    def start(self, after: str) -> str:
        """`0`: every issue of the project; an issue number: the issues created after it;
        a time (2026-12-07T08:00:00Z): the issues created from then on."""
        if after.isascii() and after.isdigit():
            if int(after) == 0:
                floor = Mark(EPOCH, 0)
            else:
                found, _ = self._search({"issue_id": int(after), "status_id": "*"})
                if not found:
                    raise UsageError(f"--after {after}: Redmine has no issue {after} (or the "
                                     "account may not see it)")
                floor = Mark(_time(found[0].get("created_on"), "created_on"), int(after))
        else:
            try:
                moment = datetime.fromisoformat(after)
            except ValueError:
                raise UsageError(f"--after {after!r}: not an issue number or a time "
                                 "(2026-12-07T08:00:00Z)") from None
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
            floor = Mark(moment.astimezone(UTC).replace(microsecond=0), 0)
        return self._dump(floor, floor, max(floor.id, self._highest()))

    def _base(self) -> dict[str, str | int]:
        base: dict[str, str | int] = {**self.filters, "project_id": self.project,
                                      "limit": PAGE}
        base.setdefault("status_id", "*")
        return base

    def _highest(self) -> int:
        """The highest issue id in the watched project now (0: none)."""
        page, _ = self._search({**self._base(), "sort": "id:desc", "limit": 1})
        return _id(page[0]) if page else 0

    @staticmethod
    def _dump(floor: Mark, at: Mark, top: int) -> str:
        return json.dumps({"floor": floor.dump(), "at": at.dump(), "top": top})

    @staticmethod
    def _load(cursor: str) -> tuple[Mark, Mark, int | None]:
        try:
            data = json.loads(cursor)
            marks = [Mark(_time(data[k][0], "cursor"), int(data[k][1])) for k in ("floor", "at")]
            top = data.get("top")
            if top is not None and (not isinstance(top, int) or top < 0):
                raise ValueError(top)
        except (ValueError, KeyError, TypeError, IndexError, AttributeError,
                ConnectionFailed):
            raise UsageError(f"the watch's cursor {cursor[:80]!r} is not a Redmine cursor",
                             hint="was this queue watched on another ticket system?") from None
        return marks[0], marks[1], top

    def poll(self, cursor: str, limit: int,
             known: Callable[[str], bool] | None = None) -> tuple[list[str], str]:
        """`limit` counts the issues not `known`: known ones that changed (a bulk edit of
        a thousand closed issues) move the cursor on without holding a new one back."""
        floor, at, top = self._load(cursor)
        if top is None:  # a cursor written before ids were kept: from the highest now
            top = max(floor.id, self._highest())
        lower = max(floor.time, at.time - self.overlap)
        base = {**self._base(), "sort": "updated_on,id", "created_on": f">={_text(floor.time)}"}
        found: list[str] = []
        taken: set[int] = set()
        newest, ahead, skip = at, 0, 0
        for _ in range(MAX_PAGES):
            page, _total = self._search({**base, "updated_on": f">={_text(lower)}",
                                         "offset": skip})
            for issue in page:
                ident = _id(issue)
                created = Mark(_time(issue.get("created_on"), "created_on"), ident)
                updated = Mark(_time(issue.get("updated_on"), "updated_on"), ident)
                if created.key() <= floor.key() or ident in taken:
                    continue  # before the watch began; or read twice across pages
                if updated.key() > at.key():
                    new = known is None or not known(str(ident))
                    if new and ahead >= limit:
                        return found, self._dump(floor, newest, top)
                    ahead += new
                    newest = max(newest, updated, key=Mark.key)
                found.append(str(ident))
                taken.add(ident)
            if len(page) < PAGE:
                break
            first = _time(page[0].get("updated_on"), "updated_on")
            last = _time(page[-1].get("updated_on"), "updated_on")
            # a page of one second goes on inside it by offset; any other page goes on
            # from its newest second, whose ties are read again (never one skipped)
            skip = (skip if last == lower else 0) + len(page) if first == last else 0
            lower = last
        top = self._above(top, floor, limit - ahead, known, found, taken)
        return found, self._dump(floor, newest, top)

    def _above(self, top: int, floor: Mark, room: int, known: Callable[[str], bool] | None,
               found: list[str], taken: set[int]) -> int:
        """The issues above `top` by id, whatever their stamps (a clock stepped back),
        added to `found` up to `room` new ones: the new `top`."""
        base = {**self._base(), "sort": "id"}
        for _ in range(MAX_PAGES):
            page, _total = self._search({**base, "issue_id": f">={top + 1}"})
            for issue in page:
                ident = _id(issue)
                if ident <= top:
                    continue  # a server that ignored the filter: never backwards
                if ident not in taken and ident > floor.id:
                    new = known is None or not known(str(ident))
                    if new and room <= 0:
                        return top
                    room -= new
                    found.append(str(ident))
                    taken.add(ident)
                top = ident
            if len(page) < PAGE:
                break
        return top


def feed_for(system: TicketSystem, queue: str, *, overlap: float,
             filters: dict[str, str]) -> Feed:
    if system.kind == "redmine" and callable(getattr(system, "issues", None)):
        return RedmineFeed(system, queue, overlap=overlap, filters=filters)
    if callable(getattr(system, "new_tickets", None)):
        if filters:
            raise UsageError("automation.watch.filters are Redmine's issue filters",
                             hint=f"the {system.kind} watch takes a queue only")
        return RtFeed(system, queue)
    raise UsageError(f"the {system.kind} ticket backend cannot search for new tickets",
                     hint="watch works with rt and redmine; use webhooks (`adminkit serve`) "
                          "for the others")
