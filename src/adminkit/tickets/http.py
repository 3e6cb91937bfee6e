"""What the HTTP ticket backends share: one httpx client, and status codes to errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from adminkit.core.config import Profile
from adminkit.core.errors import AuthenticationFailed, ConfigError, ConnectionFailed, UsageError
from adminkit.tickets.base import Rejected, RetryLater, TicketNotFound
from adminkit.tickets.settings import TicketsConfig

if TYPE_CHECKING:
    import httpx

RETRY_AFTER_MAX = 3600.0  # an hour: longer asks are retried hourly, within the note's limits
# "not now" from the system as a whole, not about one request: rate limited, or a gateway
# in front of it that cannot reach it (a 500 may be one ticket's trouble)
SYSTEM_WIDE = frozenset({429, 502, 503, 504})
MAX_PAGES = 1000  # pages of one list read at most, whatever the server says of the rest


class PageGuard:
    """Ends a paged read the server would never end: one that says every page is not the
    last (or sends no total) with full pages, past `MAX_PAGES`, or one that ignores the
    offset and answers the same page again. Call it with each page's items."""

    def __init__(self, what: str, per_page: int) -> None:
        self.what, self.per_page, self.pages = what, per_page, 0
        self.last: list[Any] | None = None

    def __call__(self, items: list[Any]) -> None:
        self.pages += 1
        if items and items == self.last:
            raise ConnectionFailed(f"{self.what}: the ticket system answered the same page "
                                   "twice (it ignores the offset), stopped reading")
        if self.pages > MAX_PAGES:
            raise ConnectionFailed(f"{self.what}: more than {MAX_PAGES * self.per_page} "
                                   "items, stopped reading")
        self.last = items


def client(profile: Profile, cfg: TicketsConfig, headers: dict[str, str]) -> httpx.Client:
    import httpx

    if not cfg.url:
        raise UsageError(f"profile {profile.name}: tickets.url is not set")
    check_url(profile, cfg)
    from adminkit.core.files import tls_context
    from adminkit.tickets.bounded import ask_bounded, bound
    from adminkit.tickets.deadline import DeadlineTransport, environment_proxy

    context = tls_context(cfg.ca_file, "tickets.ca_file")
    return httpx.Client(base_url=cfg.url.rstrip("/"), headers=headers, timeout=15,
                        verify=context,
                        transport=DeadlineTransport(context, environment_proxy(cfg.url)),
                        event_hooks={"request": [ask_bounded], "response": [bound]})


def check_url(profile: Profile, cfg: TicketsConfig) -> None:
    """An http(s) address; plain http only to this machine or with `insecure: true`,
    since every request carries the token or password."""
    from urllib.parse import urlsplit

    from adminkit.core.transport import require_tls

    url = urlsplit(cfg.url or "")
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ConfigError(f"profile {profile.name}: tickets.url {cfg.url!r} is not an "
                          "http(s):// address")
    require_tls("tickets", f"{url.scheme}://{url.netloc}", url.hostname,
                tls=url.scheme == "https", insecure=cfg.insecure,
                carries="the API token or password", fix="use an https:// tickets.url")


def basic_auth(profile: Profile, cfg: TicketsConfig, label: str) -> str:
    """The `Authorization` value for HTTP Basic with the profile's user and password."""
    import base64

    from adminkit.core.secrets import Secret

    assert cfg.user and cfg.password
    raw = f"{cfg.user}:{profile.secret(cfg.password, label).reveal()}"
    encoded = base64.b64encode(raw.encode()).decode()
    Secret(encoded)  # known to `redact`: an error page that echoes the header is scrubbed
    return "Basic " + encoded


def retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds (a number or an HTTP date), or None when absent or
    unreadable. Whatever the server sends ("inf", "1e300", a date without a zone, a
    year), the answer is a finite number of seconds no longer than `RETRY_AFTER_MAX`:
    the outbox's own limits decide when to give up, not the server."""
    import math

    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        from datetime import UTC, datetime

        if moment.tzinfo is None:  # "-0000": a time in UTC whose zone is not known
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - datetime.now(UTC)).total_seconds()
    if math.isnan(seconds):
        return None
    return min(max(0.0, seconds), RETRY_AFTER_MAX)


def check(response: httpx.Response, what: str, *, missing: tuple[int, ...] = (404,)) -> None:
    """Raise the adminkit error for a failed response; return quietly on success."""
    code = response.status_code
    if code < 300:
        return
    if code < 400:
        raise Rejected(f"{what}: the ticket system redirected to {_where(response)} "
                       f"(HTTP {code}); adminkit does not follow redirects with the "
                       "credentials", hint="set tickets.url to the address the API answers at")
    if code == 401:
        raise AuthenticationFailed(f"{what}: the ticket system refused the credentials (401)")
    if code in missing:
        raise TicketNotFound(f"{what}: no such ticket, or no right to see it ({code})")
    if code == 429 or code >= 500:
        raise RetryLater(f"{what}: HTTP {code}", retry_after=retry_after(response),
                         system_wide=code in SYSTEM_WIDE)
    raise Rejected(f"{what}: HTTP {code}: {response.text[:200]}")


def _where(response: httpx.Response) -> str:
    """A redirect's target, for a message: scheme, host and path; no user, no query."""
    from urllib.parse import urlsplit

    from adminkit.core.secrets import redact

    target = urlsplit(response.headers.get("Location", ""))
    if not target.netloc and not target.path:
        return "nowhere (no Location)"
    host = target.hostname or "this server"
    port = f":{target.port}" if target.port else ""
    return redact(f"{target.scheme + '://' if target.scheme else ''}{host}{port}"
                  f"{target.path[:80]}")


def check_login(response: httpx.Response, what: str, *, hint: str | None = None) -> None:
    """For a "who am I" call (`ping`), where no ticket is involved: 401 or 403 means the
    credentials were refused, 404 that `tickets.url` is not the API; the rest as `check`."""
    code = response.status_code
    if code in (401, 403):
        raise AuthenticationFailed(f"{what}: the ticket system refused the credentials "
                                   f"({code})", hint=hint)
    if code == 404:
        raise ConnectionFailed(f"{what}: no such address on the ticket system (404)",
                               hint="is tickets.url the ticket system's base address?")
    check(response, what)


def first_line(response: httpx.Response) -> str:
    """The body's first non-blank line, short and scrubbed, to show what came instead."""
    from adminkit.core.secrets import redact

    text = response.text if response.content else ""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return redact(line[:120]) or "an empty body"


def json_of(response: httpx.Response, what: str, text: str | None = None) -> Any:
    """The body (or `text`) as JSON; anything else (a proxy's login page, a PHP warning)
    is a failed call that names the body's first line, never a ValueError."""
    import json

    try:
        return json.loads(response.content if text is None else text)
    except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
        kind = response.headers.get("Content-Type", "no type")
        raise ConnectionFailed(f"{what}: the answer was not JSON (HTTP {response.status_code}, "
                               f"{kind}): {first_line(response)}") from None


def error_json(response: httpx.Response) -> dict[str, Any]:
    """An error answer's JSON object, to read the vendor's reason from; `{}` for
    anything else (HTML, a list, a string, JSON nested too deep to parse)."""
    import json

    try:
        data = json.loads(response.content)
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def json_body(response: httpx.Response, what: str, shape: type = dict) -> Any:
    """The body as JSON of the expected shape; a 2xx that is not JSON is a failed call."""
    data = json_of(response, what)
    if not isinstance(data, shape):
        raise ConnectionFailed(f"{what}: expected a JSON {shape.__name__}, got "
                               f"{type(data).__name__}")
    return data


def read_name(http: httpx.Client, path: str, what: str, *keys: str,
              cache: dict[str, str | None],
              checked: Callable[[httpx.Response, str], None] | None = None) -> str | None:
    """A name an answer gives only by id (RT's queue, Redmine's project identifier): one
    GET of `path` per `cache`, the string at `keys` in its JSON. None where the account
    may not see it (403, 404) or the answer has none, and, not kept, where the lookup
    fails (5xx, no answer, a bad answer): the ticket is then judged by the id and names
    it gave itself, so a failed lookup never widens the profile's queues. Other errors
    raise as `checked` (default check); refused credentials always raise."""
    if path not in cache:
        try:
            r = send(lambda: http.get(path), what)
            if r.status_code in (403, 404):
                cache[path] = None
                return None
            (checked or check)(r, what)
            value: Any = json_body(r, what)
        except AuthenticationFailed:
            raise
        except ConnectionFailed:
            return None
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        cache[path] = value if isinstance(value, str) and value else None
    return cache[path]


def send(call: object, what: str) -> httpx.Response:
    """Run an httpx call, turning network trouble into RetryLater."""
    import httpx

    assert callable(call)
    try:
        response: httpx.Response = call()
    except httpx.ConnectError as exc:
        if "CERTIFICATE_VERIFY_FAILED" in str(exc):  # configuration, not weather: no retry
            raise Rejected(f"{what}: the ticket system's TLS certificate could not be "
                           "verified", hint="set tickets.ca_file to the CA that signed it") \
                from None
        raise RetryLater(f"{what}: {type(exc).__name__}: {exc}", system_wide=True) from None
    except httpx.TimeoutException as exc:  # no answer in time: the system, not the request
        raise RetryLater(f"{what}: {type(exc).__name__}: {exc}", system_wide=True) from None
    except httpx.HTTPError as exc:
        raise RetryLater(f"{what}: {type(exc).__name__}: {exc}") from None
    return response
