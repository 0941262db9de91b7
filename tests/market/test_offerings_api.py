"""Offerings through the management API and the DSP catalog they appear in."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.dsp.helpers import Node, wait_for
from tests.market.helpers import air_quality, catalog, dataset, published

pytestmark = pytest.mark.asyncio(loop_scope="module")

PRICING = "https://w3id.org/agora/pricing"


def _offers(cat: dict[str, Any], dataset_id: str) -> list[dict[str, Any]]:
    for ds in cat.get("dataset", []):
        if ds["@id"] == dataset_id:
            return list(ds["hasPolicy"])
    return []


async def test_a_draft_is_not_in_the_catalog_until_published(market: tuple[Node, Node]) -> None:
    city, company = market
    ds = await dataset(city)
    status, body = await city.admin("POST", "/offerings", air_quality(ds))
    assert status == 201, body
    assert body["lifecycle"] == "draft" and body["version"] == 1
    assert _offers(await catalog(company, city), ds) == []
    status, body = await city.admin("POST", "/offerings/air-quality/publish")
    assert status == 200 and body["lifecycle"] == "published"
    offers = _offers(await catalog(company, city), ds)
    assert [o["@id"] for o in offers] == [
        "urn:agora:offer:air-quality:1:research",
        "urn:agora:offer:air-quality:1:commercial",
    ]
    priced = offers[1]
    assert priced["profile"] == [PRICING]
    (duty,) = priced["obligation"]
    assert duty["action"] == "compensate"
    amounts = [c for c in duty["constraint"] if c["leftOperand"] == "payAmount"]
    assert amounts[0]["rightOperand"] == {"@value": "49.00", "@type": "xsd:decimal"}
    assert "obligation" not in offers[0] and "profile" not in offers[0]


async def test_edit_of_a_published_offering_is_a_new_version(market: tuple[Node, Node]) -> None:
    city, company = market
    ds, _ = await published(city)
    status, body = await city.admin("PATCH", "/offerings/air-quality", {"name": "Air quality v2"})
    assert status == 200, body
    assert body["version"] == 2 and body["lifecycle"] == "published"
    status, versions = await city.admin("GET", "/offerings/air-quality/versions")
    assert [(v["version"], v["lifecycle"]) for v in versions] == [(1, "retired"), (2, "published")]
    ids = [o["@id"] for o in _offers(await catalog(company, city), ds)]
    assert ids == [
        "urn:agora:offer:air-quality:2:research",
        "urn:agora:offer:air-quality:2:commercial",
    ]
    status, old = await city.admin("GET", "/offerings/air-quality?version=1")
    assert status == 200 and old["name"] == "Air quality"


async def test_retire_takes_it_out_of_the_catalog(market: tuple[Node, Node]) -> None:
    city, company = market
    ds, _ = await published(city)
    status, body = await city.admin("POST", "/offerings/air-quality/retire")
    assert status == 200 and body["lifecycle"] == "retired"
    assert _offers(await catalog(company, city), ds) == []
    # a retired offering is final: no edit, no publish, no delete
    for method, path, payload in (
        ("PATCH", "/offerings/air-quality", {"name": "again"}),
        ("POST", "/offerings/air-quality/publish", None),
        ("DELETE", "/offerings/air-quality", None),
    ):
        status, problem = await city.admin(method, path, payload)
        assert status == 409, (path, problem)
    status, versions = await city.admin("GET", "/offerings/air-quality/versions")
    assert [(v["version"], v["lifecycle"]) for v in versions] == [(1, "retired")]


async def test_list_filters_and_delete_a_draft(market: tuple[Node, Node]) -> None:
    city, _ = market
    ds, _ = await published(city, "one")
    status, _ = await city.admin("POST", "/offerings", air_quality(ds, "two"))
    assert status == 201
    status, drafts = await city.admin("GET", "/offerings?lifecycle=draft")
    assert [o["id"] for o in drafts] == ["two"]
    status, mine = await city.admin("GET", f"/offerings?datasetId={ds}")
    assert sorted(o["id"] for o in mine) == ["one", "two"]
    status, _ = await city.admin("GET", "/offerings?lifecycle=bogus")
    assert status == 400
    status, _ = await city.admin("DELETE", "/offerings/two")
    assert status == 204
    status, _ = await city.admin("GET", "/offerings/two")
    assert status == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"price": "-49.00"}, "plans.1.plan.price"),
        ({"price": "49,00"}, "plans.1.plan.price"),
        ({"price": "4.9e1"}, "plans.1.plan.price"),
        ({"price": 0}, "plans.1.plan"),
        ({"currency": "XYZ"}, "plans.1.plan.currency"),
        ({"kind": "free"}, "plans.1.plan"),
    ],
)
async def test_bad_amounts_and_plans_are_refused(
    market: tuple[Node, Node], change: dict[str, Any], field: str
) -> None:
    city, _ = market
    ds = await dataset(city)
    doc = air_quality(ds)
    doc["plans"][1]["plan"] = {**doc["plans"][1]["plan"], **change}
    status, problem = await city.admin("POST", "/offerings", doc)
    assert status == 400, problem
    assert problem["field"].startswith(field), problem
    assert (await city.admin("GET", "/offerings"))[1] == []


async def test_a_plan_its_terms_contradict_is_refused(market: tuple[Node, Node]) -> None:
    city, _ = market
    ds = await dataset(city)
    doc = air_quality(ds)
    doc["plans"][1]["terms"] = {"prohibition": [{"action": "use"}]}  # sells nothing
    status, problem = await city.admin("POST", "/offerings", doc)
    assert status == 400, problem
    assert problem["field"] == "plans.1.terms.permission", problem
    assert (await city.admin("GET", "/offerings"))[1] == []


async def test_a_price_in_the_terms_is_refused(market: tuple[Node, Node]) -> None:
    city, _ = market
    ds = await dataset(city)
    doc = air_quality(ds)
    doc["plans"][0]["terms"] = {
        "permission": [{"action": "use"}],
        "obligation": [{"action": "compensate", "constraint": []}],
    }
    status, problem = await city.admin("POST", "/offerings", doc)
    assert status == 400 and "price comes from the plan" in problem["detail"]
    assert (await city.admin("GET", "/offerings"))[1] == []


async def test_unknown_dataset_and_duplicate_id(market: tuple[Node, Node]) -> None:
    city, _ = market
    status, problem = await city.admin("POST", "/offerings", air_quality("urn:uuid:nope"))
    assert status == 400 and problem["field"] == "dataset_id"
    ds, _ = await published(city)
    status, _ = await city.admin("POST", "/offerings", air_quality(ds))
    assert status == 409
    status, versions = await city.admin("GET", "/offerings/air-quality/versions")
    assert len(versions) == 1 and versions[0]["lifecycle"] == "published"


async def _negotiate(company: Node, city: Node, offer: dict[str, Any], ds: str) -> tuple[Any, Any]:
    status, neg = await company.admin(
        "POST", "/negotiations", {"counterPartyAddress": city.dsp_url, "offer": offer, "target": ds}
    )
    assert status == 201, neg
    mine = await wait_for(company.negotiation, neg["id"], {"FINALIZED", "TERMINATED"})
    theirs = await wait_for(city.negotiation, mine["providerPid"], {"FINALIZED", "TERMINATED"})
    return mine, theirs


async def test_the_priced_plan_is_agreed_on_account(market: tuple[Node, Node]) -> None:
    city, company = market
    ds, _ = await published(city)
    research, commercial = _offers(await catalog(company, city), ds)
    mine, theirs = await _negotiate(company, city, commercial, ds)
    assert mine["state"] == theirs["state"] == "FINALIZED", theirs
    status, agreement = await company.admin("GET", f"/agreements/{mine['agreementId']}")
    assert status == 200
    assert agreement["agreement"]["obligation"] == commercial["obligation"]
    mine, _ = await _negotiate(company, city, research, ds)
    assert mine["state"] == "FINALIZED"


async def test_a_peer_without_a_payment_method_is_refused_with_the_price(
    market: tuple[Node, Node], tmp_path: Any
) -> None:
    """A plain DSP peer (no invoice account) sees the price in the offer and is refused."""
    from tests.dsp.helpers import start_node

    city, company = market
    stranger = await start_node(tmp_path, "stranger", "company", http=company.http)
    try:
        ds, _ = await published(city)
        research, commercial = _offers(await catalog(stranger, city), ds)
        mine, theirs = await _negotiate(stranger, city, commercial, ds)
        assert mine["state"] == theirs["state"] == "TERMINATED"
        assert "payment condition not met" in mine["error"]
        assert "49.00 EUR" in mine["error"]
        assert mine["agreementId"] is None
        _, agreements = await city.admin("GET", "/agreements")
        assert [a for a in agreements if stranger.did in json.dumps(a)] == []
        mine, _ = await _negotiate(stranger, city, research, ds)
        assert mine["state"] == "FINALIZED"  # the free plan needs no payment
    finally:
        await stranger.connector.stop()


async def test_a_dataset_with_a_published_offering_is_not_deleted(
    market: tuple[Node, Node],
) -> None:
    city, _ = market
    ds, _ = await published(city)
    status, problem = await city.admin("DELETE", f"/datasets/{ds}")
    assert status == 409, problem
    status, _ = await city.admin("GET", f"/datasets/{ds}")
    assert status == 200
