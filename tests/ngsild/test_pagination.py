"""Pagination links: entity queries (GET and the batch Query), the subscription list, temporal
queries and the detailed type and attribute lists answer with ``Link`` values rel="prev"/
rel="next" that keep the query's other parameters; none before the first page, none after the
last."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.ngsild.conftest import Ngsi, air
from tests.ngsild_subscriptions.support import subscription

_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="([^"]+)"')


def rels(headers: Any) -> dict[str, str]:
    """rel → URL of the reply's Link values (the context link included)."""
    return {rel: url for url, rel in _LINK.findall(headers.get("Link", ""))}


async def walk(n: Ngsi, first: str, **params: str) -> list[list[str]]:
    """Follow rel="next" from the first page to the end; ids per page."""
    pages: list[list[str]] = []
    reply = await n.get(first, **params)
    while True:
        assert reply.status == 200, reply.body
        pages.append([item["id"] for item in reply.body])
        nxt = rels(reply.headers).get("next")
        if nxt is None:
            return pages
        assert len(pages) < 20, "the next links never end"
        split = urlsplit(nxt)
        assert split.path.startswith("/ngsi-ld/v1/")
        query = {k: v[0] for k, v in parse_qs(split.query).items()}
        reply = await n.get(split.path.removeprefix("/ngsi-ld/v1"), **query)


async def test_entity_query_links_walk_every_page(ngsi: Ngsi) -> None:
    n = ngsi
    reply = await n.post("/entityOperations/create", [air(i, no2=10 + i) for i in range(7)])
    assert reply.status == 201, reply.body
    first = await n.get("/entities", type="AirQualityObserved", q="NO2>10", limit="3")
    links = rels(first.headers)
    assert "prev" not in links and "http://www.w3.org/ns/json-ld#context" in links
    query = parse_qs(urlsplit(links["next"]).query)
    assert query == {
        "type": ["AirQualityObserved"],
        "q": ["NO2>10"],
        "limit": ["3"],
        "offset": ["3"],
    }

    pages = await walk(n, "/entities", type="AirQualityObserved", q="NO2>10", limit="3")
    expected = [f"urn:ngsi-ld:AirQualityObserved:{i:03d}" for i in range(1, 7)]
    assert pages == [expected[:3], expected[3:]]  # exactly full: no empty third page

    middle = await n.get("/entities", type="AirQualityObserved", limit="2", offset="3")
    links = rels(middle.headers)
    assert parse_qs(urlsplit(links["prev"]).query)["offset"] == ["1"]
    assert parse_qs(urlsplit(links["next"]).query)["offset"] == ["5"]

    last = await n.get("/entities", type="AirQualityObserved", limit="5", offset="5")
    assert [e["id"] for e in last.body] == [
        "urn:ngsi-ld:AirQualityObserved:005",
        "urn:ngsi-ld:AirQualityObserved:006",
    ]
    links = rels(last.headers)
    assert "next" not in links
    assert parse_qs(urlsplit(links["prev"]).query)["offset"] == ["0"]

    # a scan (pattern checked in Python) paginates the same way
    pages = await walk(n, "/entities", idPattern=".*00[0-4]$", limit="2")
    assert [len(p) for p in pages] == [2, 2, 1]

    # count only: no page, no page links
    only = await n.get("/entities", type="AirQualityObserved", limit="0", count="true")
    assert set(rels(only.headers)) == {"http://www.w3.org/ns/json-ld#context"}


async def test_ld_json_answers_carry_only_the_page_links(ngsi_lite: Ngsi) -> None:
    n = ngsi_lite
    for i in range(3):
        await n.create(air(i))
    reply = await n.call(
        "GET",
        "/entities",
        headers={"Accept": "application/ld+json"},
        params={"type": "AirQualityObserved", "limit": "1", "offset": "1"},
    )
    assert reply.status == 200
    assert set(rels(reply.headers)) == {"prev", "next"}


async def test_subscription_list_links(ngsi: Ngsi) -> None:
    n = ngsi
    ids = [f"urn:ngsi-ld:Subscription:{i}" for i in range(5)]
    for sid in ids:
        reply = await n.post("/subscriptions", subscription("http://127.0.0.1:9/n", id=sid))
        assert reply.status == 201, reply.body
    assert await walk(n, "/subscriptions", limit="2") == [ids[:2], ids[2:4], ids[4:]]
    last = await n.get("/subscriptions", limit="2", offset="4")
    links = rels(last.headers)
    assert "next" not in links
    assert parse_qs(urlsplit(links["prev"]).query) == {"limit": ["2"], "offset": ["2"]}


async def test_temporal_query_links(ngsi: Ngsi) -> None:
    n = ngsi
    for i in range(5):
        await n.create(air(i))
    pages = await walk(n, "/temporal/entities", type="AirQualityObserved", lastN="1", limit="2")
    assert [len(p) for p in pages] == [2, 2, 1]
    assert pages[0][0] == "urn:ngsi-ld:AirQualityObserved:000"
    last = await n.get(
        "/temporal/entities", type="AirQualityObserved", lastN="1", limit="2", offset="4"
    )
    links = rels(last.headers)
    assert "next" not in links
    assert parse_qs(urlsplit(links["prev"]).query) == {
        "type": ["AirQualityObserved"],
        "lastN": ["1"],
        "limit": ["2"],
        "offset": ["2"],
    }


async def test_batch_query_links_walk_every_page_with_the_same_body(ngsi: Ngsi) -> None:
    n = ngsi
    reply = await n.post("/entityOperations/create", [air(i, no2=10 + i) for i in range(5)])
    assert reply.status == 201, reply.body
    body = {"type": "Query", "entities": [{"type": "AirQualityObserved"}], "q": "NO2>10"}
    pages: list[list[str]] = []
    reply = await n.post("/entityOperations/query", body, params={"limit": "2"})
    assert "prev" not in rels(reply.headers)
    while True:
        assert reply.status == 200, reply.body
        pages.append([item["id"] for item in reply.body])
        nxt = rels(reply.headers).get("next")
        if nxt is None:
            break
        assert len(pages) < 10, "the next links never end"
        split = urlsplit(nxt)
        assert split.path == "/ngsi-ld/v1/entityOperations/query"
        query = {k: v[0] for k, v in parse_qs(split.query).items()}
        reply = await n.post("/entityOperations/query", body, params=query)
    expected = [f"urn:ngsi-ld:AirQualityObserved:{i:03d}" for i in range(1, 5)]
    assert pages == [expected[:2], expected[2:]]
    assert parse_qs(urlsplit(rels(reply.headers)["prev"]).query)["offset"] == ["0"]


def _typed(kind: str, n: int, attr: str) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:{kind}:{n:03d}",
        "type": kind,
        attr: {"type": "Property", "value": n},
    }


async def test_type_and_attribute_details_links(ngsi: Ngsi) -> None:
    n = ngsi
    kinds = ["KindA", "KindB", "KindC", "KindD", "KindE"]
    entities = [_typed(k, i, f"attr{i}") for i, k in enumerate(kinds)]
    reply = await n.post("/entityOperations/create", entities)
    assert reply.status == 201, reply.body
    vocab = "https://uri.etsi.org/ngsi-ld/default-context/"

    pages = await walk(n, "/types", details="true", limit="2")
    assert pages == [[vocab + k for k in kinds[i : i + 2]] for i in (0, 2, 4)]
    first = await n.get("/types", details="true", limit="2")
    assert [t["typeName"] for t in first.body] == ["KindA", "KindB"]
    assert first.body[0]["attributeNames"] == ["attr0"]
    links = rels(first.headers)
    assert "prev" not in links
    assert parse_qs(urlsplit(links["next"]).query) == {
        "details": ["true"],
        "limit": ["2"],
        "offset": ["2"],
    }
    middle = await n.get("/types", details="true", limit="2", offset="1", count="true")
    assert middle.headers["NGSILD-Results-Count"] == "5"
    links = rels(middle.headers)
    assert parse_qs(urlsplit(links["prev"]).query)["offset"] == ["0"]
    assert parse_qs(urlsplit(links["next"]).query)["offset"] == ["3"]

    attrs = [f"attr{i}" for i in range(5)]
    pages = await walk(n, "/attributes", details="true", limit="3")
    assert pages == [[vocab + a for a in attrs[:3]], [vocab + a for a in attrs[3:]]]
    last = await n.get("/attributes", details="true", limit="3", offset="3")
    assert [a["attributeName"] for a in last.body] == ["attr3", "attr4"]
    assert last.body[0]["typeNames"] == ["KindD"]
    links = rels(last.headers)
    assert "next" not in links
    assert parse_qs(urlsplit(links["prev"]).query)["offset"] == ["0"]

    # the default page holds everything here: no page links; summaries are never paginated
    whole = await n.get("/types", details="true")
    assert len(whole.body) == 5 and set(rels(whole.headers)) == {
        "http://www.w3.org/ns/json-ld#context"
    }
    summary = await n.get("/attributes", limit="1")
    assert summary.body["attributeList"] == attrs
    assert "next" not in rels(summary.headers)


async def test_type_and_attribute_details_window_errors(ngsi_lite: Ngsi) -> None:
    n = ngsi_lite
    await n.create(air(1))
    err = "https://uri.etsi.org/ngsi-ld/errors/"
    for path in ("/types", "/attributes"):
        bad = await n.get(path, details="true", limit="-1")
        assert bad.status == 400 and bad.body["type"] == err + "BadRequestData"
        bad = await n.get(path, details="true", offset="x")
        assert bad.status == 400 and bad.body["type"] == err + "BadRequestData"
        bad = await n.get(path, details="true", limit="0")
        assert bad.status == 400 and bad.body["type"] == err + "BadRequestData"
        big = await n.get(path, details="true", limit="1001")
        assert big.status == 403 and big.body["type"] == err + "TooManyResults"
        only = await n.get(path, details="true", limit="0", count="true")
        assert only.status == 200 and only.body == []
        assert only.headers["NGSILD-Results-Count"] == ("1" if path == "/types" else "2")
        assert set(rels(only.headers)) == {"http://www.w3.org/ns/json-ld#context"}
