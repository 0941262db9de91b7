"""Purge Entities, DELETE /entities (GS CIM 009 v1.8 §5.6.21, §6.4.3.3): the entities a query
selects are deleted, or only attributes of them (drop / keep); a query that is too wide is
BadRequestData and deletes nothing."""

from __future__ import annotations

from tests.ngsild.conftest import Ngsi, air

BAD_DATA = "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"


def _park(n: int) -> dict[str, object]:
    return {
        "id": f"urn:ngsi-ld:Park:{n}",
        "type": "Park",
        "name": {"type": "Property", "value": f"park {n}"},
    }


async def _ids(ngsi: Ngsi, etype: str) -> list[str]:
    got = await ngsi.get("/entities", type=etype)
    assert got.status == 200, got.body
    return sorted(e["id"] for e in got.body)


async def test_purge_by_type_deletes_only_that_type(ngsi_lite: Ngsi) -> None:
    for n in (1, 2):
        await ngsi_lite.create(air(n))
    await ngsi_lite.create(_park(1))
    gone = await ngsi_lite.call("DELETE", "/entities", params={"type": "AirQualityObserved"})
    assert gone.status == 204, gone.body
    assert await _ids(ngsi_lite, "AirQualityObserved") == []
    assert await _ids(ngsi_lite, "Park") == ["urn:ngsi-ld:Park:1"]


async def test_purge_by_q(ngsi_lite: Ngsi) -> None:
    await ngsi_lite.create(air(1, no2=10))
    await ngsi_lite.create(air(2, no2=90))
    gone = await ngsi_lite.call("DELETE", "/entities", params={"q": "NO2>50"})
    assert gone.status == 204, gone.body
    assert await _ids(ngsi_lite, "AirQualityObserved") == ["urn:ngsi-ld:AirQualityObserved:001"]


async def test_purge_drop_and_keep_attributes(ngsi_lite: Ngsi) -> None:
    await ngsi_lite.create(air(1, name={"type": "Property", "value": "a"}))
    await ngsi_lite.create(_park(1) | {"area": {"type": "Property", "value": 3}})
    dropped = await ngsi_lite.call(
        "DELETE", "/entities", params={"type": "AirQualityObserved", "drop": "NO2"}
    )
    assert dropped.status == 204, dropped.body
    one = await ngsi_lite.get("/entities/urn:ngsi-ld:AirQualityObserved:001")
    assert "NO2" not in one.body and "location" in one.body and "name" in one.body
    kept = await ngsi_lite.call("DELETE", "/entities", params={"type": "Park", "keep": "name"})
    assert kept.status == 204, kept.body
    park = await ngsi_lite.get("/entities/urn:ngsi-ld:Park:1")
    assert "name" in park.body and "area" not in park.body


async def test_purge_local_alone_qualifies(ngsi_lite: Ngsi) -> None:
    await ngsi_lite.create(air(1))
    gone = await ngsi_lite.call("DELETE", "/entities", params={"local": "true"})
    assert gone.status == 204, gone.body
    assert await _ids(ngsi_lite, "AirQualityObserved") == []


TOO_WIDE_OR_MALFORMED: list[dict[str, str]] = [
    {},
    {"id": "urn:ngsi-ld:AirQualityObserved:001"},
    {"idPattern": ".*"},
    {"attrs": "createdAt"},
    {"q": 'modifiedAt>"2020-01-01T00:00:00Z"'},
    {"type": "AirQualityObserved", "keep": "NO2", "drop": "location"},
    {"type": "AirQualityObserved", "q": 'owner{name}=="x"'},
    {"type": "AirQualityObserved", "attrs": "owner{name}"},
]


async def test_too_wide_or_malformed_purge_deletes_nothing(ngsi_lite: Ngsi) -> None:
    await ngsi_lite.create(air(1))
    for params in TOO_WIDE_OR_MALFORMED:
        refused = await ngsi_lite.call("DELETE", "/entities", params=params)
        assert refused.status == 400, (params, refused.body)
        assert refused.body["type"] == BAD_DATA, params
    assert await _ids(ngsi_lite, "AirQualityObserved") == ["urn:ngsi-ld:AirQualityObserved:001"]
