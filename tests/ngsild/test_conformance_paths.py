"""Resources addressed with a trailing slash (GS CIM 009 v1.8 §6.1, resource tables: ``/entities/``,
``/subscriptions/``, ``/temporal/entities/``, ``/types/``) are the same resources."""

from __future__ import annotations

from tests.ngsild.conftest import Ngsi, air

SUB = {
    "type": "Subscription",
    "entities": [{"type": "AirQualityObserved"}],
    "notification": {"endpoint": {"uri": "http://127.0.0.1:9/notify"}},
}


async def test_entity_collection_with_slash(ngsi_lite: Ngsi) -> None:
    created = await ngsi_lite.post("/entities/", air(1))
    assert created.status == 201, created.body
    listed = await ngsi_lite.get("/entities/", type="AirQualityObserved")
    assert listed.status == 200
    assert [e["id"] for e in listed.body] == ["urn:ngsi-ld:AirQualityObserved:001"]
    one = await ngsi_lite.get("/entities/urn:ngsi-ld:AirQualityObserved:001/")
    assert one.status == 200 and one.body["id"] == "urn:ngsi-ld:AirQualityObserved:001"
    patched = await ngsi_lite.patch(
        "/entities/urn:ngsi-ld:AirQualityObserved:001/attrs/",
        {"NO2": {"type": "Property", "value": 7}},
    )
    assert patched.status == 204, patched.body
    again = await ngsi_lite.get("/entities/urn:ngsi-ld:AirQualityObserved:001")
    assert again.body["NO2"]["value"] == 7


async def test_discovery_and_subscriptions_with_slash(ngsi_lite: Ngsi) -> None:
    await ngsi_lite.create(air(1))
    types = await ngsi_lite.get("/types/")
    assert types.status == 200, types.body
    assert types.body["typeList"] == ["AirQualityObserved"]
    created = await ngsi_lite.post("/subscriptions/", SUB)
    assert created.status == 201, created.body
    listed = await ngsi_lite.get("/subscriptions/")
    assert listed.status == 200 and len(listed.body) == 1


async def test_temporal_collection_with_slash(ngsi_lite: Ngsi) -> None:
    created = await ngsi_lite.post("/temporal/entities/", air(2))
    assert created.status == 201, created.body
    got = await ngsi_lite.get("/temporal/entities/", type="AirQualityObserved")
    assert got.status == 200, got.body
    assert [e["id"] for e in got.body] == ["urn:ngsi-ld:AirQualityObserved:002"]


async def test_unknown_path_with_slash_is_still_not_found(ngsi_lite: Ngsi) -> None:
    reply = await ngsi_lite.get("/entitiez/")
    assert reply.status == 404
    assert reply.body["type"] == "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"
