"""A dataset's entity types expand with the data's @context, not only the core one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connector.config import load_settings
from connector.ngsild.context import SDM_URL, link_header
from connector.participant import read_admin_key
from connector.runtime import Connector
from tests.enforcement.helpers import Provider

SDM_AIR = "https://smartdatamodels.org/dataModel.Environment/AirQualityObserved"
CORE_AIR = "https://uri.etsi.org/ngsi-ld/default-context/AirQualityObserved"
OPEN = {"permission": [{"action": "use"}]}
LINK = {"Link": link_header(SDM_URL)}


@pytest.fixture
async def sdm_city(participant_dir: Callable[..., Path]) -> AsyncIterator[Provider]:
    directory = participant_dir()
    connector = Connector(load_settings(directory, env={}))
    await connector.start()
    async with aiohttp.ClientSession() as http:
        p = Provider(connector, read_admin_key(directory), http)
        entity = {
            "id": "urn:ngsi-ld:AirQualityObserved:sdm-1",
            "type": "AirQualityObserved",
            "NO2": {"type": "Property", "value": 41},
            "@context": SDM_URL,
        }
        async with http.post(
            p.url + "/ngsi-ld/v1/entities",
            json=entity,
            headers={
                "Authorization": f"Bearer {p.admin_key}",
                "Content-Type": "application/ld+json",
            },
        ) as resp:
            assert resp.status == 201, await resp.text()
        try:
            yield p
        finally:
            await connector.stop()


async def _dataset(p: Provider, body: dict[str, Any]) -> tuple[int, Any]:
    async with p.http.post(
        p.url + "/api/v1/datasets", json=body, headers={"Authorization": f"Bearer {p.admin_key}"}
    ) as resp:
        return resp.status, await resp.json()


async def test_a_dataset_declares_its_context(sdm_city: Provider) -> None:
    # without @context: the core context's IRI, which no stored entity has -> a warning
    status, plain = await _dataset(
        sdm_city, {"title": "Air", "entityTypes": ["AirQualityObserved"]}
    )
    assert status == 201 and plain["entityTypes"] == [CORE_AIR]
    assert any(SDM_AIR in w and "@context" in w for w in plain["warnings"]), plain
    # with the data's @context: the Smart Data Models IRI, no warning
    status, declared = await _dataset(
        sdm_city,
        {"title": "Air", "entityTypes": ["AirQualityObserved"], "@context": SDM_URL},
    )
    assert status == 201 and declared["entityTypes"] == [SDM_AIR], declared
    assert "warnings" not in declared
    # a full IRI is taken as it is
    status, full = await _dataset(sdm_city, {"title": "Air", "entityTypes": [SDM_AIR]})
    assert status == 201 and full["entityTypes"] == [SDM_AIR] and "warnings" not in full
    # an unavailable context is refused, nothing stored
    status, bad = await _dataset(
        sdm_city,
        {"id": "urn:x:bad", "title": "Air", "entityTypes": ["A"], "@context": "https://x.test/c"},
    )
    assert status == 400 and "@context" in bad["detail"]
    async with sdm_city.http.get(
        sdm_city.url + "/api/v1/datasets/urn:x:bad",
        headers={"Authorization": f"Bearer {sdm_city.admin_key}"},
    ) as resp:
        assert resp.status == 404

    # pulls: the declared dataset serves the data; the core-expanded one says which IRIs differ
    good = await sdm_city.grant(OPEN, entity_types=declared["entityTypes"])
    status, body, _ = await good.call(
        "GET", "/entities", params={"type": "AirQualityObserved"}, headers=LINK
    )
    assert status == 200 and [e["id"] for e in body] == ["urn:ngsi-ld:AirQualityObserved:sdm-1"]
    trap = await sdm_city.grant(OPEN, entity_types=plain["entityTypes"])
    status, body, _ = await trap.call(
        "GET", "/entities", params={"type": "AirQualityObserved"}, headers=LINK
    )
    assert status == 403
    assert CORE_AIR in body["detail"] and SDM_AIR in body["detail"], body
