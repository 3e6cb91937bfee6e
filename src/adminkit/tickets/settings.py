"""The profile section the tickets domain owns: `tickets`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from adminkit.core.config import Profile, SecretRef, Settings, kind_of
from adminkit.tickets.base import ID_FORM, queue_form


def _ticket_kind(kind: str) -> str:
    return kind_of("adminkit.tickets", kind, extra=("local",))


# Which settings of `tickets.new` each system takes, and which of them it needs.
NEW_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "jira": (("service_desk", "request_type"), ("service_desk", "request_type")),
    "servicenow": (("assignment_group", "caller", "category"), ()),
    "zammad": (("group", "customer"), ("group", "customer")),
    "glpi": (("entity", "category", "type"), ()),
    "rt": ((), ()),  # RT opens in tickets.queue, Redmine in its project (tickets.queue)
    "redmine": ((), ()),
}


class NewTicket(Settings):
    """What a new ticket is opened with (a schedule's `ticket: new`) where the system
    needs more than a subject and a text. Each system takes its own settings only."""

    service_desk: int | None = Field(None, ge=1, description=(
        "Jira Service Management: the serviceDeskId the request is raised in"))
    request_type: int | None = Field(None, ge=1, description=(
        "Jira Service Management: the requestTypeId (its fields must need no more than "
        "summary and description)"))
    assignment_group: str | None = Field(None, pattern=r"^[0-9a-f]{32}$", description=(
        "ServiceNow: the incident's assignment group (sys_id)"))
    caller: str | None = Field(None, pattern=r"^[0-9a-f]{32}$", description=(
        "ServiceNow: the incident's caller (a sys_user sys_id)"))
    category: str | int | None = Field(None, description=(
        "ServiceNow: the incident's category (its value, e.g. software); GLPI: the ITIL "
        "category id"))
    group: str | None = Field(None, min_length=1, max_length=160, description=(
        "Zammad: the group (its name) the ticket is opened in"))
    customer: str | None = Field(None, min_length=1, max_length=255, description=(
        "Zammad: the ticket's customer: a user id, or an e-mail address (looked up, or "
        "made, as Zammad's `guess:` does)"))
    entity: int | None = Field(None, ge=0, description="GLPI: the entity id (default: the "
                                                       "API account's active entity)")
    type: Literal["incident", "request"] = Field("request", description=(
        "GLPI: the ticket's type"))


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
                    "a ticket elsewhere is refused. Default: `queue` alone; [\"*\"]: any. "
                    "A bare value is the queue's name (RT, Zammad, ServiceNow), project key "
                    "(Jira) or identifier (Redmine: never its editable name); `id:3` is the "
                    "queue's id, and names and ids never stand in for each other. A bare "
                    "number is refused as ambiguous: `id:3`, or `name:3` for a queue so named")
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
    new: NewTicket | None = Field(None, description=(
        "what a schedule's `ticket: new` opens a ticket with: Jira Service Management "
        "service_desk and request_type, Zammad group and customer (both needed); ServiceNow "
        "assignment_group, caller, category; GLPI entity, category, type (optional)"))

    @field_validator("queues")
    @classmethod
    def _queue_forms(cls, value: list[str]) -> list[str]:
        for item in value:
            if item.strip() != "*":
                queue_form(item)
        return value

    @model_validator(mode="after")
    def _new_fits_the_kind(self) -> TicketsConfig:
        if self.new is None:
            return self
        given = {k for k in self.new.model_fields_set if getattr(self.new, k) is not None}
        takes, needs = NEW_FIELDS.get(self.kind, ((), ()))
        if given - set(takes):
            raise ValueError(f"new: {', '.join(sorted(given - set(takes)))} "
                             f"{'is' if len(given - set(takes)) == 1 else 'are'} not "
                             f"{self.kind}'s (it takes {', '.join(takes) or 'none'})")
        if missing := [k for k in needs if getattr(self.new, k) is None]:
            raise ValueError(f"new: {self.kind} opens a ticket only with "
                             f"{' and '.join(needs)}; missing: {', '.join(missing)}")
        customer = self.new.customer
        if customer is not None and not (customer.isdecimal() or "@" in customer):
            raise ValueError("new.customer: a Zammad user id or an e-mail address")
        category = self.new.category
        if self.kind == "glpi" and isinstance(category, str) and not category.isdecimal():
            raise ValueError("new.category: GLPI's ITIL category is an id (a number)")
        return self

    def needs_new(self) -> str | None:
        """What `ticket: new` lacks for this system, in words (None: it can open one)."""
        needs = NEW_FIELDS.get(self.kind, ((), ()))[1]
        if needs and self.new is None:
            return f"tickets.new.{' and tickets.new.'.join(needs)}"
        if self.kind == "redmine" and not self.queue:  # the project the issue is opened in
            return "tickets.queue (the Redmine project's identifier)"
        return None


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
    if not cfg.queue:
        return ()
    # `queue` is also what the system's API is given (RT's Queue, Redmine's project_id),
    # where a number is an id: so it is here
    # (ASCII digits only: `isdecimal` takes any script's, which no API writes an id in)
    digits = re.fullmatch(r"[0-9]+", cfg.queue.strip())
    return (f"{ID_FORM}{cfg.queue.strip()}" if digits else cfg.queue,)
