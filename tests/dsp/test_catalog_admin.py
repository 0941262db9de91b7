"""Update and delete of datasets, policies and offers in the management API."""

from __future__ import annotations

import pytest

from tests.dsp.helpers import Node, negotiate

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _catalog_ids(company: Node, city: Node) -> list[str]:
    status, cat = await company.admin(
        "POST", "/catalog/request", {"counterPartyAddress": city.dsp_url}
    )
    assert status == 200
    return [d["@id"] for d in cat.get("dataset", [])]


async def test_a_withdrawn_offer_leaves_the_catalog(shared: tuple[Node, Node]) -> None:
    city, company = shared
    dataset_id, offer_id, _ = await city.publish()
    assert dataset_id in await _catalog_ids(company, city)
    status, _ = await city.admin("DELETE", f"/offers/{offer_id}")
    assert status == 204
    assert dataset_id not in await _catalog_ids(company, city)
    status, _ = await city.admin("GET", f"/offers/{offer_id}")
    assert status == 404
    status, _ = await city.admin("DELETE", f"/offers/{offer_id}")
    assert status == 404


async def test_policy_replace_and_delete(shared: tuple[Node, Node]) -> None:
    city, _ = shared
    _, offer_id, _ = await city.publish()
    status, offer = await city.admin("GET", f"/offers/{offer_id}")
    pol = offer["policyId"]
    status, _ = await city.admin("DELETE", f"/policies/{pol}")
    assert status == 409  # an offer uses it
    status, bad = await city.admin("PUT", f"/policies/{pol}", {"permission": [{"action": 7}]})
    assert status == 400, bad
    status, before = await city.admin("GET", f"/policies/{pol}")
    assert before["permission"] == [{"action": "use"}]
    new = {"permission": [{"action": "use"}], "prohibition": [{"action": "distribute"}]}
    status, body = await city.admin("PUT", f"/policies/{pol}", new)
    assert status == 200 and body["prohibition"] == [{"action": "distribute"}]
    status, _ = await city.admin("DELETE", f"/offers/{offer_id}")
    status, _ = await city.admin("DELETE", f"/policies/{pol}")
    assert status == 204
    status, _ = await city.admin("GET", f"/policies/{pol}")
    assert status == 404


async def test_a_granted_datasets_scope_is_fixed(shared: tuple[Node, Node]) -> None:
    city, company = shared
    mine, _ = await negotiate(city, company)
    assert mine["state"] == "FINALIZED"
    status, agreement = await company.admin("GET", f"/agreements/{mine['agreementId']}")
    ds = agreement["target"]
    status, body = await city.admin("PATCH", f"/datasets/{ds}", {"entityTypes": ["Anything"]})
    assert status == 409, body
    status, body = await city.admin("PATCH", f"/datasets/{ds}", {"title": "Renamed"})
    assert status == 200 and body["title"] == "Renamed"
    # stored as the IRI the core context expands the short name to, as the PEP compares them
    assert body["entityTypes"] == [
        "https://uri.etsi.org/ngsi-ld/default-context/AirQualityObserved"
    ]
    status, _ = await city.admin("DELETE", f"/datasets/{ds}")
    assert status == 409


async def test_dataset_update_filters_and_delete(shared: tuple[Node, Node]) -> None:
    city, _ = shared
    status, ds = await city.admin(
        "POST", "/datasets", {"title": "Noise", "entityTypes": ["NoiseLevelObserved"]}
    )
    assert status == 201
    status, body = await city.admin("PATCH", f"/datasets/{ds['id']}", {"title": None})
    assert status == 400
    status, body = await city.admin("PATCH", f"/datasets/{ds['id']}", {"bogus": 1})
    assert status == 400
    status, body = await city.admin(
        "PATCH", f"/datasets/{ds['id']}", {"entityTypes": ["NoiseLevelObserved", "Sound"]}
    )
    core = "https://uri.etsi.org/ngsi-ld/default-context/"
    assert status == 200 and body["entityTypes"] == [core + "NoiseLevelObserved", core + "Sound"]
    status, found = await city.admin("GET", "/datasets?entityType=Sound")
    assert [d["id"] for d in found] == [ds["id"]]
    status, _ = await city.admin("DELETE", f"/datasets/{ds['id']}")
    assert status == 204
    status, _ = await city.admin("GET", f"/datasets/{ds['id']}")
    assert status == 404
