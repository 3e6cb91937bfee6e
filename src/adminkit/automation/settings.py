"""The `automation` profile section: rules from tickets to playbooks, approvers, watching.

A rule is data the customer's administrator reviews: which tickets it takes, which
playbook it runs, which of the playbook's inputs come from which ticket field (a
field's value is always data: it is validated by the playbook's typed input and never
rendered as a template), which inputs are fixed, and who may ask for it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from adminkit.core.config import Profile, SecretRef, Settings
from adminkit.core.errors import ConfigError
from adminkit.tickets.base import KIND_OF_PREFIX, PREFIX_OF_KIND, USER_ID_KINDS, queue_form

if TYPE_CHECKING:
    from adminkit.core.health import Probe

NAME = r"^[a-z0-9][a-z0-9-]{0,63}$"
# Ticket fields a rule can read besides the ticket system's custom fields.
BUILT_IN_FIELDS = ("id", "subject", "queue", "requester", "status")
SUBJECT_GROUP = "subject:"  # `subject:NAME`: a named group of the rule's subject pattern


def _regex(value: str | None) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
    return value


class Match(Settings):
    """What a ticket must be for the rule to take it; every given condition must hold."""

    queue: str | None = Field(None, description="the ticket's queue (RT), project, group: "
                                                "its name, key or identifier, or `id:3` for "
                                                "its id (as tickets.queues)")
    type: str | None = Field(None, description="the ticket's type, category or (Redmine) "
                                               "tracker")
    subject: str | None = Field(None, description="a regular expression searched in the "
                                                  "subject (case-insensitive)")
    fields: dict[str, str] = Field(default_factory=dict,
                                   description="custom fields that must have these values")

    _subject = field_validator("subject")(_regex)

    @field_validator("queue")
    @classmethod
    def _queue(cls, value: str | None) -> str | None:
        if value is not None:
            queue_form(value)
        return value


class Rule(Settings):
    name: str = Field(pattern=NAME)
    match: Match = Field(default_factory=Match)
    playbook: str = Field(description="a playbook name (see `adminkit playbook list`) or file")
    inputs: dict[str, Any] = Field(
        default_factory=dict, description="inputs fixed by the rule (not from the ticket)")
    fields: dict[str, str] = Field(
        default_factory=dict, description="input name -> the ticket field it is taken from "
        f"({', '.join(BUILT_IN_FIELDS)}, {SUBJECT_GROUP}GROUP for a named group of the "
        "subject pattern, or a custom field's name)")
    requesters: list[str] = Field(
        min_length=1, description="who may ask for it: requester names or addresses, "
                                  "shell patterns (`*@example.test`); `*` for anyone. "
                                  "Redmine, Jira, Zammad, ServiceNow: user ids "
                                  "(`redmine:9`, `jira:ACCOUNTID` (Data Center: "
                                  "`jira:USERKEY`), `zammad:12`, `snow:SYSID`), never "
                                  "display names or e-mail, which users may change or "
                                  "share")
    requires_approval: bool = Field(False, description="wait for an approver even if the "
                                                       "playbook does not require it")

    @field_validator("fields")
    @classmethod
    def _no_overlap(cls, value: dict[str, str], info: Any) -> dict[str, str]:
        fixed = set(info.data.get("inputs") or {}) & set(value)
        if fixed:
            raise ValueError(f"input(s) {', '.join(sorted(fixed))} are both fixed and taken "
                             "from a ticket field")
        match = info.data.get("match")
        groups = set(re.compile(match.subject).groupindex) if match and match.subject else set()
        unknown = sorted(f for f in value.values() if f.startswith(SUBJECT_GROUP)
                         and f.removeprefix(SUBJECT_GROUP) not in groups)
        if unknown:
            raise ValueError(f"{', '.join(unknown)}: the subject pattern has no such named "
                             "group ((?P<NAME>...))")
        return value


class WatchConfig(Settings):
    interval: float = Field(30.0, ge=1, description="seconds between polls")
    queue: str | None = Field(None, description="the queue to watch (default tickets.queue); "
                                                "Redmine: the project's identifier")
    max_per_poll: int = Field(100, ge=1, le=1000)
    overlap: float = Field(120.0, ge=0, le=86400, description="Redmine: seconds before the "
                           "cursor read again each poll (issues saved in the same second, "
                           "or committed late); what is read twice is one trigger")
    filters: dict[str, str] = Field(
        default_factory=dict, description="Redmine: more issue filters for the search "
        "(tracker_id, status_id (default *), category_id, cf_N, …), as Redmine's REST API "
        "takes them")

    @field_validator("filters")
    @classmethod
    def _filters(cls, value: dict[str, str]) -> dict[str, str]:
        from adminkit.automation.feeds import check_filters

        return check_filters(value)


SenderKind = Literal["generic", "zammad", "jira", "servicenow", "glpi"]


class Sender(Settings):
    """One system allowed to post webhooks to `adminkit serve`, at /hooks/NAME.

    Zammad signs each body (HMAC-SHA1 in X-Hub-Signature) with `secret`. The others
    send `token` (Authorization: Bearer, or X-Adminkit-Token); a `secret` instead
    asks for a signature over a timestamp and the body (X-Adminkit-Timestamp,
    X-Adminkit-Signature: sha256=HMAC(secret, "TIMESTAMP.BODY")), refused outside
    `window` seconds, so a captured delivery cannot be replayed later."""

    name: str = Field(pattern=NAME)
    kind: SenderKind = "generic"
    token: SecretRef | None = None
    secret: SecretRef | None = None
    window: int = Field(300, ge=10, le=3600)

    @model_validator(mode="after")
    def _authenticated(self) -> Sender:
        if self.kind == "zammad" and self.secret is None:
            raise ValueError("a zammad sender needs the webhook's HMAC secret (secret:)")
        if self.secret is None and self.token is None:
            raise ValueError("a sender needs a token or a secret: every delivery is "
                             "authenticated")
        return self


class ServeConfig(Settings):
    host: str = Field("127.0.0.1", description="behind a reverse proxy: keep loopback")
    port: int = Field(8099, ge=1, le=65535)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    workers: int = Field(4, ge=1, le=64)
    queue_limit: int = Field(1000, ge=1, description="open triggers before 429")
    max_body: int = Field(256 * 1024, ge=1024, description="bytes; a larger body gets 413")
    header_timeout: float = Field(10.0, gt=0, le=300, description="seconds a request's "
                                  "headers may take to arrive; a slower connection is closed")
    body_timeout: float = Field(10.0, gt=0, le=300, description="seconds a webhook's body "
                                "may take to arrive; a slower one gets 408")
    max_connections: int = Field(64, ge=1, le=10000, description="connections at once; "
                                 "more get 503 until some end")


class RetryConfig(Settings):
    """How a trigger that could not reach a system (the ticket system restarting, a
    directory away) is tried again, by `serve` and `watch`: after its Nth failed try it
    waits delays[N-1] seconds (the last repeating), counted from its row's last change,
    so a restarted process keeps the pace; after `attempts` failed tries it fails for
    good, with a note. The defaults try at 0 s, 5 s, 35 s, 2.6 min, 12.6 min and
    22.6 min: a ticket system down for a few minutes loses nothing."""

    delays: list[float] = Field([5.0, 30.0, 120.0, 600.0], min_length=1, max_length=20,
                                description="seconds before the next try after the 1st, "
                                            "2nd, … failed one; the last repeats")
    attempts: int = Field(6, ge=1, le=100, description="failed tries before the trigger "
                                                       "fails for good")

    @field_validator("delays")
    @classmethod
    def _sane(cls, value: list[float]) -> list[float]:
        if any(not 0 < d <= 86400 for d in value):
            raise ValueError("each delay is over 0 and at most 86400 seconds (a day)")
        return value


CALENDAR = r"^[A-Za-z0-9*:/,.~ -]{1,100}$"  # pydantic's regex: `$` is the end of the text


class Schedule(Settings):
    """A playbook run on a calendar (systemd's OnCalendar: `daily`, `Mon *-*-* 06:00`)."""

    name: str = Field(pattern=NAME)
    # not `on`: YAML 1.1 reads that key as the boolean true
    calendar: str = Field(pattern=CALENDAR, description="a systemd calendar "
                                                                 "expression")
    playbook: str
    inputs: dict[str, Any] = Field(default_factory=dict)
    ticket: str | None = Field(None, description="the ticket its notes go to (rt:42); "
                               "`new`: a new ticket per run in the profile's ticket system "
                               "(the local store if it has none); `new:local`: in the local "
                               "store")
    force: bool = Field(False, description="go over the profile's bulk limit (journaled "
                                           "with each run); without it the run stops there")


class ReportConfig(Settings):
    contacts: list[str] = Field(default_factory=list,
                                description="who receives the monthly report (e-mail)")


class AutomationConfig(Settings):
    rules: list[Rule] = Field(default_factory=list)
    report: ReportConfig = Field(default_factory=ReportConfig)
    schedules: list[Schedule] = Field(default_factory=list)
    senders: list[Sender] = Field(default_factory=list)
    serve: ServeConfig = Field(default_factory=ServeConfig)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    approvers: list[str] = Field(
        default_factory=list, description="who may /approve or /reject a waiting run "
                                          "(names in the ticket system; Redmine, Jira, "
                                          "Zammad, ServiceNow: user ids, `redmine:5`, "
                                          "`jira:ACCOUNTID` (Data Center: `jira:USERKEY`), "
                                          "`zammad:12`, `snow:SYSID`, as display names are "
                                          "each user's to edit; anything else is refused "
                                          "at load)")
    console_approvers: dict[str, str] = Field(
        default_factory=dict, description="who may `adminkit approve|reject` at this "
                                          "machine's command line, and as whom: the OS "
                                          "login (the real user; behind sudo, the sudo "
                                          "user) -> one of automation.approvers. A login "
                                          "not named here may not approve there")
    console_approvers_owner: str | None = Field(
        None, description="besides root, the one OS account trusted to own the profile "
                          "file (and the folders above it) that console_approvers is read "
                          "from, e.g. the service account that deploys profiles; it may not "
                          "be a login console_approvers names. A map in a file anyone else "
                          "owns or can write is refused (exit 4)")
    approval_timeout_hours: float = Field(72.0, gt=0)
    watch: WatchConfig = Field(default_factory=WatchConfig)

    def check_across(self, profile: Profile) -> list[tuple[tuple[str | int, ...], str]]:
        """A schedule's `ticket: new` opens a ticket in the profile's ticket system with
        `tickets.new` (and Redmine's project): checked when the profile loads, not when the
        schedule first runs."""
        from adminkit.tickets.settings import ticket_settings

        cfg = ticket_settings(profile)
        lacking = cfg.needs_new() if cfg is not None and cfg.kind != "local" else None
        if lacking is None:
            return []
        assert cfg is not None
        return [(("schedules", n, "ticket"),
                 f"`new` opens a ticket in {cfg.kind}, which needs {lacking} in the profile "
                 "(or ticket: new:local keeps the run's ticket in the local store)")
                for n, schedule in enumerate(self.schedules) if schedule.ticket == "new"]

    @field_validator("rules", "schedules")
    @classmethod
    def _unique(cls, value: list[Any]) -> list[Any]:
        names = [r.name for r in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"name(s) given twice: {', '.join(twice)}")
        return value


SECTIONS: dict[str, Any] = {"automation": AutomationConfig}


def automation_settings(profile: Profile | None) -> AutomationConfig | None:
    """The section, its people checked against the profile's ticket system: a name that
    can never match is refused here (exit 2), not found out when nobody may approve."""
    cfg = profile.section("automation", AutomationConfig) if profile is not None else None
    if cfg is not None and profile is not None:
        from adminkit.tickets.settings import ticket_settings

        tickets = ticket_settings(profile)
        kind = tickets.kind if tickets is not None else "local"
        for where, values in [("automation.approvers", cfg.approvers),
                              *[(f"automation.rules[{rule.name}].requesters", rule.requesters)
                                for rule in cfg.rules]]:
            for value in values:
                problem = person_problem(kind, value, pattern=where.endswith("requesters"))
                if problem:
                    raise ConfigError(f"profile {profile.name}: {where}: {value!r} {problem}",
                                      hint=PEOPLE_HINT.get(kind, "name people as the "
                                                                 f"{kind} system does"))
        listed = {a.strip().casefold() for a in cfg.approvers}
        for login, who in cfg.console_approvers.items():
            if who.strip().casefold() not in listed:
                raise ConfigError(f"profile {profile.name}: automation.console_approvers: "
                                  f"{login} approves as {who!r}, who is not in "
                                  "automation.approvers",
                                  hint="name the person as automation.approvers does")
        waiting = [rule.name for rule in cfg.rules if rule.requires_approval]
        if waiting and not cfg.approvers:
            raise ConfigError(f"profile {profile.name}: automation.rules[{waiting[0]}] "
                              "requires approval, and automation.approvers names nobody: "
                              "its runs could only wait and be cancelled",
                              hint="name the approvers (" + PEOPLE_HINT.get(
                                  kind, f"as the {kind} system names people") + ")")
    return cfg


def probes(profile: Profile) -> list[Probe]:
    """`profile check`: whether the approvers and rules' requesters are named as the
    profile's ticket system names people (nothing is connected to)."""
    from adminkit.core.health import Probe

    if profile.section("automation", AutomationConfig) is None:
        return []

    def people() -> str:
        cfg = automation_settings(profile)
        assert cfg is not None
        return (f"{len(cfg.approvers)} approver(s) and the requesters of {len(cfg.rules)} "
                "rule(s) are named as the ticket system names people")

    found = [Probe("automation", "approvers and requesters", people)]
    cfg = profile.section("automation", AutomationConfig)
    if cfg is not None and cfg.console_approvers and profile.file is not None:
        found.append(Probe("automation", "console approver map", lambda: _map(profile)))
    return found


def _map(profile: Profile) -> str:
    """Whether `approve` would honour the console approver map (automation/trusted.py
    judges it, as for approve itself): a map it refuses is a setting that cannot be
    used (exit 2), the reason given."""
    from adminkit.automation.trusted import map_honoured
    from adminkit.core.errors import PolicyRefused

    try:
        return map_honoured(profile) or "no console approver map"
    except PolicyRefused as exc:
        raise ConfigError(f"not honoured by approve: {exc.message}", hint=exc.hint) from None


PEOPLE_HINT = {"redmine": "a Redmine user id is the number in the user's page, /users/9",
               "jira": "Jira Cloud: the accountId in the user's profile address, "
                       "/jira/people/ACCOUNTID; Data Center: the user key (`key` in GET "
                       "/rest/api/2/user?username=NAME), never the renamable username",
               "zammad": "a Zammad user id is the number in the user's address, "
                         "#user/profile/12",
               "servicenow": "a ServiceNow user is the sys_id of their sys_user record "
                             "(32 hex digits: the record's Copy sys_id, or sys_id in GET "
                             "/api/now/table/sys_user?sysparm_query=user_name=NAME), "
                             "never the display name two people may share"}
ID_SHAPES = {"redmine": r"[1-9][0-9]{0,9}", "zammad": r"[1-9][0-9]{0,9}",
             "jira": r"[A-Za-z0-9][A-Za-z0-9:._@+-]{0,127}",
             "servicenow": r"[0-9a-fA-F]{32}"}
ID_WORD = {"jira": "ACCOUNTID", "servicenow": "SYSID"}  # what follows the prefix, in words


def person_problem(kind: str, value: str, *, pattern: bool) -> str | None:
    """Why `value` can never match a person on a `kind` system (None: it can). Where
    people are user ids, only `PREFIX:ID` (and, for requesters, `*`) can."""
    text = value.strip()
    prefix, sep, rest = text.partition(":")
    other = KIND_OF_PREFIX.get(prefix.casefold()) if sep else None
    if kind not in USER_ID_KINDS:
        if other in USER_ID_KINDS:
            return f"is a {other} user id; this profile's tickets are in {kind}"
        return None
    if pattern and text == "*":
        return None
    if other == kind and re.fullmatch(ID_SHAPES[kind], rest) and \
            not (kind == "jira" and rest.casefold() == "unknown"):  # a deleted user (Cloud)
        return None
    own = PREFIX_OF_KIND[kind]
    word = ID_WORD.get(kind, "N")
    if other == kind:
        return f"is not a {kind} user id ({own}:{word})"
    return (f"can never match: {kind} names people by user id ({own}:{word}), never by a "
            "display name or e-mail, which each user may change"
            + ("; `*` for anyone" if pattern else ""))
