"""Crawl members' DSP catalogs into the index: paging, guards, timeouts, bounded concurrency.

The crawler does no HTTP itself: the caller gives it a :class:`Fetch` (in the connector, the
SSRF-guarded client carrying the connector's DCP token, so every provider's access control
applies to what we see). Each node is crawled under its own timeout; anything wrong with it —
unreachable, slow, too large, too deep, invalid, a page cycle — is recorded on the node with
the reason and leaves its previous entries and every other node untouched. A node's new
entries replace its old ones in one transaction.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

from identity import safe_json
from marketplace.catalog.entries import Entry, Limits, parse_catalog
from marketplace.catalog.errors import CatalogError, Why
from marketplace.catalog.index import CatalogIndex
from marketplace.catalog.nodes import Backoff, NodeStatus


@dataclass(frozen=True)
class Target:
    """A node to crawl: the member's DID and its DSP base URL."""

    did: str
    url: str


@dataclass(frozen=True)
class Page:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


class FetchFailed(Exception):
    """The fetch was refused or failed; ``reason`` is one of :class:`Why`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


#: (page URL, node, ETag to send as If-None-Match or None) -> the answer
Fetch = Callable[[str, Target, str | None], Awaitable[Page]]


@dataclass(frozen=True)
class CrawlSettings:
    period_s: float = 300.0
    concurrency: int = 16
    node_timeout_s: float = 20.0
    limits: Limits = field(default_factory=Limits)
    backoff: Backoff = field(default_factory=Backoff)


_LINK = re.compile(r"<([^>]*)>([^,]*)")


def next_link(header: str | None) -> str | None:
    """The ``rel="next"`` target of an RFC 8288 Link header."""
    for target, params in _LINK.findall(header or ""):
        rels = re.findall(r'rel\s*=\s*"?([^";]+)"?', params)
        if any("next" in r.split() for r in rels):
            return target
    return None


def _same_origin(a: str, b: str) -> bool:
    x, y = urlsplit(a), urlsplit(b)
    return (x.scheme, x.hostname, x.port) == (y.scheme, y.hostname, y.port)


class Crawler:
    def __init__(self, index: CatalogIndex, fetch: Fetch, settings: CrawlSettings) -> None:
        self.index = index
        self.fetch = fetch
        self.settings = settings
        self._gate = asyncio.Semaphore(settings.concurrency)

    async def crawl(self, targets: Sequence[Target], *, force: bool = False) -> list[NodeStatus]:
        """One round: every due node (all with ``force``), at most ``concurrency`` at once.
        Nodes no longer among ``targets`` (left or no longer trusted) lose their entries."""
        known = await self.index.load_nodes()
        wanted = {t.did: t for t in targets}
        for did in set(known) - set(wanted):
            await self.index.replace_node(did, [])
            await self.index.forget_node(did)
        now = datetime.now(UTC)
        jobs = []
        for target in wanted.values():
            status = known.get(target.did) or NodeStatus(did=target.did, url=target.url)
            if status.url != target.url:
                status = NodeStatus(did=target.did, url=target.url)
            if force or status.due(now):
                jobs.append(self._guarded(target, status))
        return list(await asyncio.gather(*jobs))

    async def _guarded(self, target: Target, status: NodeStatus) -> NodeStatus:
        async with self._gate:
            try:
                async with asyncio.timeout(self.settings.node_timeout_s):
                    new = await self.crawl_node(target, status)
            except TimeoutError:
                new = status.failed(
                    datetime.now(UTC),
                    f"{Why.TIMEOUT}: no complete catalog in {self.settings.node_timeout_s} s",
                    self.settings.backoff,
                )
            except FetchFailed as exc:
                new = status.failed(datetime.now(UTC), str(exc), self.settings.backoff)
            except CatalogError as exc:
                new = status.failed(datetime.now(UTC), str(exc), self.settings.backoff)
            await self.index.save_node(new)
            return new

    async def crawl_node(self, target: Target, status: NodeStatus) -> NodeStatus:
        """Fetch every page, parse, replace the node's entries; raise on a failure."""
        limits = self.settings.limits
        url: str | None = target.url.rstrip("/") + "/catalog/request"
        visited: set[str] = set()
        seen_catalogs: set[str] = set()
        entries: list[Entry] = []
        refused: list[tuple[str, str]] = []
        etag: str | None = None
        modified = ""
        first = True
        while url is not None:
            if url in visited:
                raise CatalogError(Why.CYCLE, field="Link", expected="a new page", found=url)
            if len(visited) >= limits.max_pages:
                raise CatalogError(
                    Why.TOO_MANY, field="Link", expected=f"<= {limits.max_pages} pages"
                )
            visited.add(url)
            page = await self.fetch(url, target, status.etag if first else None)
            if first and page.status == 304 and status.last_success is not None:
                return status.unchanged(datetime.now(UTC), period_s=self.settings.period_s)
            if page.status != 200:
                said = page.body[:300].decode("utf-8", "replace")
                raise FetchFailed(Why.HTTP_STATUS, f"{url} answered HTTP {page.status}: {said}")
            try:
                doc = safe_json.loads(page.body)
            except safe_json.JsonRefused as exc:
                reason = Why.TOO_DEEP if "deeper" in exc.reason else Why.INVALID
                raise CatalogError(reason, field=url, expected="a JSON catalog") from None
            parsed = parse_catalog(
                doc,
                target.did,
                limits,
                seen=seen_catalogs,
                budget=limits.max_datasets - len(entries),
            )
            if first:
                etag = page.headers.get("ETag")
                modified = parsed.modified
                if (
                    modified
                    and modified == status.modified
                    and status.last_success is not None
                    and not status.refused
                ):
                    return status.unchanged(datetime.now(UTC), period_s=self.settings.period_s)
            first = False
            entries.extend(parsed.entries)
            refused.extend(parsed.refused)
            nxt = next_link(page.headers.get("Link"))
            url = urljoin(url, nxt) if nxt else None
            if url is not None and not _same_origin(url, target.url):
                raise FetchFailed(Why.REFUSED_URL, f"next page {url[:200]} is on another origin")
        unique: dict[str, Entry] = {}
        for entry in entries:
            if entry.dataset_id in unique:
                refused.append((entry.dataset_id, "duplicate_dataset"))
            else:
                unique[entry.dataset_id] = entry
        await self.index.replace_node(target.did, list(unique.values()))
        note = None
        if refused:
            counts = Counter(reason for _, reason in refused)
            note = "refused " + ", ".join(f"{n} {r}" for r, n in sorted(counts.items()))
        return status.succeeded(
            datetime.now(UTC),
            period_s=self.settings.period_s,
            datasets=len(unique),
            refused=len(refused),
            etag=etag,
            modified=modified or None,
            note=note,
        )
