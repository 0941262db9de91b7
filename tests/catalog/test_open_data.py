"""Open data: a dataset with a licence, offered free, is agreed by click-through — negotiated
over DSP and logged on the provider's ledger like any agreement, with no operator decision
even where the operator decides every other request."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from tests.dsp.helpers import OPEN_POLICY, Node, signed, start_node, wait_for

MANUAL = {"dsp": {"authentication": "self-issued", "decisions": {"agree": "manual"}}}


async def _offer(city: Node, dataset: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    status, ds = await city.admin("POST", "/datasets", dataset)
    assert status == 201, ds
    status, pol = await city.admin("POST", "/policies", OPEN_POLICY)
    assert status == 201, pol
    status, offer = await city.admin(
        "POST", "/offers", {"datasetId": ds["id"], "policyId": pol["id"]}
    )
    assert status == 201, offer
    return ds["id"], offer["offer"]


async def _request(company: Node, city: Node, dataset: str, offer: dict[str, Any]) -> str:
    status, neg = await company.admin(
        "POST",
        "/negotiations",
        {"counterPartyAddress": city.dsp_url, "offer": offer, "target": dataset},
    )
    assert status == 201, neg
    return str(neg["id"])


async def test_open_data_click_through(tmp_path: Path) -> None:
    async with aiohttp.ClientSession() as http:
        city = await start_node(tmp_path, "city", "city", http=http, extra=MANUAL)
        company = await start_node(tmp_path, "company", "company", http=http)
        try:
            base = {"title": "Air quality", "entityTypes": ["AirQualityObserved"]}
            opened, open_offer = await _offer(city, {**base, "license": "CC-BY-4.0"})
            closed, closed_offer = await _offer(city, base)

            # the catalog says which is open
            status, catalog = await signed(
                company,
                city,
                "POST",
                "/catalog/request",
                {
                    "@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
                    "@type": "CatalogRequestMessage",
                },
            )
            assert status == 200, catalog
            licences = {d["@id"]: d.get("dct:license") for d in catalog["dataset"]}
            assert licences == {opened: "CC-BY-4.0", closed: None}

            # the open one: agreed and finalized with nobody deciding
            pid = await _request(company, city, opened, open_offer)
            mine = await wait_for(company.negotiation, pid, {"FINALIZED", "TERMINATED"}, 20)
            assert mine["state"] == "FINALIZED", mine
            theirs = await city.negotiation(mine["providerPid"])
            assert theirs["state"] == "FINALIZED" and theirs["agreementId"]
            # ... and on the provider's ledger: the city knows its reach
            records: list[Any] = []
            for _ in range(200):
                status, ledger = await city.admin(
                    "GET", f"/ledger/records?agreement={theirs['agreementId']}"
                )
                assert status == 200, ledger
                records = [r["record"] for r in ledger["records"]]
                if records:
                    break
                await asyncio.sleep(0.05)
            assert any(r.get("consumer") == company.did for r in records), records

            # the other one still waits for the operator, as the city's defaults say
            pid = await _request(company, city, closed, closed_offer)
            waiting = await wait_for(company.negotiation, pid, {"REQUESTED"}, field="providerPid")
            held = await city.negotiation(waiting["providerPid"])
            assert held["state"] == "REQUESTED" and held["agreementId"] is None, held

            # a bad licence is refused and nothing is stored
            status, before = await city.admin("GET", "/datasets")
            for bad in ("CC BY 4.0", "", "x" * 501, 42):
                status, problem = await city.admin("POST", "/datasets", {**base, "license": bad})
                assert status == 400, (bad, problem)
            status, after = await city.admin("GET", "/datasets")
            assert after == before
            # the licence withdrawn: no longer open (a new request waits for the operator)
            status, patched = await city.admin("PATCH", f"/datasets/{opened}", {"license": None})
            assert status == 200 and patched["license"] is None, patched
            pid = await _request(company, city, opened, open_offer)
            waiting = await wait_for(company.negotiation, pid, {"REQUESTED"}, field="providerPid")
            held = await city.negotiation(waiting["providerPid"])
            assert held["state"] == "REQUESTED", held
        finally:
            await company.connector.stop()
            await city.connector.stop()
