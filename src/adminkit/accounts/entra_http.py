"""Requests to Microsoft Graph for the Entra backend: one request, or many as `$batch`.

Two transports with one interface (`send`, `send_many`, `close`):

- `LightGraph`: synchronous httpx and a client-credentials token fetched with it (see
  entra_token.py). Read-only commands (`account show`, `account find`) use it: no asyncio,
  no azure-identity, no msgraph import, so they start in a fraction of a second.
- `BridgedGraph`: inside a run. An httpx.AsyncClient with msgraph-core's middleware
  pipeline (GraphClientFactory: retries of reads on 429/503/504 with `Retry-After`,
  redirects, telemetry), an azure-identity credential whose token serves every worker,
  all on the run's one event loop (`Context.bridge`). Writes from every worker are
  gathered into `$batch` posts of up to 20 (posted by hand: the SDK's batch helper
  sends absolute URLs and drops bodies), at most `concurrency` in flight; an item
  answered 429 waits its own `Retry-After` and goes again, the others are answered.

A `$batch` post is never retried blindly: its items may have been done. Its answer
lost, each write is answered `LOST` and the backend decides (a create looks the user
up; a replace or a membership change is simply made again).
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

from adminkit.accounts.entra_token import EntraSettings, TokenSource, light_token
from adminkit.core.errors import ActionFailed, ConnectionFailed

if TYPE_CHECKING:
    import asyncio

    import httpx

    from adminkit.core.bridge import AsyncBridge

log = logging.getLogger("adminkit.accounts")
BATCH_MAX = 20  # Graph's limit of requests in one $batch
RETRIES = 5  # attempts of one request answered 429/503/504
RETRY_AFTER_MAX = 120.0  # seconds: a longer Retry-After is an error, not a wait
LOST = 0  # the status of an answer that never came (connection lost after sending)
RETRYABLE = (429, 503, 504)
THROTTLED_MAX = 30  # times one $batch item may be answered 429 before it fails


@dataclass(frozen=True)
class Req:
    """One Graph request; `url` is relative to the version root (`/users/…?$select=…`)."""

    method: str
    url: str
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def error(self) -> tuple[str, str, list[dict[str, Any]]]:
        """(code, message, details) of a Graph error body."""
        err = self.body.get("error") if isinstance(self.body, dict) else None
        if not isinstance(err, dict):
            return "", "", []
        return (str(err.get("code") or ""), str(err.get("message") or ""),
                list(err.get("details") or []))

    def retry_after(self) -> float:
        raw = {k.lower(): v for k, v in self.headers.items()}.get("retry-after", "")
        try:
            return max(0.0, float(raw))
        except ValueError:
            pass
        from email.utils import parsedate_to_datetime

        try:  # an HTTP date (RFC 9110): the seconds until then
            return max(0.0, parsedate_to_datetime(raw).timestamp() - time.time())
        except (TypeError, ValueError):
            return 1.0


def url(path: str, **params: Any) -> str:
    """A relative Graph URL; every value percent-encoded (OData quoting is the caller's)."""
    query = urlencode({k: v for k, v in params.items() if v is not None}, quote_via=quote,
                      safe="$,")
    return f"{path}?{query}" if query else path


def segment(value: str) -> str:
    """A key in a path (a UPN: `/` `#` `%` `?` and quotes all percent-encoded)."""
    return quote(value, safe="@")


def odata_string(value: str) -> str:
    """An OData string literal: single-quoted, a quote doubled. The URL encoding of the
    whole query (url()) then keeps `&`, `#`, `%` and `+` from ending or bending it."""
    return "'" + value.replace("'", "''") + "'"


def batch_body(reqs: Sequence[Req]) -> dict[str, Any]:
    """A `$batch` request body; ids are the positions in `reqs`, URLs relative."""
    return {"requests": [
        {"id": str(k), "method": r.method, "url": r.url,
         **({"body": r.body, "headers": {"Content-Type": "application/json", **r.headers}}
            if r.body is not None else ({"headers": r.headers} if r.headers else {}))}
        for k, r in enumerate(reqs)]}


def unbatch(answer: Answer, count: int) -> list[Answer]:
    """The items' answers of a `$batch` answer, by position; a failed post is each's."""
    if answer.status == LOST or not answer.ok or not isinstance(answer.body, dict):
        return [Answer(answer.status, answer.headers, answer.body) for _ in range(count)]
    found: dict[str, Answer] = {}
    twice: set[str] = set()
    items = answer.body.get("responses")
    for item in items if isinstance(items, list) else []:
        status = item.get("status") if isinstance(item, dict) else None
        if not isinstance(status, int) or isinstance(status, bool):
            continue  # not an answer Graph gives: as if it had not come
        headers = item.get("headers")
        key = str(item.get("id"))
        if key in found:
            twice.add(key)  # two answers to one request: neither can be believed
        found[key] = Answer(status, dict(headers) if isinstance(headers, dict) else {},
                            item.get("body"))
    return [Answer(LOST, {}, None) if str(k) in twice else found.get(str(k), Answer(LOST, {}, None))
            for k in range(count)]


def absolute(settings: EntraSettings, relative: str) -> str:
    """The absolute URL of a request relative to the profile's Graph endpoint; one that
    would leave that endpoint's scheme, host and port (a hostile next link such as
    `…/v1.0/https://elsewhere/…`) is refused before anything, the token least of all,
    is sent."""
    full = settings.graph + relative
    here, there = urlsplit(settings.graph), urlsplit(full)
    if not relative.startswith("/") or relative.startswith("//") or \
            (there.scheme, there.netloc) != (here.scheme, here.netloc) or \
            not there.path.startswith(here.path + "/") or "/https:" in there.path.casefold() \
            or "/http:" in there.path.casefold() \
            or any(part in (".", "..") for part in there.path.split("/")):
        raise ActionFailed(f"Graph sent a link outside {settings.graph}: not followed")
    return full


def _ssl(settings: EntraSettings) -> ssl.SSLContext:
    from adminkit.core.files import tls_context

    return tls_context(settings.ca_file, "directory.ca_file")


def _headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items()}


def _json(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return {"error": {"code": "NonJsonAnswer", "message": response.text[:200]}}


def _unreachable(settings: EntraSettings, exc: Exception) -> ConnectionFailed:
    return ConnectionFailed(f"cannot reach Microsoft Graph at {settings.graph}: "
                            f"{type(exc).__name__}: {exc}",
                            hint="check the profile's directory url, the network, and "
                                 "ca_file if the endpoint uses a private CA")


class LightGraph:
    """Synchronous and light (the standard library's HTTPS): read-only commands."""

    def __init__(self, settings: EntraSettings, secret: Any) -> None:
        from adminkit.accounts.entra_light import LightHttps

        self.settings = settings
        self._http = LightHttps(_ssl(settings), settings.timeout)
        self._secret = secret
        self._token: tuple[str, float] | None = None

    def _bearer(self) -> str:
        if self._token is None or self._token[1] < time.time() + 60:
            self._token = light_token(self._post_form, self.settings, self._secret)
        return self._token[0]

    def _post_form(self, url: str, form: dict[str, str]) -> tuple[int, Any]:
        try:
            status, _, body = self._http.request(
                "POST", url, body=urlencode(form).encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded",
                         "Accept": "application/json"})
        except OSError as exc:
            raise ConnectionFailed(f"cannot reach the sign-in endpoint "
                                   f"{self.settings.authority}: {type(exc).__name__}",
                                   hint="check options.authority, the network and ca_file"
                                   ) from None
        return status, body

    def send(self, req: Req) -> Answer:
        import http.client
        import json

        for attempt in range(RETRIES):
            headers = {"Authorization": "Bearer " + self._bearer(),
                       "Accept": "application/json", **req.headers}
            body = None
            if req.body is not None:
                body = json.dumps(req.body).encode()
                headers["Content-Type"] = "application/json"
            try:
                status, found, parsed = self._http.request(
                    req.method, absolute(self.settings, req.url), body=body, headers=headers)
            except (OSError, http.client.HTTPException) as exc:
                if req.method == "GET" and attempt < RETRIES - 1:
                    time.sleep(0.5)
                    continue
                if req.method != "GET" and not isinstance(exc, ConnectionRefusedError):
                    return Answer(LOST, {}, None)
                raise _unreachable(self.settings, exc) from None
            answer = Answer(status, found, parsed)
            if answer.status in RETRYABLE and attempt < RETRIES - 1 \
                    and answer.retry_after() <= RETRY_AFTER_MAX:
                time.sleep(answer.retry_after() or 1.0)
                continue
            return answer
        raise AssertionError("unreachable")

    def send_many(self, reqs: Sequence[Req]) -> list[Answer]:
        return [self.send(r) for r in reqs]

    def send_writes(self, reqs: Sequence[Req]) -> list[Answer]:
        return [self.send(r) for r in reqs]

    def batch(self, reqs: Sequence[Req]) -> list[Answer]:
        """Reads in one `$batch` post (at most 20); their answers in the order of `reqs`.
        The post itself failing is every item's answer."""
        answer = self.send(Req("POST", "/$batch", batch_body(reqs)))
        return unbatch(answer, len(reqs))

    def close(self) -> None:
        self._http.close()


class _Batcher:
    """Writes from every worker, gathered into `$batch` posts on the loop."""

    def __init__(self, graph: AsyncGraph, concurrency: int, linger: float) -> None:
        import asyncio

        self.graph = graph
        self.linger = linger
        self.queue: list[tuple[Req, asyncio.Future[Answer]]] = []
        self.slots = asyncio.Semaphore(concurrency)
        self.flushing = False
        self.tasks: set[asyncio.Task[None]] = set()
        self.tries: dict[int, int] = {}  # times an item was throttled, by its waiter's id
        self.quiet_until = 0.0  # monotonic time before which no batch is posted (429)

    async def submit(self, req: Req) -> Answer:
        import asyncio

        done: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self.queue.append((req, done))
        self._kick()
        return await done

    def _kick(self) -> None:
        import asyncio

        if not self.flushing and self.queue:
            self.flushing = True
            task = asyncio.get_running_loop().create_task(self._flush())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _flush(self) -> None:
        import asyncio

        try:
            if len(self.queue) < BATCH_MAX:
                await asyncio.sleep(self.linger)  # let the other workers' writes join
            while self.queue:
                await self.slots.acquire()
                chunk, self.queue = self.queue[:BATCH_MAX], self.queue[BATCH_MAX:]
                chunk = [(r, f) for r, f in chunk if not f.done()]  # cancelled waiters
                task = asyncio.get_running_loop().create_task(self._post(chunk))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
        finally:
            self.flushing = False
            if self.queue:
                self._kick()

    async def _post(self, chunk: list[tuple[Req, asyncio.Future[Answer]]]) -> None:
        import asyncio

        retry: list[tuple[float, tuple[Req, asyncio.Future[Answer]]]] = []
        try:
            if not chunk:
                return
            wait = self.quiet_until - time.monotonic()
            if wait > 0:  # the quota said wait: no post before then, from any worker
                await asyncio.sleep(wait)
            answers = await self.graph.batch([r for r, _ in chunk])
            for item, answer in zip(chunk, answers, strict=True):
                # 429: not done, ask again later; a read may go again on 503/504 too
                again = answer.status == 429 or (answer.status in RETRYABLE
                                                 and item[0].method == "GET")
                tries = self.tries.get(id(item[1]), 0) + 1
                if again and answer.retry_after() <= RETRY_AFTER_MAX and tries < THROTTLED_MAX:
                    self.tries[id(item[1])] = tries
                    retry.append((answer.retry_after() or 1.0, item))
                elif not item[1].done():
                    self.tries.pop(id(item[1]), None)
                    item[1].set_result(answer)
        except Exception as exc:  # noqa: BLE001 - every waiter gets it
            for _, done in chunk:
                if not done.done():
                    done.set_exception(exc)
        finally:
            self.slots.release()
        if retry:
            self.graph.throttled += len(retry)
            longest = max(w for w, _ in retry)
            self.quiet_until = max(self.quiet_until, time.monotonic() + longest)
            await asyncio.sleep(longest)
            self.queue.extend(item for _, item in retry)
            self._kick()


class AsyncGraph:
    """httpx.AsyncClient with msgraph-core's middleware; the token from azure-identity."""

    def __init__(self, settings: EntraSettings, tokens: TokenSource) -> None:
        import httpx
        from msgraph_core import GraphClientFactory  # type: ignore[import-untyped]

        self.settings = settings
        self.tokens = tokens
        client = httpx.AsyncClient(verify=_ssl(settings), timeout=settings.timeout,
                                   limits=httpx.Limits(max_connections=settings.concurrency * 2
                                                       + 4))
        self._http = GraphClientFactory.create_with_default_middleware(client=client)
        self._http.base_url = httpx.URL(settings.graph + "/")
        self._batcher: _Batcher | None = None
        self.throttled = 0  # batch items answered 429 (and sent again)
        self.batches = 0

    async def _headers(self, extra: dict[str, str]) -> dict[str, str]:
        return {"Authorization": "Bearer " + await self.tokens.get(), "Accept":
                "application/json", **extra}

    async def send(self, req: Req, *, retry: bool = True) -> Answer:
        import httpx
        from kiota_http.middleware.middleware import REQUEST_OPTIONS_KEY
        from kiota_http.middleware.options import RetryHandlerOption

        options = {} if retry else {REQUEST_OPTIONS_KEY: {
            RetryHandlerOption.get_key(): RetryHandlerOption(max_retries=0)}}
        target = httpx.URL(absolute(self.settings, req.url))
        try:
            response = await self._http.request(
                req.method, target, json=req.body,
                headers=await self._headers(req.headers), extensions=options)
        except httpx.ConnectError as exc:
            raise _unreachable(self.settings, exc) from None
        except httpx.HTTPError as exc:
            if req.method != "GET" or not retry:
                return Answer(LOST, {}, None)
            raise _unreachable(self.settings, exc) from None
        return Answer(response.status_code, _headers(response), _json(response))

    async def batch(self, reqs: Sequence[Req]) -> list[Answer]:
        """One `$batch` post; its items' answers in the order of `reqs`. The post as a
        whole throttled or unavailable waits and goes again (nothing in it was done)."""
        import asyncio

        body = batch_body(reqs)
        for _ in range(RETRIES):
            self.batches += 1
            answer = await self.send(Req("POST", "/$batch", body), retry=False)
            if (answer.status == 429 or (answer.status == 503 and "retry-after" in {
                    k.lower() for k in answer.headers})) \
                    and answer.retry_after() <= RETRY_AFTER_MAX:
                await asyncio.sleep(answer.retry_after() or 1.0)
                continue
            break
        return unbatch(answer, len(reqs))

    async def send_batched(self, req: Req) -> Answer:
        if self._batcher is None:
            self._batcher = _Batcher(self, self.settings.concurrency, self.settings.linger)
        return await self._batcher.submit(req)

    async def send_many(self, reqs: Sequence[Req]) -> list[Answer]:
        import asyncio

        chunks = [list(reqs[k:k + BATCH_MAX]) for k in range(0, len(reqs), BATCH_MAX)]
        if len(reqs) == 1:
            return [await self.send(reqs[0])]
        out: list[Answer] = []
        for answers in await asyncio.gather(*(self._batch_reads(c) for c in chunks)):
            out += answers
        return out

    async def _batch_reads(self, reqs: list[Req]) -> list[Answer]:
        import asyncio

        answers = await self.batch(reqs)
        for _ in range(RETRIES):
            again = [k for k, a in enumerate(answers) if a.status in RETRYABLE
                     and a.retry_after() <= RETRY_AFTER_MAX]  # longer: an error, not a wait
            if not again:
                break
            self.throttled += len(again)
            await asyncio.sleep(max(answers[k].retry_after() for k in again) or 1.0)
            for k, answer in zip(again, await self.batch([reqs[k] for k in again]),
                                 strict=True):
                answers[k] = answer
        return answers

    async def aclose(self) -> None:
        if self._batcher is not None:
            for task in list(self._batcher.tasks):
                task.cancel()
        with contextlib.suppress(Exception):
            await self._http.aclose()
        await self.tokens.close()


class BridgedGraph:
    """AsyncGraph driven from worker threads through the run's event loop."""

    def __init__(self, settings: EntraSettings, tokens: TokenSource,
                 bridge: AsyncBridge) -> None:
        self.settings = settings
        self.bridge = bridge
        self._graph: AsyncGraph | None = None
        self._tokens = tokens

    @property
    def graph(self) -> AsyncGraph:
        if self._graph is None:
            async def make() -> AsyncGraph:
                return AsyncGraph(self.settings, self._tokens)

            self._graph = self.bridge.run(make())  # its loop's objects, made on it
        return self._graph

    def send(self, req: Req) -> Answer:
        if req.method == "GET":
            return self.bridge.run(self.graph.send(req))
        return self.bridge.run(self.graph.send_batched(req))

    def send_many(self, reqs: Sequence[Req]) -> list[Answer]:
        return self.bridge.run(self.graph.send_many(reqs))

    def send_writes(self, reqs: Sequence[Req]) -> list[Answer]:
        """Writes together: they share `$batch` posts (with other workers' writes too)."""
        import asyncio

        graph = self.graph

        async def all_of() -> list[Answer]:
            return list(await asyncio.gather(*(graph.send_batched(r) for r in reqs)))

        return self.bridge.run(all_of())

    def close(self) -> None:
        if self._graph is not None:
            with contextlib.suppress(Exception):
                self.bridge.run(self._graph.aclose())

