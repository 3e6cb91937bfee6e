"""A webhook delivery: who sent it (authenticated), which ticket it names, its event key.

Pure: headers and body in, a `Delivery` or a `Refused` (with its HTTP status) out. The
body only names a ticket; what the rules read (subject, requester, fields) is read
from the ticket system itself, so a forged or stale body cannot supply inputs.

- Zammad: `X-Hub-Signature: sha1=HEX`, HMAC-SHA1 of the body under the webhook's
  secret (Zammad's trigger webhooks); its delivery id is `X-Zammad-Delivery`.
- The others (Jira Service Management automation "send web request", ServiceNow
  outbound REST, GLPI webhooks, the generic form): a per-sender token
  (`Authorization: Bearer`, or `X-Adminkit-Token`), or with `secret` a signature over
  a timestamp and the body (`X-Adminkit-Timestamp`, `X-Adminkit-Signature:
  sha256=HEX` of "TIMESTAMP.BODY"), refused outside the sender's window.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adminkit.automation.settings import Sender
from adminkit.core.errors import UsageError
from adminkit.tickets.base import parse_ref

EVENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:._-]{0,63}\Z")
TICKET_KIND = {"zammad": "zammad", "jira": "jira", "servicenow": "servicenow", "glpi": "glpi"}


class Refused(Exception):
    """A delivery that is not taken; `status` is the HTTP answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass(frozen=True)
class Keys:
    """A sender's resolved token and secret (bytes; never logged)."""

    token: bytes | None = None
    secret: bytes | None = None


@dataclass(frozen=True)
class Delivery:
    sender: str
    ticket: str  # a reference: "zammad:12", "rt:42"
    key: str  # the event as its system names it ("rt:42:created"); the trigger's key
    # adds the instance the profile's system is (`journal/triggers.event_key`)
    kind: str = ""  # the ticket's system: rt, zammad, …


def authenticate(sender: Sender, keys: Keys, headers: Mapping[str, str], body: bytes,
                 now: float) -> None:
    """Raise Refused(401) unless the delivery proves it comes from the sender."""
    if sender.kind == "zammad":
        assert keys.secret is not None
        _signed(headers.get("x-hub-signature"), "sha1",
                hmac.new(keys.secret, body, hashlib.sha1).hexdigest())
        return
    if keys.secret is not None:
        stamp = headers.get("x-adminkit-timestamp") or ""
        try:
            moment = int(stamp)
        except ValueError:
            raise Refused(401, "no timestamp (X-Adminkit-Timestamp)") from None
        if abs(now - moment) > sender.window:
            raise Refused(401, f"timestamp outside the {sender.window} s window (a replay?)")
        _signed(headers.get("x-adminkit-signature"), "sha256",
                hmac.new(keys.secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest())
        return
    assert keys.token is not None
    given = headers.get("x-adminkit-token") or ""
    auth = headers.get("authorization") or ""
    if auth[:7].lower() == "bearer ":
        given = auth[7:].strip()
    if not given or not hmac.compare_digest(given.encode(), keys.token):
        raise Refused(401, "no valid token")


def _signed(header: str | None, algorithm: str, expected: str) -> None:
    if not header:
        raise Refused(401, "unsigned")
    name, _, value = header.strip().partition("=")
    if name.lower() != algorithm or not hmac.compare_digest(value.strip().lower(), expected):
        raise Refused(401, "bad signature")


def parse(sender: Sender, headers: Mapping[str, str], body: bytes,
          default_kind: str | None) -> Delivery:
    """The ticket and event a delivery names; Refused(400) for what cannot be meant."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # nested past the decoder
        raise Refused(400, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise Refused(400, "the body is not a JSON object")
    ident, event = _ticket_and_event(sender.kind, data, headers)
    if ident is None:
        raise Refused(400, f"no ticket in the {sender.kind} delivery")
    kind = TICKET_KIND.get(sender.kind, default_kind)
    try:
        ref = parse_ref(str(ident), kind, what="webhook ticket")
    except UsageError as exc:
        raise Refused(400, exc.message) from None
    if default_kind is not None and ref.kind != default_kind:
        raise Refused(400, f"ticket {ref} is not in this profile's ticket system "
                           f"({default_kind})")
    event = event or "created"
    if not EVENT.fullmatch(event):
        raise Refused(400, "the event name is not plain (letters, digits, :._-)")
    return Delivery(sender=sender.name, ticket=str(ref), key=f"{ref}:{event}", kind=ref.kind)


def _ticket_and_event(kind: str, data: dict[str, Any],
                      headers: Mapping[str, str]) -> tuple[Any, str | None]:
    def get(*path: str) -> Any:
        value: Any = data
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        return value

    if kind == "zammad":  # trigger webhook: ticket and article objects
        article = get("article", "id")
        return get("ticket", "id"), f"article-{article}" if article is not None else None
    if kind == "jira":  # {"webhookEvent": "jira:issue_created", "issue": {"key": "HD-12"}}
        event = get("webhookEvent")
        return get("issue", "key"), str(event) if event else None
    if kind == "servicenow":  # outbound REST message: the record's number (INC0012345)
        return (get("number") or get("record", "number") or get("result", "number"),
                _text(get("event")))
    if kind == "glpi":  # {"event": "new", "itemtype": "Ticket", "items_id": 12, "item": {}}
        if get("itemtype") not in (None, "Ticket"):
            return None, None
        return get("item", "id") or get("items_id"), _text(get("event"))
    return get("ticket"), _text(get("event"))


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, (str, int)) and str(value) else None
