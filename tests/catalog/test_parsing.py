"""The crawler's pure logic through marketplace.catalog's module API: parsing guards, the
node state machine, incremental re-crawls (dct:modified) with an in-test fetch."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from marketplace.catalog.crawler import Crawler, CrawlSettings, Page, Target, next_link
from marketplace.catalog.entries import Limits, parse_catalog
from marketplace.catalog.errors import CatalogError
from marketplace.catalog.index import index_for
from marketplace.catalog.nodes import Backoff, NodeStatus

NODE = "did:web:city"
OFFER = {"@id": "urn:o", "@type": "Offer", "permission": [{"action": "use"}]}


def ds(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "@id": f"urn:ds:{i}",
        "@type": "Dataset",
        "dct:title": f"D{i}",
        "hasPolicy": [OFFER],
        **extra,
    }


def catalog(datasets: list[Any], **extra: Any) -> dict[str, Any]:
    return {
        "@id": "urn:cat",
        "@type": "Catalog",
        "participantId": NODE,
        "dataset": datasets,
        **extra,
    }


def test_limits_and_publishers() -> None:
    parsed = parse_catalog(catalog([ds(i) for i in range(5)]), NODE, Limits(max_datasets=3))
    assert len(parsed.entries) == 3 and [r for _, r in parsed.refused] == ["too_many_datasets"] * 2
    # a nested catalog of another participant: its datasets are foreign
    other = {
        "@id": "urn:other",
        "@type": "Catalog",
        "participantId": "did:web:x",
        "dataset": [ds(9)],
    }
    parsed = parse_catalog(catalog([ds(1)], catalog=[other]), NODE)
    assert [e.dataset_id for e in parsed.entries] == ["urn:ds:1"]
    assert parsed.refused == [("urn:ds:9", "foreign_publisher")]
    # a catalog that names another participant is refused whole
    with pytest.raises(CatalogError) as err:
        parse_catalog({**catalog([ds(1)]), "participantId": "did:web:x"}, NODE)
    assert err.value.reason == "foreign_publisher"
    # nesting: a chain deeper than max_depth stops there
    chain: dict[str, Any] = {"@id": "urn:c9", "@type": "Catalog", "dataset": [ds(99)]}
    for level in range(8, 0, -1):
        chain = {"@id": f"urn:c{level}", "@type": "Catalog", "catalog": [chain]}
    parsed = parse_catalog(catalog([], catalog=[chain]), NODE, Limits(max_depth=3))
    assert parsed.entries == [] and parsed.refused[-1][1] == "too_deep"
    for bad in (None, [], {"@type": "Dataset"}, "x"):
        with pytest.raises(CatalogError):
            parse_catalog(bad, NODE)
    huge_title = ds(1, **{"dct:title": "x" * 10_000})
    bad_offer = ds(2, hasPolicy=[{"@id": "o", "profile": ["https://evil.example/p"]}])
    parsed = parse_catalog(catalog([huge_title, bad_offer, ds(3, hasPolicy="x")]), NODE)
    assert parsed.entries == [] and {r for _, r in parsed.refused} == {"invalid_catalog"}


def test_link_header_and_node_states() -> None:
    assert next_link('<https://a/x?page=2>; rel="next", <https://a/x>; rel="prev"') == (
        "https://a/x?page=2"
    )
    assert next_link('<https://a/x>; rel="previous"') is None and next_link(None) is None
    now = datetime(2026, 1, 1, tzinfo=UTC)
    backoff = Backoff(base_s=10, max_s=60, dead_after=3)
    s = NodeStatus(did=NODE, url="https://city/dsp")
    s = s.failed(now, "timeout", backoff)
    assert (s.state, s.failures, (s.next_attempt - now).total_seconds()) == ("offline", 1, 10)
    s = s.failed(now, "timeout", backoff).failed(now, "timeout", backoff)
    assert s.state == "dead" and (s.next_attempt - now).total_seconds() == 40
    s = s.succeeded(now, period_s=300, datasets=4, refused=0, etag=None, modified=None)
    assert (s.state, s.failures, s.last_error) == ("online", 0, None)


async def test_unchanged_modified_skips_the_replace(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'i.db'}")
    index = index_for(engine)
    await index.create_schema()
    served = {"doc": catalog([ds(1), ds(2)], **{"dct:modified": "2026-01-01"})}
    calls: list[str] = []

    async def fetch(url: str, target: Target, etag: str | None) -> Page:
        calls.append(url)
        import json

        return Page(200, json.dumps(served["doc"]).encode())

    crawler = Crawler(index, fetch, CrawlSettings())
    target = Target(NODE, "https://city/dsp")
    [status] = await crawler.crawl([target])
    assert status.state == "online" and status.datasets == 2
    served["doc"] = catalog([ds(3)], **{"dct:modified": "2026-01-01"})
    [status] = await crawler.crawl([target], force=True)
    assert await index.count(NODE) == 2  # same dct:modified: entries kept
    served["doc"] = catalog([ds(3)], **{"dct:modified": "2026-02-01"})
    [status] = await crawler.crawl([target], force=True)
    assert status.datasets == 1 and await index.count(NODE) == 1
    # not due yet: nothing fetched
    calls.clear()
    assert await crawler.crawl([target]) == [] and calls == []
    # leaves the targets: entries and node gone
    assert await crawler.crawl([]) == []
    assert await index.count(NODE) == 0 and await index.load_nodes() == {}
    await engine.dispose()
