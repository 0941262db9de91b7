"""The TMF620 catalog and TMF622 order views over HTTP."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from tests.dsp.helpers import Node, wait_for
from tests.market.helpers import catalog, published

pytestmark = pytest.mark.asyncio(loop_scope="module")

CATALOG = "/tmf-api/productCatalogManagement/v4"
ORDERS = "/tmf-api/productOrderingManagement/v4/productOrder"


async def tmf(
    node: Node, method: str, path: str, body: Any = None, admin: bool = True
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {node.admin_key}"} if admin else {}
    async with node.http.request(method, node.url + path, json=body, headers=headers) as resp:
        raw = await resp.read()
        return resp.status, json.loads(raw, parse_float=Decimal) if raw else None


async def test_product_offering_and_prices_are_derived(market: tuple[Node, Node]) -> None:
    city, _ = market
    await published(city)
    status, offerings = await tmf(city, "GET", CATALOG + "/productOffering", admin=False)
    assert status == 200
    (po,) = offerings
    assert po["id"] == "air-quality" and po["lifecycleStatus"] == "Launched"
    assert po["href"].endswith(CATALOG + "/productOffering/air-quality")
    status, price = await tmf(
        city, "GET", CATALOG + "/productOfferingPrice/air-quality:1:commercial"
    )
    assert status == 200, price
    assert price["priceType"] == "recurring"
    assert price["price"]["value"] == Decimal("49.00") and price["price"]["unit"] == "EUR"
    status, _ = await tmf(city, "GET", CATALOG + "/productOfferingPrice/air-quality:9:commercial")
    assert status == 404
    status, launched = await tmf(city, "GET", CATALOG + "/productOffering?lifecycleStatus=Launched")
    assert [o["id"] for o in launched] == ["air-quality"]


async def test_write_through_tmf620_needs_the_admin_key(market: tuple[Node, Node]) -> None:
    city, _ = market
    await published(city)
    status, po = await tmf(city, "GET", CATALOG + "/productOffering/air-quality")
    status, pops = await tmf(city, "GET", CATALOG + "/productOfferingPrice")
    po = {**po, "id": "copy", "lifecycleStatus": "In design"}
    po.pop("href")
    po["productOfferingPrice"] = [p for p in pops if p["id"].startswith("air-quality:1:")]
    for t in po["productOfferingTerm"]:
        t["productOfferingPrice"] = {"id": t["productOfferingPrice"]["id"]}
    body = json.loads(json.dumps(po, default=str))
    status, _problem = await tmf(city, "POST", CATALOG + "/productOffering", body, admin=False)
    assert status == 401
    status, created = await tmf(city, "POST", CATALOG + "/productOffering", body)
    assert status == 201, created
    assert created["id"] == "copy" and created["lifecycleStatus"] == "In design"
    status, mgmt = await city.admin("GET", "/offerings/copy")
    assert status == 200 and [p["plan"]["id"] for p in mgmt["plans"]] == ["research", "commercial"]
    status, launched = await tmf(
        city, "PATCH", CATALOG + "/productOffering/copy", {"lifecycleStatus": "Launched"}
    )
    assert status == 200 and launched["lifecycleStatus"] == "Launched"


async def test_a_bad_price_through_tmf620_is_refused(market: tuple[Node, Node]) -> None:
    city, _ = market
    await published(city)
    status, po = await tmf(city, "GET", CATALOG + "/productOffering/air-quality")
    status, pops = await tmf(city, "GET", CATALOG + "/productOfferingPrice")
    po = {**po, "id": "bad", "lifecycleStatus": "In design"}
    prices = [dict(p) for p in pops if p["id"].startswith("air-quality:1:")]
    for p in prices:
        if p["priceType"] == "recurring":
            p["price"] = {"unit": "EUR", "value": "-49.00"}
    po["productOfferingPrice"] = prices
    body = json.loads(json.dumps(po, default=str))
    status, problem = await tmf(city, "POST", CATALOG + "/productOffering", body)
    assert status == 400, problem
    assert "price" in problem["field"]
    status, _ = await city.admin("GET", "/offerings/bad")
    assert status == 404


async def test_the_negotiation_is_the_order(market: tuple[Node, Node]) -> None:
    city, company = market
    ds, _ = await published(city)
    cat = await catalog(company, city)
    commercial = cat["dataset"][0]["hasPolicy"][1]
    status, neg = await company.admin(
        "POST",
        "/negotiations",
        {"counterPartyAddress": city.dsp_url, "offer": commercial, "target": ds},
    )
    assert status == 201
    mine = await wait_for(company.negotiation, neg["id"], {"FINALIZED"})
    status, orders = await tmf(company, "GET", ORDERS)
    assert status == 200
    (order,) = [o for o in orders if o["id"] == mine["id"]]
    assert order["state"] == "completed"
    item = order["productOrderItem"][0]
    assert item["productOffering"]["id"] == "air-quality"
    assert item["productOfferingPrice"]["id"] == "air-quality:1:commercial"
    assert item["product"]["status"] == "active"
    assert order["agreement"][0]["id"] == mine["agreementId"]
    assert order["relatedParty"] == [{"id": city.did, "role": "Seller"}]
    status, one = await tmf(company, "GET", f"{ORDERS}/{mine['id']}")
    assert status == 200 and one == order
    status, _ = await tmf(company, "GET", ORDERS, admin=False)
    assert status == 401
    status, theirs = await tmf(city, "GET", ORDERS)
    theirs = [o for o in theirs if o["id"] == mine["providerPid"]]
    assert [o["relatedParty"][0]["role"] for o in theirs] == ["Buyer"]


async def test_a_refused_order_has_failed(market: tuple[Node, Node], tmp_path: Any) -> None:
    from tests.dsp.helpers import start_node

    city, company = market
    stranger = await start_node(tmp_path, "stranger", "company", http=company.http)
    try:
        ds, _ = await published(city)
        commercial = (await catalog(stranger, city))["dataset"][0]["hasPolicy"][1]
        status, neg = await stranger.admin(
            "POST",
            "/negotiations",
            {"counterPartyAddress": city.dsp_url, "offer": commercial, "target": ds},
        )
        await wait_for(stranger.negotiation, neg["id"], {"TERMINATED"})
        status, (order,) = await tmf(stranger, "GET", ORDERS)
        assert status == 200
        assert order["state"] == "failed"
        assert "payment condition not met" in order["note"][0]["text"]
        _status, orders = await tmf(city, "GET", ORDERS)
        (theirs,) = [o for o in orders if o["relatedParty"][0]["id"] == stranger.did]
        assert theirs["state"] == "failed"
    finally:
        await stranger.connector.stop()
