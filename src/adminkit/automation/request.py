"""What a caller asks the run service for: plain data, no CLI and no environment."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adminkit.core.action import Action
    from adminkit.core.config import Profile


@dataclass(frozen=True)
class Bulk:
    """Many rows of one file: all planned (no writes) before any is applied.

    `labels` say where each row came from (`file.csv:12`), for errors. `destructive`
    rows over the profile's `policy.bulk_limit` are refused unless `force`.
    """

    labels: Sequence[str]
    workers: int = 4
    force: bool = False


@dataclass(frozen=True)
class PlaybookRequest:
    path: Path
    inputs: dict[str, Any] = field(default_factory=dict)  # as given; validated by the service
    approved_by: str | None = None
    force: bool = False  # a step may go over the profile's blast-radius limit
    digest: str | None = None  # the file's SHA-256 when the run began (set by the service)


@dataclass
class RunRequest:
    """One run: actions (or a playbook) for a profile, on behalf of a ticket."""

    command: str  # how the journal and the ticket name it: "account disable jnovak"
    profile: Profile | None
    actions: Sequence[Action[Any]] = ()
    playbook: PlaybookRequest | None = None
    ticket: str | None = None
    check: bool = False
    operator: str | None = None  # default: the person (or trigger) running the process
    bulk: Bulk | None = None
    stop_on_error: bool = False
    resume: str | None = None  # the id of the run to finish
    workers: int = 1  # actions run at once when there is no bulk pre-flight (one per host)
    run_id: str | None = None  # the id a new run takes (a trigger names it before it starts)
    # a resume of the run as its caller saw it (its end rows then): one that another
    # process ended since, while this one waited for its ticket, is not done again
    seen_ends: int | None = None
