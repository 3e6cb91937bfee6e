"""Read-only work across hosts (list, facts, check, installed versions): no journal.

Each host is one unit on a bounded pool, with its connection from a registry of this
call's own (the same limits as a run); one host's failure is that host's row, never
the others'. Ctrl-C closes the connections and stops what has not started.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from adminkit.core.config import Profile
from adminkit.core.errors import AdminkitError, ExitCode
from adminkit.core.secrets import redact
from adminkit.core.strategy import ThreadPool
from adminkit.core.targets import Targets
from adminkit.deploy.backend import HostBackend
from adminkit.deploy.hosts import close_backend, inventory_of, limits, open_backend
from adminkit.deploy.patterns import Selection

T = TypeVar("T")


@dataclass
class HostRow(Generic[T]):
    host: str
    value: T | None = None
    error: str = ""
    exit_code: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.exit_code


def for_each(profile: Profile, selection: Selection, work: Callable[[HostBackend], T], *,
             forks: int | None = None) -> list[HostRow[T]]:
    """`work(backend)` on every selected host; rows in the selection's order."""
    inventory = inventory_of(profile)
    rows: list[HostRow[T]] = [HostRow(h.name) for h in selection.hosts]
    rows += [HostRow(name, error=f"host {name!r} is not in the inventory",
                     exit_code=int(ExitCode.USAGE)) for name in selection.unknown]
    targets = Targets()

    def unit(indexes: list[int]) -> None:
        index = indexes[0]
        host = selection.hosts[index]
        row = rows[index]
        started = time.monotonic()
        try:
            with Targets.scope():
                value = targets.held(host.transport, host.name,
                                     lambda: open_backend(profile, inventory, host), close_backend,
                                     limits=limits(inventory, host.transport))
                value.cancelled = lambda: targets.cancelled
                row.value = work(value)
        except AdminkitError as exc:
            row.error, row.exit_code = redact(exc.message), int(exc.exit_code)
        except Exception as exc:  # noqa: BLE001 - that host's row, not the command's end
            row.error = redact(f"{type(exc).__name__}: {exc}")
            row.exit_code = int(ExitCode.FAILED)
        row.seconds = round(time.monotonic() - started, 3)

    try:
        ThreadPool(forks or inventory.forks).run(
            [[i] for i in range(len(selection.hosts))], unit, interrupt=targets.cancel)
    finally:
        targets.close()
    return rows


def exit_code(rows: list[HostRow[T]]) -> int:
    """3 if any host was unreachable, else the worst other failure, else 0."""
    return max((r.exit_code for r in rows), default=0)
