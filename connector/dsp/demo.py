"""Demo step: the company finds the city's air-quality offer over DSP, negotiates, starts a
PULL transfer and (when the NGSI-LD data plane is mounted) pulls data within its terms, is
refused beyond them, and loses access the moment the city suspends the transfer."""

from __future__ import annotations

import asyncio
from typing import Any

from connector.demo.space import DataSpace
from connector.dsp.messages import endpoint_properties

AIR_QUALITY = "https://smartdatamodels.org/dataModel.Environment/AirQualityObserved"


class DemoFailed(Exception):
    pass


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise DemoFailed(message)


async def _until(space: DataSpace, who: str, path: str, states: set[str]) -> dict[str, Any]:
    for _ in range(400):
        status, body = await space.admin(who, "GET", path)
        _expect(status == 200, f"{path}: {status} {body}")
        if body["state"] in states:
            return dict(body)
        await asyncio.sleep(0.05)
    raise DemoFailed(f"{path} stayed {body['state']}")


async def company_acquires_air_quality(space: DataSpace) -> list[str]:
    city = space["city"]
    status, ds = await space.admin(
        "city",
        "POST",
        "/api/v1/datasets",
        {
            "title": "Air quality in Murcia",
            "description": "AirQualityObserved entities of the city's stations",
            "entityTypes": [AIR_QUALITY],
        },
    )
    _expect(status == 201, f"dataset: {status} {ds}")
    status, policy = await space.admin(
        "city", "POST", "/api/v1/policies", {"permission": [{"action": "use"}]}
    )
    _expect(status == 201, f"policy: {status} {policy}")
    status, offer = await space.admin(
        "city", "POST", "/api/v1/offers", {"datasetId": ds["id"], "policyId": policy["id"]}
    )
    _expect(status == 201, f"offer: {status} {offer}")
    lines = [f"the city offers '{ds['title']}' ({offer['id']})"]

    status, catalog = await space.admin(
        "company", "POST", "/api/v1/catalog/request", {"counterPartyAddress": city.url + "/dsp"}
    )
    _expect(status == 200, f"catalog request: {status} {catalog}")
    found = [d for d in catalog.get("dataset", []) if d["@id"] == ds["id"]]
    _expect(len(found) == 1, "the air-quality dataset is not in the city's catalog")
    dataset = found[0]
    formats = ", ".join(d["format"] for d in dataset["distribution"])
    lines.append(f"the company found it in the city's DCAT catalog ({formats})")

    status, neg = await space.admin(
        "company",
        "POST",
        "/api/v1/negotiations",
        {
            "counterPartyAddress": city.url + "/dsp",
            "counterPartyId": city.did,
            "offer": dataset["hasPolicy"][0],
            "target": ds["id"],
        },
    )
    _expect(status == 201, f"negotiation: {status} {neg}")
    neg = await _until(
        space, "company", f"/api/v1/negotiations/{neg['id']}", {"FINALIZED", "TERMINATED"}
    )
    _expect(neg["state"] == "FINALIZED", f"the negotiation ended {neg['state']}: {neg['error']}")
    status, agreement = await space.admin("city", "GET", f"/api/v1/agreements/{neg['agreementId']}")
    _expect(status == 200 and bool(agreement["signature"]), "the city keeps a signed agreement")
    lines.append(
        f"negotiated over DSP with DCP tokens: agreement {neg['agreementId']} FINALIZED, "
        f"signed by the city (JWS, {len(agreement['signature'])} chars)"
    )

    status, tr = await space.admin(
        "company",
        "POST",
        "/api/v1/transfers",
        {"agreementId": neg["agreementId"], "format": "NGSI-LD-PULL"},
    )
    _expect(status == 201, f"transfer: {status} {tr}")
    tr = await _until(space, "company", f"/api/v1/transfers/{tr['id']}", {"STARTED", "TERMINATED"})
    _expect(tr["state"] == "STARTED", f"the transfer ended {tr['state']}: {tr['error']}")
    address = tr["dataAddress"]
    token = endpoint_properties(address)["authorization"]
    lines.append(f"PULL transfer STARTED: endpoint {address['endpoint']}, bearer token bound to it")

    assert city.connector.ctx is not None
    if "ngsild.pep" not in city.connector.ctx.components:
        lines.append("(no NGSI-LD policy enforcement point mounted: data access not shown)")
        return lines
    from connector.ngsild.context import SDM_URL, link_header

    headers = {"Authorization": f"Bearer {token}", "Link": link_header(SDM_URL)}

    async def pull(entity_type: str) -> tuple[int, Any]:
        async with space.http.get(
            address["endpoint"] + "/entities",
            params={"type": entity_type, "options": "keyValues"},
            headers=headers,
        ) as resp:
            return resp.status, await resp.json(content_type=None)

    status, body = await pull("AirQualityObserved")
    _expect(status == 200, f"pull within the terms answered {status}: {body}")
    lines.append(f"within its terms: GET AirQualityObserved -> {status}, {len(body)} entities")
    status, body = await pull("TrafficFlowObserved")
    _expect(status in (401, 403), f"pull beyond the terms answered {status}")
    lines.append(f"beyond its terms: GET TrafficFlowObserved -> {status} (refused)")
    status, _ = await space.admin("city", "POST", f"/api/v1/transfers/{tr['providerPid']}/suspend")
    _expect(status == 200, f"suspend: {status}")
    status, _ = await pull("AirQualityObserved")
    _expect(status == 401, f"after suspension the pull answered {status}")
    lines.append(f"the city suspends the transfer: the same token now gets {status} at once")
    return lines
