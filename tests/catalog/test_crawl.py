"""The federated catalog against real connectors and a light fake DSP catalog server on
loopback: crawl, search, node states, atomic replace, and every kind of bad node."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.dsp.helpers import Node, start_node

OFFER = {"@id": "urn:o:1", "@type": "Offer", "permission": [{"action": "use"}]}
PRICED = {
    "@id": "urn:o:2",
    "@type": "Offer",
    "profile": ["https://w3id.org/agora/pricing"],
    "permission": [{"action": "use"}],
    "obligation": [
        {
            "action": "compensate",
            "constraint": [
                {
                    "leftOperand": "https://w3id.org/agora/pricing#priceModel",
                    "operator": "eq",
                    "rightOperand": {"@id": "https://w3id.org/agora/pricing#oneOff"},
                },
                {
                    "leftOperand": "payAmount",
                    "operator": "eq",
                    "rightOperand": {"@value": "49.00", "@type": "xsd:decimal"},
                    "odrl:unit": {"@id": "http://dbpedia.org/resource/Euro"},
                },
            ],
        }
    ],
}


DISTRIBUTION = {
    "@type": "Distribution",
    "format": "NGSI-LD-PULL",
    "accessService": {"@id": "urn:svc", "@type": "DataService", "endpointURL": "http://x/dsp"},
}


def dataset(did: str, i: int, **extra: Any) -> dict[str, Any]:
    return {
        "@id": f"urn:ds:{did}:{i}",
        "@type": "Dataset",
        "dct:title": f"Parking {i}",
        "hasPolicy": [OFFER],
        "distribution": [DISTRIBUTION],
        **extra,
    }


class Fake:
    """A DSP catalog server whose nodes misbehave in one way each (path = node)."""

    def __init__(self) -> None:
        self.version = 1
        self.hang = False  # the "slow" node hangs only in the test that wants it
        self.requests: list[str] = []
        self.url = ""

    def did(self, name: str) -> str:
        return f"did:web:fake:{name}"

    def catalog(self, name: str, datasets: list[Any], **extra: Any) -> dict[str, Any]:
        return {
            "@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
            "@id": f"urn:cat:{name}",
            "@type": "Catalog",
            "participantId": self.did(name),
            "dataset": datasets,
            **extra,
        }

    async def handle(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.requests.append(name)
        did = self.did(name)
        page = request.query.get("page", "1")
        if name == "paged":
            if request.headers.get("If-None-Match") == f'"v{self.version}"':
                return web.Response(status=304)
            items = [
                dataset(did, int(page) * 10 + i, **{"dct:title": f"Bus stop v{self.version}"})
                for i in range(3)
            ]
            headers = {"ETag": f'"v{self.version}"'}
            if page != "3":
                headers["Link"] = f'<?page={int(page) + 1}>; rel="next"'
            return web.json_response(self.catalog(name, items), headers=headers)
        if name == "nested":
            inner = self.catalog("nested", [dataset(did, 2)])
            inner["@id"] = "urn:cat:inner"
            loop = {"@id": "urn:cat:nested", "@type": "Catalog", "dataset": [dataset(did, 3)]}
            inner["catalog"] = [
                loop,
                {
                    "@id": "urn:cat:deeper",
                    "@type": "Catalog",
                    "catalog": [
                        {"@id": "urn:cat:deepest", "@type": "Catalog", "dataset": [dataset(did, 4)]}
                    ],
                },
            ]
            return web.json_response(self.catalog(name, [dataset(did, 1)], catalog=[inner]))
        if name == "pagecycle":
            return web.json_response(
                self.catalog(name, [dataset(did, 1)]), headers={"Link": '<?page=1>; rel="next"'}
            )
        if name == "offsite":
            return web.json_response(
                self.catalog(name, [dataset(did, 1)]),
                headers={"Link": '<http://10.0.0.1/x>; rel="next"'},
            )
        if name == "deep":
            body = "[" * 5000 + "]" * 5000
            return web.Response(
                text=json.dumps(self.catalog(name, []))[:-1] + f', "x": {body}}}',
                content_type="application/json",
            )
        if name == "huge":
            items = [dataset(did, i, **{"dct:description": "x" * 4000}) for i in range(200)]
            return web.json_response(self.catalog(name, items))
        if name == "invalid":
            return web.Response(
                text='{"@type": "Catalog", "dataset": [', content_type="application/json"
            )
        if name == "notcatalog":
            return web.json_response({"@type": "Dataset"})
        if name == "slow" and self.hang:
            await asyncio.sleep(30)
        if name == "foreign":
            items = [dataset(did, 1), dataset(did, 2, **{"dct:publisher": "did:web:city-b"})]
            return web.json_response(self.catalog(name, items))
        if name == "mixed":
            items = [
                dataset(did, 1),
                {"@id": 7},
                dataset(did, 2, hasPolicy=[]),
                dataset(
                    did,
                    3,
                    **{
                        "https://w3id.org/agora/ngsi-ld#area": {
                            "type": "Point",
                            "coordinates": [500, 1],
                        }
                    },
                ),
            ]
            return web.json_response(self.catalog(name, items))
        if name == "hvd":
            hvd = {
                "dcatap:hvdCategory": "http://data.europa.eu/bna/c_dd313021",
                "dct:license": "CC-BY-4.0",
            }
            items = [
                dataset(did, 1, hasPolicy=[PRICED], **hvd),
                dataset(did, 2, **hvd),
                dataset(did, 3, hasPolicy=[PRICED]),
            ]
            return web.json_response(self.catalog(name, items))
        if name == "priced":
            items = [dataset(did, 1, hasPolicy=[PRICED]), dataset(did, 2)]
            return web.json_response(self.catalog(name, items))
        return web.Response(status=404)


NAMES = [
    "paged",
    "nested",
    "pagecycle",
    "offsite",
    "deep",
    "huge",
    "invalid",
    "notcatalog",
    "slow",
    "foreign",
    "mixed",
    "priced",
    "hvd",
]


@pytest.fixture
async def space(tmp_path: Path) -> AsyncIterator[tuple[Node, Node, Node, Fake]]:
    """Two real cities, a fake server with one node per misbehaviour, and a crawler node."""
    fake = Fake()
    app = web.Application()
    app.router.add_post("/{name}/catalog/request", fake.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        a = await start_node(tmp_path, "murcia", "city", http=http)
        b = await start_node(tmp_path, "cartagena", "city", http=http)
        nodes = [{"did": a.did, "url": a.dsp_url}, {"did": b.did, "url": b.dsp_url}]
        nodes += [{"did": fake.did(n), "url": f"{fake.url}/{n}"} for n in NAMES]
        crawler = await start_node(
            tmp_path,
            "crawler",
            "company",
            http=http,
            extra={
                "identity": {"allow_http_hosts": ["127.0.0.1"]},
                "catalog": {
                    "enabled": True,
                    "nodes": nodes,
                    "period_s": 3600,
                    "crawl_on_start": False,
                    "node_timeout_s": 6,
                    "max_catalog_bytes": 200_000,
                    "max_depth": 2,
                    "dead_after": 2,
                },
            },
        )
        try:
            yield a, b, crawler, fake
        finally:
            await crawler.connector.stop()
            await b.connector.stop()
            await a.connector.stop()
            await runner.cleanup()


async def publish(node: Node, title: str, types: list[str], area: Any = None) -> str:
    body: dict[str, Any] = {"title": title, "entityTypes": types}
    if area:
        body["area"] = area
    status, ds = await node.admin("POST", "/datasets", body)
    assert status == 201, ds
    status, pol = await node.admin("POST", "/policies", {"permission": [{"action": "use"}]})
    assert status == 201, pol
    status, offer = await node.admin(
        "POST", "/offers", {"datasetId": ds["id"], "policyId": pol["id"]}
    )
    assert status == 201, offer
    return str(ds["id"])


async def crawl(node: Node) -> dict[str, dict[str, Any]]:
    status, body = await node.admin("POST", "/catalog/crawl")
    assert status == 200, body
    status, listed = await node.admin("GET", "/catalog/nodes")
    assert status == 200
    return {n["did"]: n for n in listed["nodes"]}


async def search(node: Node, **params: str) -> dict[str, Any]:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    status, body = await node.admin("GET", f"/catalog/search?{query}")
    assert status == 200, body
    return dict(body)


async def test_crawl_search_and_bad_nodes(space: tuple[Node, Node, Node, Fake]) -> None:
    a, b, crawler, fake = space
    fake.hang = True
    point = {"type": "Point", "coordinates": [-1.13, 37.98]}
    air = await publish(a, "Air quality Murcia", ["AirQualityObserved"], point)
    await publish(b, "Parking Cartagena", ["ParkingSpot"])
    nodes = await crawl(crawler)

    assert nodes[a.did]["state"] == "online" and nodes[a.did]["datasets"] == 1
    assert nodes[b.did]["state"] == "online"
    found = await search(crawler, q="air", type="AirQualityObserved", bbox="-1.2,37.9,-1.0,38.1")
    assert [i["datasetId"] for i in found["items"]] == [air]
    assert found["items"][0]["publisher"] == a.did and found["items"][0]["free"] is True
    assert (await search(crawler, q="air", bbox="2,40,3,41"))["total"] == 0

    # paging (3 pages) and nested catalogs: cycle and depth refused, the rest indexed
    assert nodes[fake.did("paged")]["datasets"] == 9
    nested = nodes[fake.did("nested")]
    assert nested["state"] == "online" and nested["datasets"] == 2
    assert "cycle" in nested["lastError"] and "too_deep" in nested["lastError"]
    # whole-node failures: marked with the reason, nothing indexed, others unaffected
    for name, reason in [
        ("pagecycle", "cycle"),
        ("offsite", "refused_url"),
        ("deep", "too_deep"),
        ("huge", "too_large"),
        ("invalid", "invalid_catalog"),
        ("notcatalog", "invalid_catalog"),
        ("slow", "timeout"),
    ]:
        node = nodes[fake.did(name)]
        assert node["state"] == "offline", (name, node)
        assert reason in node["lastError"], (name, node)
        assert (await search(crawler, publisher=fake.did(name)))["total"] == 0, name
    # bad entries refused, good ones of the same node kept
    foreign = nodes[fake.did("foreign")]
    assert foreign["datasets"] == 1 and "foreign_publisher" in foreign["lastError"]
    assert (await search(crawler, publisher="did:web:city-b"))["total"] == 0
    mixed = nodes[fake.did("mixed")]
    assert mixed["datasets"] == 1 and mixed["refused"] == 3
    # a price on a High-Value Dataset is refused (EU open-data rules); the free one is open
    hvd = nodes[fake.did("hvd")]
    assert hvd["datasets"] == 2 and "hvd_priced" in hvd["lastError"]
    opened = await search(crawler, publisher=fake.did("hvd"), open="true")
    assert [i["datasetId"] for i in opened["items"]] == [f"urn:ds:{fake.did('hvd')}:2"]
    assert opened["items"][0]["license"] == "CC-BY-4.0"
    # prices read back from the DSP offers
    priced = await search(crawler, publisher=fake.did("priced"), free="false")
    assert priced["total"] == 1 and priced["items"][0]["price"] == "49"
    assert priced["items"][0]["priceModel"] == "one_off"
    assert (await search(crawler, publisher=fake.did("priced"), price_max="10"))["total"] == 1
    assert (await search(crawler, publisher=fake.did("priced"), price_max="50"))["total"] == 2
    # the TMF620 view of the same hits
    status, offerings = await crawler.admin(
        "GET", f"/catalog/productOffering?publisher={fake.did('priced')}&sort=price"
    )
    assert status == 200 and len(offerings) == 2
    free, priced_po = offerings
    assert free["productOfferingPrice"] == [] and free["lifecycleStatus"] == "Launched"
    assert priced_po["productOfferingPrice"][0]["priceType"] == "oneTime"
    assert priced_po["productOfferingPrice"][0]["price"] == {"unit": "EUR", "value": "49"}
    assert priced_po["relatedParty"][0]["id"] == fake.did("priced")
    status, _ = await crawler.admin("GET", "/catalog/productOffering?free=maybe")
    assert status == 400


async def test_recrawl_replaces_and_keeps_entries_of_failing_node(
    space: tuple[Node, Node, Node, Fake],
) -> None:
    a, _, crawler, fake = space
    await crawl(crawler)
    assert (await search(crawler, q="v1", publisher=fake.did("paged")))["total"] == 9
    fake.requests.clear()
    nodes = await crawl(crawler)  # ETag unchanged: one 304, entries kept
    assert fake.requests.count("paged") == 1 and nodes[fake.did("paged")]["state"] == "online"
    assert (await search(crawler, publisher=fake.did("paged")))["total"] == 9
    fake.version = 2
    await crawl(crawler)
    assert (await search(crawler, q="v2", publisher=fake.did("paged")))["total"] == 9
    assert (await search(crawler, q="v1", publisher=fake.did("paged")))["total"] == 0

    ds = await publish(a, "Noise map", ["NoiseLevelObserved"])
    await crawl(crawler)
    assert (await search(crawler, q="noise"))["items"][0]["datasetId"] == ds
    await a.connector.stop()  # the node goes away: offline, then dead; entries stay
    nodes = await crawl(crawler)
    assert nodes[a.did]["state"] == "offline" and nodes[a.did]["lastSuccess"]
    assert (await search(crawler, q="noise"))["total"] == 1
    nodes = await crawl(crawler)
    assert nodes[a.did]["state"] == "dead"
    assert (await search(crawler, q="noise"))["total"] == 1


async def test_search_refuses_bad_parameters(space: tuple[Node, Node, Node, Fake]) -> None:
    _, _, crawler, _ = space
    for query in [
        "bbox=1,2,3",
        "bbox=10,0,0,10",
        "price_max=-1",
        "price_max=NaN",
        "free=yes",
        "limit=1000",
        "sort=random",
        "nope=1",
        "price_model=gratis",
        "offset=x",
    ]:
        status, body = await crawler.admin("GET", f"/catalog/search?{query}")
        assert status == 400, (query, body)
        assert body["type"] == "about:blank" and body["parameter"], (query, body)
    # FTS syntax in the text query is only words, never an operator
    for q in ['"', "NEAR(a b)", "*", "a OR", "title:x", "'", "_", "{tags}:x"]:
        status, body = await crawler.admin("GET", f"/catalog/search?q={q}")
        assert status == 200 and body["total"] == 0, (q, body)


async def test_cli_search_and_nodes(space: tuple[Node, Node, Node, Fake], tmp_path: Path) -> None:
    from click.testing import CliRunner

    from connector.cli import main

    a, _, crawler, _ = space
    point = {"type": "Point", "coordinates": [-1.13, 37.98]}
    await publish(a, "Air quality Murcia", ["AirQualityObserved"], point)
    await publish(
        a,
        "Air quality Madrid",
        ["AirQualityObserved"],
        {"type": "Point", "coordinates": [-3.7, 40.4]},
    )
    await crawl(crawler)
    base = ["--dir", str(tmp_path / "crawler"), "--url", crawler.url]
    runner = CliRunner()
    near = [
        "catalog",
        "search",
        "air quality",
        "--type",
        "AirQualityObserved",
        "--near",
        "37.98,-1.13,5km",
        *base,
    ]
    result = await asyncio.to_thread(runner.invoke, main, near)
    assert result.exit_code == 0, result.output
    assert "1 dataset(s)" in result.output and "Murcia" in result.output
    assert "Madrid" not in result.output
    result = await asyncio.to_thread(runner.invoke, main, ["catalog", "nodes", *base])
    assert result.exit_code == 0, result.output
    assert f"online        2  {a.did}" in result.output
    assert "offline" in result.output and "too_deep" in result.output
    bad = ["catalog", "search", "x", "--near", "91,0,5km", *base]
    result = await asyncio.to_thread(runner.invoke, main, bad)
    assert result.exit_code == 2 and "LAT,LON,RADIUS" in result.output


async def test_catalog_of_catalogs_and_dcat_ap(space: tuple[Node, Node, Node, Fake]) -> None:
    from rdflib import Graph, URIRef
    from rdflib.namespace import DCAT, DCTERMS, RDF

    from connector.dsp.validation import validate
    from marketplace.catalog.dcat_ap import FORMATS

    a, b, crawler, fake = space
    air = await publish(
        a,
        "Air quality Murcia",
        ["AirQualityObserved"],
        {"type": "Point", "coordinates": [-1.13, 37.98]},
    )
    await publish(b, "Parking Cartagena", ["ParkingSpot"])
    await crawl(crawler)
    url = crawler.url + "/federated/catalog/request"
    message = {
        "@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
        "@type": "CatalogRequestMessage",
    }
    async with a.http.post(url, json=message) as resp:  # no DCP token
        assert resp.status == 401
        assert (await resp.json())["@type"] == "CatalogError"
    token = await a.dsp.issuer.token_for(crawler.did)
    async with a.http.post(url, json=message, headers={"Authorization": f"Bearer {token}"}) as resp:
        assert resp.status == 200, await resp.text()
        doc = await resp.json()
    validate("Catalog", doc)
    nested = {c["participantId"]: c for c in doc["catalog"]}
    assert [d["@id"] for d in nested[a.did]["dataset"]] == [air]
    assert nested[a.did]["service"][0]["endpointURL"] == a.dsp_url
    assert fake.did("paged") in nested and fake.did("deep") not in nested

    status, _ = await crawler.admin("GET", "/catalog/export?format=rdfxml")
    assert status == 400
    for fmt in ("turtle", "json-ld"):
        async with crawler.http.get(
            crawler.url + f"/api/v1/catalog/export?format={fmt}",
            headers={"Authorization": f"Bearer {crawler.admin_key}"},
        ) as r:
            assert r.status == 200
            text = await r.text()
        g = Graph().parse(data=text, format=fmt)
        datasets = set(g.subjects(RDF.type, DCAT.Dataset))
        assert URIRef(air) in datasets and len(datasets) == (await search(crawler))["total"]
        assert (URIRef(air), DCTERMS.publisher, URIRef(a.did)) in g
        assert any(True for _ in g.objects(URIRef(air), DCTERMS.spatial))

    # the public harvest: no key, open data only (free and licensed), by Accept
    harvest = crawler.url + "/federated/dcat-ap"
    opened = {URIRef(f"urn:ds:{fake.did('hvd')}:2")}
    for accept, fmt in (
        ("text/turtle", "turtle"),
        ("application/ld+json", "json-ld"),
        ("text/turtle;q=0.5, application/ld+json", "json-ld"),
        ("*/*", "turtle"),
    ):
        async with crawler.http.get(harvest, headers={"Accept": accept}) as r:
            assert r.status == 200, await r.text()
            assert r.content_type == FORMATS[fmt] and r.headers["Vary"] == "Accept"
            g = Graph().parse(data=await r.text(), format=fmt)
        assert set(g.subjects(RDF.type, DCAT.Dataset)) == opened
        assert (next(iter(opened)), DCTERMS.license, None) in g
    async with crawler.http.get(harvest, headers={"Accept": "application/rdf+xml"}) as r:
        assert r.status == 406
        assert r.content_type == "application/problem+json"
