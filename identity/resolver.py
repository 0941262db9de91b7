"""DID resolution (did:key locally, did:web over guarded HTTPS) with a TTL cache.

Verifying a DCP call resolves the caller and every issuer; caching parsed documents (with their
parsed keys) is what makes warm verification cheap. Concurrent misses for one DID share a fetch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from .did_document import DidDocument
from .did_key import resolve_did_key
from .did_web import did_web_to_url
from .errors import Reason, ResolutionError
from .http_guard import FetchPolicy, GuardedHttp

MAX_DID_LENGTH = 2048


class DidResolver:
    """Resolve DIDs to :class:`DidDocument`; did:web only towards hosts the policy allows."""

    def __init__(
        self,
        policy: FetchPolicy | None = None,
        *,
        ttl: float = 300.0,
        max_entries: int = 10_000,
        http: GuardedHttp | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy or FetchPolicy()
        self._http = http or GuardedHttp(self.policy)
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._cache: dict[str, tuple[float, DidDocument]] = {}
        self._inflight: dict[str, asyncio.Future[DidDocument]] = {}
        self._static: dict[str, DidDocument] = {}

    def add_static(self, document: dict[str, Any]) -> None:
        """Pin a document (e.g. our own DID) so it never goes to the network."""
        did = str(document.get("id"))
        self._static[did] = DidDocument.parse(document, did)

    def invalidate(self, did: str) -> None:
        self._cache.pop(did, None)

    async def close(self) -> None:
        await self._http.close()

    def cached(self, did: str) -> DidDocument | None:
        """The cached document if still fresh; the synchronous fast path."""
        static = self._static.get(did)
        if static is not None:
            return static
        hit = self._cache.get(did)
        if hit is not None and hit[0] > self._clock():
            return hit[1]
        return None

    async def resolve(self, did: str) -> DidDocument:
        if not isinstance(did, str) or len(did) > MAX_DID_LENGTH:
            raise ResolutionError(Reason.DID_UNRESOLVABLE, "DID missing or too long")
        did = did.split("#", 1)[0]
        doc = self.cached(did)
        if doc is not None:
            return doc
        pending = self._inflight.get(did)
        if pending is not None:
            return await asyncio.shield(pending)
        fut: asyncio.Future[DidDocument] = asyncio.get_running_loop().create_future()
        self._inflight[did] = fut
        try:
            doc = await self._resolve_uncached(did)
            self._store(did, doc)
            fut.set_result(doc)
            return doc
        except Exception as exc:
            fut.set_exception(exc)
            fut.exception()  # mark retrieved: waiters get it, nobody else needs to
            raise
        except BaseException:
            # our caller was cancelled: waiters get a resolution error, not a foreign cancel
            fut.set_exception(ResolutionError(Reason.DID_UNRESOLVABLE, "resolution cancelled"))
            fut.exception()
            raise
        finally:
            del self._inflight[did]

    def _store(self, did: str, doc: DidDocument) -> None:
        if len(self._cache) >= self._max:
            self._cache.pop(next(iter(self._cache)))
        self._cache[did] = (self._clock() + self._ttl, doc)

    async def _resolve_uncached(self, did: str) -> DidDocument:
        if did.startswith("did:key:"):
            return resolve_did_key(did)
        if did.startswith("did:web:"):
            url = did_web_to_url(did)
            host = urlsplit(url).hostname or ""
            if self.policy.allow_http and host in ("127.0.0.1", "::1", "localhost"):
                url = "http" + url[len("https") :]
            raw = await self._http.get_json(url)
            return DidDocument.parse(raw, did)
        raise ResolutionError(Reason.DID_UNRESOLVABLE, f"unsupported DID method: {did[:40]}")
