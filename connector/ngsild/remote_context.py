"""Remote @context documents from an operator allow-list, fetched safely and cached.

By default the broker is fully offline: a context URL that is not bundled fails with
``LdContextNotAvailable``. An operator may list URL prefixes (``[ngsild] context_allow``) whose
contexts are fetched on demand. The URL is attacker-chosen input, so the fetch goes through the
identity package's SSRF-guarded client: https only (plain http only to an explicitly allowed
loopback test server), no loopback/private addresses unless allowed (checked again at connect
time), bounded time and size; a redirect is followed only while it stays within the allow-list.
Fetched documents are cached (bounded in entries and time) so a popular context costs one fetch.

The fetching is async, the context processing (:mod:`connector.ngsild.context`) is not: a
middleware fetches what a request names (its Link header, the ``@context`` of an ld+json body)
before the handler runs and makes the documents visible to it through a context variable.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urljoin, urlsplit

from aiohttp import web

from connector.http import safe_json
from connector.ngsild.context import BUNDLED_FILES, REMOTE_DOCUMENTS, Fetched, context_from_link
from connector.ngsild.errors import NgsiError, context_unavailable
from identity.errors import IdentityError
from identity.http_guard import FetchPolicy, GuardedHttp

JSONLD = "application/ld+json"
MAX_REDIRECTS = 3
MAX_DEPTH = 8


class RemoteContexts:
    """Fetches allowed remote contexts; an LRU cache with a time-to-live in front."""

    def __init__(
        self,
        prefixes: Iterable[str],
        *,
        timeout_s: float,
        max_bytes: int,
        cache_size: int,
        ttl_s: float,
        allow_loopback: bool = False,
        allow_private: bool = False,
    ) -> None:
        self.prefixes = tuple(prefixes)
        hosts = frozenset(
            host
            for p in self.prefixes
            for host in (urlsplit(p).hostname or "", urlsplit(p).netloc.lower())
            if host
        )
        self.http = GuardedHttp(
            FetchPolicy(
                allowed_hosts=hosts,
                allow_loopback=allow_loopback,
                allow_private=allow_private,
                allow_http=allow_loopback,
                timeout=timeout_s,
                max_bytes=max_bytes,
            )
        )
        self.cache_size = cache_size
        self.ttl_s = ttl_s
        self._cache: OrderedDict[str, tuple[float, Fetched]] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[Fetched]] = {}
        self._serials = itertools.count(1)

    def allowed(self, url: str) -> bool:
        return any(url.startswith(p) for p in self.prefixes)

    async def close(self) -> None:
        await self.http.close()

    async def get(self, url: str) -> Fetched:
        """The document at ``url`` (cached), or LdContextNotAvailable saying why not."""
        hit = self._cache.get(url)
        if hit is not None and hit[0] > time.monotonic():
            self._cache.move_to_end(url)
            return hit[1]
        running = self._inflight.get(url)
        if running is not None:  # one fetch for concurrent requests naming the same context
            return await asyncio.shield(running)
        future: asyncio.Future[Fetched] = asyncio.get_running_loop().create_future()
        self._inflight[url] = future
        try:
            fetched = Fetched(await self._fetch(url), next(self._serials))
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters get it, nobody else must
            raise
        finally:
            self._inflight.pop(url, None)
        future.set_result(fetched)
        self._cache[url] = (time.monotonic() + self.ttl_s, fetched)
        self._cache.move_to_end(url)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return fetched

    async def _fetch(self, url: str) -> dict[str, Any]:
        target = url
        for _ in range(MAX_REDIRECTS + 1):
            if not self.allowed(target):
                raise context_unavailable(
                    f"the @context {url} redirects to {target}, which is not on the allow-list"
                )
            try:
                status, body, location = await self._get(target)
            except IdentityError as exc:
                raise context_unavailable(
                    f"the @context {url} could not be fetched: {exc}"
                ) from None
            if status in (301, 302, 303, 307, 308) and location:
                target = urljoin(target, location)
                continue
            if status != 200:
                raise context_unavailable(f"the @context {url} answered HTTP {status}")
            try:
                doc = safe_json.loads(body)
            except (ValueError, RecursionError):
                raise context_unavailable(f"the @context {url} is not JSON") from None
            if not isinstance(doc, dict) or "@context" not in doc:
                raise context_unavailable(f"the document at {url} has no @context member")
            return doc
        raise context_unavailable(f"the @context {url} redirects more than {MAX_REDIRECTS} times")

    async def _get(self, url: str) -> tuple[int, bytes, str | None]:
        headers = {"Accept": f"{JSONLD}, application/json;q=0.9"}
        status, body, response_headers = await self.http.request("GET", url, headers=headers)
        return status, body, response_headers.get("Location")

    async def prefetch(self, contexts: Iterable[Any]) -> dict[str, Fetched]:
        """Every allowed, not bundled context URL these @context values name, transitively."""
        found: dict[str, Fetched] = {}
        pending = [(url, 0) for c in contexts for url in urls_in(c)]
        while pending:
            url, depth = pending.pop()
            if url in found or url in BUNDLED_FILES or not self.allowed(url):
                continue
            if depth > MAX_DEPTH:
                raise context_unavailable(f"the @context nests more than {MAX_DEPTH} remote levels")
            fetched = await self.get(url)
            found[url] = fetched
            pending += [(u, depth + 1) for u in urls_in(fetched.document.get("@context"))]
        return found


def urls_in(context: Any) -> list[str]:
    """The URLs an @context value refers to (entries of a list, ``@import``)."""
    if isinstance(context, str):
        return [context]
    if isinstance(context, list):
        return [u for item in context for u in urls_in(item)]
    if isinstance(context, dict) and isinstance(context.get("@import"), str):
        return [context["@import"]]
    return []


def _body_contexts(body: Any) -> list[Any]:
    if isinstance(body, dict):
        return [body["@context"]] if "@context" in body else []
    if isinstance(body, list):  # batch operations: one @context per entity
        return [item["@context"] for item in body if isinstance(item, dict) and "@context" in item]
    return []


def middleware(remote: RemoteContexts) -> Any:
    """Fetch the remote contexts a request names before its handler processes them."""

    @web.middleware
    async def fetch_contexts(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        contexts: list[Any] = []
        try:
            link = context_from_link(request.headers.get("Link"))
        except NgsiError:
            link = None  # the handler reports the bad header
        if link is not None:
            contexts.append(link)
        if request.content_type == JSONLD and request.can_read_body:
            try:
                contexts += _body_contexts(safe_json.loads(await request.read()))
            except (ValueError, RecursionError):
                pass  # the handler reports the bad body
        if not any(remote.allowed(u) for c in contexts for u in urls_in(c)):
            return await handler(request)
        token = REMOTE_DOCUMENTS.set(await remote.prefetch(contexts))
        try:
            return await handler(request)
        finally:
            REMOTE_DOCUMENTS.reset(token)

    return fetch_contexts
