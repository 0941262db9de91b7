"""Version metadata and the catalog protocol (TCK ground: CAT and version endpoints)."""

from __future__ import annotations

import pytest

from connector.dsp.validation import validate
from tests.dsp.helpers import Node, signed

pytestmark = pytest.mark.asyncio(loop_scope="module")

CTX = ["https://w3id.org/dspace/2025/1/context.jsonld"]
CATALOG_REQUEST = {"@context": CTX, "@type": "CatalogRequestMessage"}


async def test_version_metadata_is_public_and_valid(shared: tuple[Node, Node]) -> None:
    city, _ = shared
    async with city.http.get(city.url + "/.well-known/dspace-version") as resp:
        assert resp.status == 200
        body = await resp.json()
    validate("VersionResponse", body)
    (version,) = body["protocolVersions"]
    assert version["version"] == "2025-1"
    assert version["path"] == "/dsp"
    assert version["binding"] == "HTTPS"


async def test_catalog_lists_datasets_with_offers_and_ngsi_ld_distributions(
    shared: tuple[Node, Node],
) -> None:
    city, company = shared
    dataset_id, offer_id, _ = await city.publish()
    status, catalog = await signed(company, city, "POST", "/catalog/request", CATALOG_REQUEST)
    assert status == 200
    validate("Catalog", catalog)
    assert catalog["participantId"] == city.did
    (dataset,) = [d for d in catalog["dataset"] if d["@id"] == dataset_id]
    assert dataset["@id"] == dataset_id
    assert [o["@id"] for o in dataset["hasPolicy"]] == [offer_id]
    assert "target" not in dataset["hasPolicy"][0]
    formats = {d["format"] for d in dataset["distribution"]}
    assert formats == {"NGSI-LD-PULL", "NGSI-LD-PUSH", "HttpData-PULL", "HttpData-PUSH"}
    assert dataset["distribution"][0]["accessService"]["endpointURL"] == city.dsp_url
    status, one = await signed(company, city, "GET", f"/catalog/datasets/{dataset_id}")
    assert status == 200
    validate("Dataset", one)


async def test_unknown_dataset_is_404_catalog_error(shared: tuple[Node, Node]) -> None:
    city, company = shared
    status, body = await signed(company, city, "GET", "/catalog/datasets/urn:uuid:nope")
    assert status == 404
    validate("CatalogError", body)


@pytest.mark.parametrize(
    "body",
    [
        {"@context": CTX, "@type": "CatalogRequestMessage", "filter": [{"x": 1}]},
        {"@context": CTX, "@type": "DatasetRequestMessage", "dataset": "x"},
        {"@context": ["https://example.com/other"], "@type": "CatalogRequestMessage"},
        {"@type": "CatalogRequestMessage"},
        [1, 2],
    ],
)
async def test_bad_catalog_requests_are_400_catalog_errors(
    shared: tuple[Node, Node], body: object
) -> None:
    city, company = shared
    status, answer = await signed(company, city, "POST", "/catalog/request", body)
    assert status == 400
    validate("CatalogError", answer)


async def test_malformed_json_and_missing_token(shared: tuple[Node, Node]) -> None:
    city, company = shared
    status, answer = await signed(company, city, "POST", "/catalog/request", raw=b"{nope")
    assert status == 400
    validate("CatalogError", answer)
    async with company.http.post(city.dsp_url + "/catalog/request", json=CATALOG_REQUEST) as r:
        assert r.status == 401
        validate("CatalogError", await r.json())
    bad = {"Authorization": "Bearer not-a-jwt"}
    async with company.http.post(
        city.dsp_url + "/catalog/request", json=CATALOG_REQUEST, headers=bad
    ) as r:
        assert r.status == 401
