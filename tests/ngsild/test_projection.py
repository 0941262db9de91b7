"""pick / omit (GS CIM 009 v1.8 §4.21): the projection grammar is checked whole, and the
combinations the specification excludes are BadRequestData."""

from __future__ import annotations

import pytest

from tests.ngsild.conftest import Ngsi, air

ERR = "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
EID = "urn:ngsi-ld:AirQualityObserved:001"


@pytest.mark.parametrize(
    "params",
    [
        {"pick": "id;NO2"},
        {"pick": "id,locatedAt{name"},
        {"pick": "id,locatedAt{{name}"},
        {"pick": "id,,NO2"},
        {"pick": "id,locatedAt{,name}"},
        {"pick": "id,locatedAt{}"},
        {"pick": "locatedAt{name}"},  # linked members without join
        {"omit": "a}"},
        {"pick": ""},
        {"pick": "NO2", "attrs": "NO2"},
        {"omit": "NO2", "attrs": "location"},
        {"pick": "NO2,id", "omit": "NO2"},
    ],
)
async def test_bad_projection_is_bad_request_data(ngsi_lite: Ngsi, params: dict[str, str]) -> None:
    await ngsi_lite.create(air(1))
    for path, extra in ((f"/entities/{EID}", {}), ("/entities", {"type": "AirQualityObserved"})):
        reply = await ngsi_lite.call("GET", path, params={**params, **extra})
        assert reply.status == 400, (path, reply.body)
        assert reply.body["type"] == ERR
    temporal = await ngsi_lite.call(
        "GET", "/temporal/entities", params={**params, "type": "AirQualityObserved"}
    )
    assert temporal.status == 400 and temporal.body["type"] == ERR


async def test_pick_and_omit_together_when_disjoint(ngsi_lite: Ngsi) -> None:
    await ngsi_lite.create(air(1))
    reply = await ngsi_lite.get(f"/entities/{EID}", pick="id,NO2", omit="location")
    assert reply.status == 200, reply.body
    assert set(reply.body) == {"id", "NO2"}
