"""Demo step: the city sells air quality — free for research, €49 a month for commercial use;
the company buys the commercial plan, pays in the demo token on the embedded chain, and only
then gets data; both ledgers show the order and the payment, and the TMF622 order is completed.
"""

from __future__ import annotations

import asyncio

from connector.demo.space import DataSpace
from connector.dsp.demo import AIR_QUALITY, DemoFailed, _expect, _until
from connector.dsp.messages import endpoint_properties
from connector.market.cli import research_and_commercial
from marketplace.numbers import dumps

ORDERS = "/tmf-api/productOrderingManagement/v4/productOrder"


async def _records(space: DataSpace, who: str, agreement_id: str, action: str) -> list[str]:
    """The actions a member's ledger holds for the agreement, once ``action`` is among them
    (state-change records are appended in the background)."""
    for _ in range(200):
        status, body = await space.admin(
            who, "GET", f"/api/v1/ledger/records?agreement={agreement_id}"
        )
        _expect(status == 200, f"{who}'s ledger: {status} {body}")
        actions = [r["record"]["action"] for r in body["records"]]
        if action in actions and "negotiation:FINALIZED" in actions:
            return actions
        await asyncio.sleep(0.05)
    raise DemoFailed(f"{who}'s ledger has no {action} for {agreement_id}")


async def company_buys_commercial_air_quality(space: DataSpace) -> list[str]:
    city = space["city"]
    status, ds = await space.admin(
        "city",
        "POST",
        "/api/v1/datasets",
        {"title": "Air quality in Murcia (marketplace)", "entityTypes": [AIR_QUALITY]},
    )
    _expect(status == 201, f"dataset: {status} {ds}")
    offering = research_and_commercial(ds["id"], "murcia-air-quality", "Air quality in Murcia")
    async with space.http.post(
        city.url + "/api/v1/offerings",
        data=dumps(offering),
        headers={"Authorization": f"Bearer {city.admin_key}", "Content-Type": "application/json"},
    ) as resp:
        created = await resp.json(content_type=None)
        _expect(resp.status == 201, f"offering: {resp.status} {created}")
    status, published = await space.admin(
        "city", "POST", "/api/v1/offerings/murcia-air-quality/publish"
    )
    _expect(status == 200, f"publish: {status} {published}")
    lines = ["the city offers air quality: 'research' free, 'commercial' 49.00 EUR a month"]

    status, catalog = await space.admin(
        "company", "POST", "/api/v1/catalog/request", {"counterPartyAddress": city.url + "/dsp"}
    )
    _expect(status == 200, f"catalog: {status} {catalog}")
    found = [d for d in catalog.get("dataset", []) if d["@id"] == ds["id"]]
    _expect(len(found) == 1, "the priced dataset is not in the city's catalog")
    offers = {o["@id"].rsplit(":", 1)[-1]: o for o in found[0]["hasPolicy"]}
    commercial = offers["commercial"]
    price = [
        c["rightOperand"]["@value"]
        for c in commercial["obligation"][0]["constraint"]
        if c["leftOperand"] == "payAmount"
    ]
    _expect(price == ["49.00"], f"the catalog's price is {price}")
    lines.append(f"the DSP catalog shows the price as a compensate duty: payAmount {price[0]}")

    status, neg = await space.admin(
        "company",
        "POST",
        "/api/v1/negotiations",
        {
            "counterPartyAddress": city.url + "/dsp",
            "counterPartyId": city.did,
            "offer": commercial,
            "target": ds["id"],
        },
    )
    _expect(status == 201, f"negotiation: {status} {neg}")
    neg = await _until(
        space, "company", f"/api/v1/negotiations/{neg['id']}", {"VERIFIED", "TERMINATED"}
    )
    _expect(neg["state"] == "VERIFIED", f"the order ended {neg['state']}: {neg['error']}")
    agreement_id = neg["agreementId"]
    status, order = await space.admin("company", "GET", f"{ORDERS}/{neg['id']}")
    _expect(status == 200 and order["state"] == "inProgress", f"TMF622 order: {status} {order}")
    product = order["productOrderItem"][0]["product"]["status"]
    lines.append(
        f"the company orders the commercial plan: agreed and verified, TMF622 order "
        f"{order['state']} (product {product}) — the city finalizes once it is paid"
    )

    status, paid = await space.admin(
        "company", "POST", "/api/v1/market/pay", {"agreementId": agreement_id}
    )
    _expect(status == 201, f"payment: {status} {paid}")
    lines.append(
        f"the company pays {paid['amount']} {paid['currency']} in the demo ERC-20 on the "
        f"embedded chain: tx {paid['transaction'][:18]}…, reference = SHA-256(agreement id)"
    )
    neg = await _until(
        space, "company", f"/api/v1/negotiations/{neg['id']}", {"FINALIZED", "TERMINATED"}
    )
    _expect(neg["state"] == "FINALIZED", f"after payment the order is {neg['state']}")
    status, order = await space.admin("company", "GET", f"{ORDERS}/{neg['id']}")
    _expect(order["state"] == "completed", f"TMF622 order after payment: {order['state']}")
    lines.append(
        "the city verified the receipt (token, amount, payer, payee, reference): "
        "negotiation FINALIZED, order completed"
    )

    status, tr = await space.admin(
        "company",
        "POST",
        "/api/v1/transfers",
        {"agreementId": agreement_id, "format": "NGSI-LD-PULL"},
    )
    _expect(status == 201, f"transfer: {status} {tr}")
    tr = await _until(space, "company", f"/api/v1/transfers/{tr['id']}", {"STARTED", "TERMINATED"})
    _expect(tr["state"] == "STARTED", f"the transfer ended {tr['state']}: {tr['error']}")
    address = tr["dataAddress"]
    from connector.ngsild.context import SDM_URL, link_header

    async with space.http.get(
        address["endpoint"] + "/entities",
        params={"type": "AirQualityObserved", "options": "keyValues"},
        headers={
            "Authorization": f"Bearer {endpoint_properties(address)['authorization']}",
            "Link": link_header(SDM_URL),
        },
    ) as resp:
        body = await resp.json(content_type=None)
        _expect(resp.status == 200, f"the paid pull answered {resp.status}: {body}")
    lines.append(f"GET AirQualityObserved under the paid plan -> 200, {len(body)} entities")

    city_log = await _records(space, "city", agreement_id, "payment:received")
    company_log = await _records(space, "company", agreement_id, "payment:sent")
    lines.append(f"the city's ledger: {', '.join(sorted(set(city_log)))}")
    lines.append(f"the company's ledger: {', '.join(sorted(set(company_log)))}")
    return lines
