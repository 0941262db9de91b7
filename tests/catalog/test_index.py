"""The index on both engines (migration 0014 through a running connector, then the library
API on its engine): search, facets, and a replace that fails leaving the old entries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy.exc import IntegrityError

from marketplace.catalog.entries import Entry
from marketplace.catalog.index import CatalogIndex, index_for
from marketplace.catalog.query import parse_query
from tests.dsp.helpers import start_node


def entry(node: str, i: int, title: str, **kw: Any) -> Entry:
    return Entry(
        node=node,
        dataset_id=f"urn:ds:{i}",
        title=title,
        publisher=node,
        document={"@id": f"urn:ds:{i}"},
        **kw,
    )


async def test_index_on_each_engine(db_url: str, tmp_path: Path) -> None:
    async with aiohttp.ClientSession() as http:
        node = await start_node(
            tmp_path,
            "crawler",
            "company",
            storage_url=db_url,
            http=http,
            extra={"catalog": {"enabled": True, "crawl_on_start": False}},
        )
        try:
            assert node.connector.ctx is not None
            index: CatalogIndex = index_for(node.connector.ctx.engine)
            await index.replace_node(
                "did:a",
                [
                    entry(
                        "did:a",
                        1,
                        "Air quality stations",
                        entity_types=("AirQualityObserved",),
                        bbox=(-1.2, 37.9, -1.0, 38.0),
                    ),
                    entry("did:a", 2, "Parking occupancy", keywords=("air",)),
                ],
            )
            await index.replace_node("did:b", [entry("did:b", 1, "Airport noise")])
            found = await index.search(parse_query({"q": "air"}))
            assert found.total == 3
            # a word in the title outranks the same word as a keyword
            assert found.items[-1]["title"] == "Parking occupancy"
            typed = await index.search(
                parse_query({"q": "air", "type": "AirQualityObserved", "facets": "true"})
            )
            assert typed.total == 1 and typed.facets["publisher"] == {"did:a": 1}
            status, body = await node.admin("GET", "/catalog/search?q=airport")
            assert status == 200 and body["total"] == 1 and body["items"][0]["node"] == "did:b"

            # a replace that fails half-way (two entries with one id) changes nothing
            bad = [entry("did:a", 9, "Replacement"), entry("did:a", 9, "Replacement")]
            with pytest.raises(IntegrityError):
                await index.replace_node("did:a", bad)
            assert await index.count("did:a") == 2
            assert (await index.search(parse_query({"q": "replacement"}))).total == 0
            assert (await index.search(parse_query({"q": "parking"}))).total == 1
            await index.replace_node("did:a", [])
            assert await index.count() == 1
        finally:
            await node.connector.stop()


async def test_catalog_off_by_default_for_members(tmp_path: Path) -> None:
    async with aiohttp.ClientSession() as http:
        node = await start_node(tmp_path, "city", "city", http=http)
        try:
            status, body = await node.admin("GET", "/catalog/search?q=x")
            assert status == 404 and "off" in body["detail"]
            status, doc = await node.admin("GET", "/openapi.json")
            assert status == 200
            names = {p["name"] for p in doc["paths"]["/catalog/search"]["get"]["parameters"]}
            assert {"q", "type", "bbox", "price_max", "free", "publisher"} <= names
            assert "get" in doc["paths"]["/catalog/nodes"]
        finally:
            await node.connector.stop()


async def test_periodic_crawl_picks_up_new_datasets(tmp_path: Path) -> None:
    import asyncio

    from tests.catalog.test_crawl import publish

    async def datasets_of(crawler: Any, did: str, want: int) -> None:
        for _ in range(300):
            status, body = await crawler.admin("GET", "/catalog/nodes")
            assert status == 200
            found = {n["did"]: n for n in body["nodes"]}
            if did in found and found[did]["datasets"] == want:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"{did} never had {want} datasets: {body}")

    async with aiohttp.ClientSession() as http:
        city = await start_node(tmp_path, "city", "city", http=http)
        await publish(city, "Air quality", ["AirQualityObserved"])
        crawler = await start_node(
            tmp_path,
            "crawler",
            "company",
            http=http,
            extra={
                "identity": {"allow_http_hosts": ["127.0.0.1"]},
                "catalog": {
                    "enabled": True,
                    "period_s": 1,
                    "backoff_s": 1,
                    "nodes": [{"did": city.did, "url": city.dsp_url}],
                },
            },
        )
        try:
            await datasets_of(crawler, city.did, 1)  # the crawl at start
            await publish(city, "Noise", ["NoiseLevelObserved"])
            await datasets_of(crawler, city.did, 2)  # a later round, without being asked
        finally:
            await crawler.connector.stop()
            await city.connector.stop()


async def test_common_words_and_facets_at_scale(db_url: str) -> None:
    """More matches than are counted: relevance by tier (every word in the title first, each
    tier newest first), pages that cross tiers, facets narrowing the text query."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from marketplace.catalog.index import COUNT_CAP

    engine = create_async_engine(db_url)
    index = index_for(engine)
    await index.create_schema()
    try:
        half = COUNT_CAP // 2 + 60
        items = []
        for i in range(2 * half):
            in_title = i % 2 == 0
            items.append(
                entry(
                    "did:big" if i % 4 else "did:other",
                    i,
                    f"River levels {i}" if in_title else f"Gauge {i}",
                    keywords=() if in_title else ("river",),
                    entity_types=("https://smartdatamodels.org/WaterObserved" if i % 3 else "X",),
                )
            )
        # two publishers' entries, each under its own node (the publisher is the node)
        for node in ("did:big", "did:other"):
            await index.replace_node(node, [e for e in items if e.node == node])
        found = await index.search(parse_query({"q": "river", "limit": "100"}))
        assert not found.exact and found.total == COUNT_CAP
        titles = [i["title"] for i in found.items]
        assert all(t.startswith("River levels") for t in titles)
        numbers = [int(t.rsplit(" ", 1)[1]) for t in titles]
        assert len(set(numbers)) == 100
        # the page that crosses from the title tier into the keyword tier
        crossing = await index.search(
            parse_query({"q": "rive", "limit": "100", "offset": str(half - 50)})
        )
        kinds = [i["title"].split(" ")[0] for i in crossing.items]
        assert kinds == ["River"] * 50 + ["Gauge"] * 50
        # every match reached once through the pages
        seen: set[str] = set()
        for offset in range(0, 2 * half, 100):
            page = await index.search(
                parse_query({"q": "river", "limit": "100", "offset": str(offset)})
            )
            seen.update(i["datasetId"] for i in page.items)
        assert len(seen) == 2 * half
        # a facet narrows the text query: type (short name), publisher, both
        typed = await index.search(
            parse_query({"q": "river", "type": "WaterObserved", "limit": "100"})
        )
        want_typed = sum(1 for i in range(2 * half) if i % 3)
        assert typed.total == want_typed
        assert all(
            i["entityTypes"] == ["https://smartdatamodels.org/WaterObserved"] for i in typed.items
        )
        other = await index.search(parse_query({"q": "river", "publisher": "did:other"}))
        assert other.exact and other.total == sum(1 for i in range(2 * half) if i % 4 == 0)
        both = await index.search(
            parse_query({"q": "gauge", "publisher": "did:big", "type": "X", "limit": "100"})
        )
        want = [i for i in range(2 * half) if i % 2 and i % 4 and i % 3 == 0]
        assert sorted(int(i["title"].split()[1]) for i in both.items) == sorted(want)[:100]
        assert both.total == len(want)
        # without words, the same facets are plain filters
        assert (
            await index.search(parse_query({"type": "X", "publisher": "did:big"}))
        ).total == len([i for i in range(2 * half) if i % 4 and i % 3 == 0])
        # the price sort, with no free ones asked for, stays correct
        priced = await index.search(parse_query({"free": "false", "sort": "price"}))
        assert priced.total == 0
    finally:
        await engine.dispose()
