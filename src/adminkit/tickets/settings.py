"""The profile section the tickets domain owns: `tickets`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from adminkit.core.config import Profile, SecretRef, Settings, kind_of


def _ticket_kind(kind: str) -> str:
    return kind_of("adminkit.tickets", kind, extra=("local",))


class TicketsConfig(Settings):
    kind: Annotated[str, AfterValidator(_ticket_kind)] = Field(
        description="a backend under the adminkit.tickets entry points, or local")
    url: str | None = None
    token: SecretRef | None = None
    user: str | None = None
    password: SecretRef | None = None
    client_id: SecretRef | None = Field(None, description="OAuth client credentials "
                                                         "(ServiceNow): the client id")
    client_secret: SecretRef | None = None
    queue: str | None = None
    queues: list[str] = Field(
        default_factory=list,
        description="the queues (projects, groups) this profile's tickets may be in; a run for "
                    "a ticket elsewhere is refused. Default: `queue` alone; [\"*\"]: any")
    ca_file: Path | None = None
    insecure: bool = Field(False, description="allow credentials over plain http:// to a "
                                              "system not on this machine (warned each run)")
    note_per: Literal["action", "run"] = "action"
    allow_public_notes: bool = Field(
        False, description="accept that the account's internal notes may go public (a "
                           "system that cannot make them internal): not a failure then")
    public_actions: list[str] = Field(
        default_factory=list, description="actions whose notes the customer sees (public)")
    flush_seconds: float = Field(5.0, ge=0, description="how long a run waits for delivery")
    note_attempts: int = Field(25, ge=1, description="a note that failed this many times "
                                                     "(transient trouble) fails for good")
    note_max_hours: float = Field(72.0, gt=0, description="a note not delivered after this "
                                                          "many hours fails for good")
    options: dict[str, Any] = Field(default_factory=dict)


SECTIONS: dict[str, Any] = {"tickets": TicketsConfig}


def ticket_settings(profile: Profile | None) -> TicketsConfig | None:
    return profile.section("tickets", TicketsConfig) if profile is not None else None


def allowed_queues(cfg: TicketsConfig | None, kind: str) -> tuple[str, ...]:
    """The queues a run's ticket must be in; empty: any. Only for the profile's own ticket
    system: a `local:` ticket under an RT profile is the local store's."""
    if cfg is None or cfg.kind != kind:
        return ()
    if cfg.queues:
        return () if "*" in cfg.queues else tuple(cfg.queues)
    return (cfg.queue,) if cfg.queue else ()
