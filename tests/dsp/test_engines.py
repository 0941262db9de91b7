"""Tests that need fresh connectors: each storage engine, and counts over a whole catalog."""

from __future__ import annotations

import asyncio

import jwt

from connector.dsp import messages as m
from connector.dsp.agreements import check_signature
from connector.dsp.validation import validate
from tests.dsp.helpers import Node, negotiate, signed

CTX = ["https://w3id.org/dspace/2025/1/context.jsonld"]
CATALOG_REQUEST = {"@context": CTX, "@type": "CatalogRequestMessage"}


async def test_consumer_initiated_negotiation_ends_finalized_on_both_engines(
    pair_on: tuple[Node, Node],
) -> None:
    city, company = pair_on
    mine, theirs = await negotiate(city, company)
    assert mine["state"] == theirs["state"] == "FINALIZED"
    assert mine["agreementId"] == theirs["agreementId"]
    status, agreement = await city.admin("GET", f"/agreements/{theirs['agreementId']}")
    assert status == 200
    terms = agreement["agreement"]
    assert terms["assigner"] == city.did and terms["assignee"] == company.did
    assert terms["target"] == theirs["datasetId"] and terms["timestamp"].endswith("Z")
    validate(
        "ContractAgreementMessage",
        m.contract_agreement(theirs["providerPid"], theirs["consumerPid"], terms),
    )
    header = jwt.get_unverified_header(agreement["signature"])
    assert header["kid"].startswith(city.did + "#")
    check_signature(agreement["signature"], terms, city.dsp.identity.participant().document())
    # the consumer keeps the same agreement, and the provider's signature on it
    status, kept = await company.admin("GET", f"/agreements/{theirs['agreementId']}")
    assert status == 200 and kept["agreement"] == terms
    assert kept["signature"] == agreement["signature"]
    # ids longer than the columns are refused as bad messages, on every engine (never a 500)
    long = "urn:uuid:" + "x" * 300
    offer = {**mine["offer"], "target": mine["datasetId"]}
    msg = m.contract_request(long, offer, callback_address=company.dsp_url)
    status, body = await signed(company, city, "POST", "/negotiations/request", msg)
    assert status == 400, body
    validate("ContractNegotiationError", body)
    msg = m.transfer_request("urn:uuid:t", long, "NGSI-LD-PULL", company.dsp_url)
    status, body = await signed(company, city, "POST", "/transfers/request", msg)
    assert status == 400, body
    # the same initial request arriving five times at once creates one negotiation
    msg = m.contract_request("urn:uuid:burst", offer, callback_address=company.dsp_url)
    answers = await asyncio.gather(
        *(signed(company, city, "POST", "/negotiations/request", msg) for _ in range(5))
    )
    assert {status for status, _ in answers} == {201}, answers
    assert len({body["providerPid"] for _, body in answers}) == 1


async def test_catalog_pages_with_link_headers(pair: tuple[Node, Node]) -> None:
    city, company = pair
    ids = [(await city.publish(title=f"set {i}"))[0] for i in range(5)]
    seen: list[str] = []
    url = city.dsp_url + "/catalog/request?limit=2"
    pages = 0
    while url:
        token = await company.dsp.issuer.token_for(city.did)
        async with company.http.post(
            url, json=CATALOG_REQUEST, headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            assert resp.status == 200
            page = await resp.json()
            links = resp.links
        validate("Catalog", page)
        seen += [d["@id"] for d in page["dataset"]]
        if pages:
            assert "previous" in links
        url = str(links["next"]["url"]) if "next" in links else ""
        pages += 1
    assert pages == 3
    assert seen == ids
    # the management API follows the pages for the operator
    status, merged = await company.admin(
        "POST", "/catalog/request", {"counterPartyAddress": city.dsp_url + "/"}
    )
    assert status == 200
    assert [d["@id"] for d in merged["dataset"]] == ids
