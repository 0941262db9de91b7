"""Entity and attribute operations over HTTP, on SQLite and PostgreSQL, with their change events."""

from __future__ import annotations

from typing import Any

from connector.ngsild.context import DEFAULT_VOCAB
from connector.ngsild.events import ChangeEvent
from tests.ngsild.conftest import Ngsi, air

E1 = "urn:ngsi-ld:AirQualityObserved:001"
NO2 = DEFAULT_VOCAB + "NO2"


def _listen(ngsi: Ngsi) -> list[ChangeEvent]:
    events: list[ChangeEvent] = []

    async def listener(event: ChangeEvent) -> None:
        events.append(event)

    assert ngsi.connector.ctx is not None
    ngsi.connector.ctx.components["ngsild.events"].subscribe(listener)
    return events


async def test_entity_lifecycle(ngsi: Ngsi) -> None:
    events = _listen(ngsi)
    entity = air(
        1,
        45,
        name={"type": "LanguageProperty", "languageMap": {"es": "Centro", "en": "Centre"}},
        refDevice={"type": "Relationship", "object": "urn:ngsi-ld:Device:1"},
    )
    reply = await ngsi.post("/entities", entity)
    assert reply.status == 201
    assert reply.headers["Location"] == f"/ngsi-ld/v1/entities/{E1}"
    assert events[-1].kind == "create" and events[-1].before is None
    assert events[-1].entity_types == (DEFAULT_VOCAB + "AirQualityObserved",)
    assert NO2 in events[-1].changed_attributes

    got = await ngsi.get(f"/entities/{E1}")
    assert got.status == 200
    assert got.body["NO2"] == entity["NO2"]
    assert got.body["refDevice"] == {"type": "Relationship", "object": "urn:ngsi-ld:Device:1"}
    assert "Link" in got.headers

    kv = (await ngsi.get(f"/entities/{E1}", options="keyValues")).body
    assert kv["NO2"] == 45 and kv["location"]["type"] == "Point"
    assert kv["refDevice"] == "urn:ngsi-ld:Device:1"
    assert (await ngsi.get(f"/entities/{E1}", format="keyValues")).body == kv
    concise = (await ngsi.get(f"/entities/{E1}", options="concise")).body
    assert concise["NO2"] == {"value": 45, "unitCode": "GQ", "observedAt": "2025-03-04T10:00:00Z"}
    assert concise["location"] == {"type": "Point", "coordinates": [-1.13, 37.98]}
    lang = (await ngsi.get(f"/entities/{E1}", lang="en")).body
    assert lang["name"] == {"type": "Property", "value": "Centre", "lang": "en"}
    sys_attrs = (await ngsi.get(f"/entities/{E1}", options="sysAttrs")).body
    assert sys_attrs["createdAt"].endswith("Z") and "modifiedAt" in sys_attrs["NO2"]
    picked = (await ngsi.get(f"/entities/{E1}", pick="id,NO2")).body
    assert set(picked) == {"id", "NO2"}
    omitted = (await ngsi.get(f"/entities/{E1}", omit="location,name")).body
    assert "location" not in omitted and "NO2" in omitted
    only = (await ngsi.get(f"/entities/{E1}", attrs="NO2")).body
    assert set(only) == {"id", "type", "NO2"}

    # merge: change a value, delete an attribute with the NGSI-LD null
    reply = await ngsi.call(
        "PATCH", f"/entities/{E1}", {"NO2": {"value": 50}, "name": "urn:ngsi-ld:null"}
    )
    assert reply.status == 204, reply.body
    got = (await ngsi.get(f"/entities/{E1}")).body
    assert got["NO2"]["value"] == 50 and got["NO2"]["unitCode"] == "GQ" and "name" not in got
    assert events[-1].kind == "update" and events[-1].changed_attributes >= {NO2}
    assert events[-1].before is not None and events[-1].before[NO2][0]["value"] == 45

    # replace (PUT): the entity becomes the body
    reply = await ngsi.call("PUT", f"/entities/{E1}", {"type": "AirQualityObserved", "PM10": 12})
    assert reply.status == 204, reply.body
    got = (await ngsi.get(f"/entities/{E1}")).body
    assert set(got) == {"id", "type", "PM10"}

    reply = await ngsi.call("DELETE", f"/entities/{E1}")
    assert reply.status == 204
    assert events[-1].kind == "delete" and events[-1].after is None
    missing = await ngsi.get(f"/entities/{E1}")
    assert missing.status == 404
    assert missing.body["type"] == "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"


async def test_attribute_operations(ngsi: Ngsi) -> None:
    await ngsi.create(air(1, 30))
    path = f"/entities/{E1}/attrs"
    # append, then append again with noOverwrite: reported as not updated
    reply = await ngsi.post(path, {"PM10": {"type": "Property", "value": 20}})
    assert reply.status == 204
    reply = await ngsi.call("POST", path, {"PM10": 99, "O3": 7}, params={"options": "noOverwrite"})
    assert reply.status == 207
    assert reply.body["updated"] == ["O3"]
    assert reply.body["notUpdated"][0]["attributeName"] == "PM10"
    got = (await ngsi.get(f"/entities/{E1}", options="keyValues")).body
    assert got["PM10"] == 20 and got["O3"] == 7

    # update existing attributes only
    reply = await ngsi.call("PATCH", path, {"PM10": 21, "SO2": 3})
    assert reply.status == 207 and reply.body["notUpdated"][0]["attributeName"] == "SO2"
    # partial attribute update keeps the other members
    reply = await ngsi.call("PATCH", f"{path}/NO2", {"value": 33})
    assert reply.status == 204, reply.body
    no2 = (await ngsi.get(f"/entities/{E1}")).body["NO2"]
    assert no2["value"] == 33 and no2["unitCode"] == "GQ"
    # replace attribute drops the other members
    reply = await ngsi.call("PUT", f"{path}/NO2", {"type": "Property", "value": 34})
    assert reply.status == 204, reply.body
    assert (await ngsi.get(f"/entities/{E1}")).body["NO2"] == {"type": "Property", "value": 34}
    # multi-attributes by datasetId
    reply = await ngsi.post(
        path, {"NO2": {"type": "Property", "value": 1, "datasetId": "urn:ds:raw"}}
    )
    assert reply.status == 204
    no2 = (await ngsi.get(f"/entities/{E1}")).body["NO2"]
    assert isinstance(no2, list) and len(no2) == 2
    reply = await ngsi.call("DELETE", f"{path}/NO2", params={"datasetId": "urn:ds:raw"})
    assert reply.status == 204
    assert (await ngsi.get(f"/entities/{E1}")).body["NO2"]["value"] == 34
    reply = await ngsi.call("DELETE", f"{path}/NO2")
    assert reply.status == 204
    assert "NO2" not in (await ngsi.get(f"/entities/{E1}")).body
    # unknown attribute / entity
    reply = await ngsi.call("DELETE", f"{path}/NO2")
    assert reply.status == 404
    reply = await ngsi.call("PATCH", "/entities/urn:x:none/attrs/NO2", {"value": 1})
    assert reply.status == 404


async def test_sub_attributes_and_attribute_types(ngsi: Ngsi) -> None:
    entity: dict[str, Any] = {
        "id": "urn:ngsi-ld:Thing:1",
        "type": ["Thing", "Device"],
        "temperature": {
            "type": "Property",
            "value": 21.5,
            "accuracy": {"type": "Property", "value": 0.2},
            "providedBy": {"type": "Relationship", "object": "urn:ngsi-ld:Sensor:9"},
        },
        "category": {"type": "VocabProperty", "vocab": "sensor"},
        "config": {"type": "JsonProperty", "json": {"a": [1, 2], "type": "not an attribute"}},
        "readings": {"type": "ListProperty", "valueList": [1, 2, 3]},
        "peers": {
            "type": "ListRelationship",
            "objectList": [{"object": "urn:a:1"}, {"object": "urn:a:2"}],
        },
        "address": {"streetAddress": "Plaza Belluga 1", "addressLocality": "Murcia"},
        "scope": "/Murcia/Centro",
    }
    await ngsi.create(entity)
    got = (await ngsi.get("/entities/urn:ngsi-ld:Thing:1")).body
    assert got["type"] == ["Thing", "Device"]
    assert got["temperature"]["accuracy"] == {"type": "Property", "value": 0.2}
    assert got["temperature"]["providedBy"]["object"] == "urn:ngsi-ld:Sensor:9"
    assert got["category"] == {"type": "VocabProperty", "vocab": "sensor"}
    assert got["config"]["json"] == entity["config"]["json"]
    assert got["readings"]["valueList"] == [1, 2, 3]
    assert got["peers"]["objectList"] == [{"object": "urn:a:1"}, {"object": "urn:a:2"}]
    assert got["address"] == {"type": "Property", "value": entity["address"]}
    assert got["scope"] == "/Murcia/Centro"
    for q in (
        "temperature.accuracy<0.5",
        'address[addressLocality]=="Murcia"',
        "category==sensor",
        "readings==2",
        'peers=="urn:a:2"',
        'temperature.providedBy=="urn:ngsi-ld:Sensor:9"',
    ):
        reply = await ngsi.get("/entities", type="Thing", q=q)
        assert [e["id"] for e in reply.body] == ["urn:ngsi-ld:Thing:1"], q
    reply = await ngsi.get("/entities", type="Thing;Device", scopeQ="/Murcia/#")
    assert len(reply.body) == 1
    reply = await ngsi.get("/entities", type="Thing", scopeQ="/Madrid")
    assert reply.body == []


async def test_concurrent_writes_are_all_applied(ngsi: Ngsi) -> None:
    """Many writers at once: group commit applies each change on top of the previous one."""
    import asyncio

    events = _listen(ngsi)
    await ngsi.create(air(1, 1))
    patches = [ngsi.call("PATCH", f"/entities/{E1}", {f"a{i}": i}) for i in range(30)]
    creates = [ngsi.post("/entities", air(100 + i)) for i in range(30)]
    duplicate = [ngsi.post("/entities", air(100)) for _ in range(3)]
    replies = await asyncio.gather(*patches, *creates, *duplicate)
    statuses = [r.status for r in replies]
    assert statuses[:60] == [204] * 30 + [201] * 30
    assert sorted(statuses[60:]) == [409, 409, 409]
    got = (await ngsi.get(f"/entities/{E1}", options="keyValues")).body
    assert all(got[f"a{i}"] == i for i in range(30))
    listed = await ngsi.get("/entities", type="AirQualityObserved", count="true", limit="0")
    assert listed.headers["NGSILD-Results-Count"] == "31"
    kinds = [e.kind for e in events]
    assert kinds.count("create") == 31 and kinds.count("update") == 30


async def test_integer_coordinates_and_values_are_indexed(ngsi: Ngsi) -> None:
    """Index rows go to the driver as they are: integers where floats are stored must work on
    both engines, and be found by q and geo-queries."""
    entity = {
        "id": "urn:ngsi-ld:Spot:int",
        "type": "Spot",
        "count": {"type": "Property", "value": 3},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [1, 2]}},
    }
    await ngsi.create(entity)
    found = await ngsi.get("/entities", type="Spot", q="count==3")
    assert [e["id"] for e in found.body] == ["urn:ngsi-ld:Spot:int"]
    near = await ngsi.get(
        "/entities",
        type="Spot",
        georel="near;maxDistance==1000",
        geometry="Point",
        coordinates="[1,2]",
    )
    assert [e["id"] for e in near.body] == ["urn:ngsi-ld:Spot:int"]
