"""Query entities and batch operations over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from tests.ngsild.conftest import Ngsi, air

MURCIA = [-1.1281, 37.9904]


def ids(reply: Any) -> list[str]:
    assert reply.status == 200, reply.body
    return [e["id"] for e in reply.body]


def short(reply: Any) -> list[int]:
    return [int(i.rsplit(":", 1)[1]) for i in ids(reply)]


async def _seed(ngsi: Ngsi) -> None:
    entities = [
        air(1, 10, -1.1281, 37.9904, name={"type": "Property", "value": "Centro"}),
        air(2, 45, -1.1300, 37.9910, name={"type": "Property", "value": "Catedral"}),
        air(3, 80, -1.2154, 37.9693, name={"type": "Property", "value": "Alcantarilla"}),
        air(4, 41.5, -0.9000, 37.6000),
        {
            "id": "urn:ngsi-ld:ParkingSpot:001",
            "type": "ParkingSpot",
            "status": {"type": "Property", "value": "free"},
            "refParkingSite": {"type": "Relationship", "object": "urn:ngsi-ld:ParkingSite:1"},
            "location": {
                "type": "GeoProperty",
                "value": {"type": "Point", "coordinates": [-1.1290, 37.9905]},
            },
        },
        {
            "id": "urn:ngsi-ld:Zone:001",
            "type": "Zone",
            "location": {
                "type": "GeoProperty",
                "value": {
                    "type": "Polygon",
                    "coordinates": [
                        [
                            [-1.14, 37.98],
                            [-1.12, 37.98],
                            [-1.12, 38.0],
                            [-1.14, 38.0],
                            [-1.14, 37.98],
                        ]
                    ],
                },
            },
        },
    ]
    reply = await ngsi.post("/entityOperations/create", entities)
    assert reply.status == 201, reply.body
    assert sorted(reply.body) == sorted(e["id"] for e in entities)


async def test_queries(ngsi: Ngsi) -> None:
    await _seed(ngsi)
    g = ngsi.get
    assert short(await g("/entities", type="AirQualityObserved")) == [1, 2, 3, 4]
    assert short(await g("/entities", type="AirQualityObserved", q="NO2>40")) == [2, 3, 4]
    assert short(await g("/entities", type="AirQualityObserved", q="NO2>=45;NO2<80")) == [2]
    assert short(await g("/entities", type="AirQualityObserved", q="NO2==10,80")) == [1, 3]
    assert short(await g("/entities", type="AirQualityObserved", q="NO2==40..50")) == [2, 4]
    assert short(await g("/entities", type="AirQualityObserved", q="NO2!=45")) == [1, 3, 4]
    assert short(await g("/entities", type="AirQualityObserved", q="name~=Cat.*")) == [2]
    assert short(await g("/entities", type="AirQualityObserved", q="name!~=^C")) == [3]
    assert short(await g("/entities", type="AirQualityObserved", q="name")) == [1, 2, 3]
    assert short(await g("/entities", type="AirQualityObserved", q="!name")) == [4]
    assert short(await g("/entities", type="AirQualityObserved", q="(NO2<20|NO2>70);name")) == [
        1,
        3,
    ]
    assert short(await g("/entities", type="AirQualityObserved", q="NO2<20|NO2>70;name")) == [1, 3]
    assert short(await g("/entities", type="AirQualityObserved", q='name=="Centro"|NO2==41.5')) == [
        1,
        4,
    ]
    assert short(
        await g("/entities", type="AirQualityObserved", q="NO2.observedAt>=2025-03-04T00:00:00Z")
    ) == [1, 2, 3, 4]
    assert short(await g("/entities", type="AirQualityObserved", q='NO2.unitCode=="XX"')) == []
    assert ids(await g("/entities", q='refParkingSite=="urn:ngsi-ld:ParkingSite:1"')) == [
        "urn:ngsi-ld:ParkingSpot:001"
    ]
    assert len(ids(await g("/entities", type="AirQualityObserved,ParkingSpot"))) == 5
    assert ids(await g("/entities", type="ParkingSpot|Zone", attrs="status")) == [
        "urn:ngsi-ld:ParkingSpot:001"
    ]
    assert short(await g("/entities", idPattern=r"^urn:ngsi-ld:AirQualityObserved:00[13]$")) == [
        1,
        3,
    ]
    assert short(
        await g(
            "/entities", id="urn:ngsi-ld:AirQualityObserved:002,urn:ngsi-ld:AirQualityObserved:004"
        )
    ) == [2, 4]

    # pagination and count
    page = await g("/entities", type="AirQualityObserved", limit="2", offset="1", count="true")
    assert short(page) == [2, 3] and page.headers["NGSILD-Results-Count"] == "4"
    page = await g("/entities", type="AirQualityObserved", q="name~=a", limit="1", count="true")
    assert short(page) == [2] and page.headers["NGSILD-Results-Count"] == "2"
    only_count = await g("/entities", type="AirQualityObserved", limit="0", count="true")
    assert only_count.body == [] and only_count.headers["NGSILD-Results-Count"] == "4"

    # geo-queries
    coords = f"[{MURCIA[0]},{MURCIA[1]}]"
    near = await g(
        "/entities",
        type="AirQualityObserved",
        georel="near;maxDistance==500",
        geometry="Point",
        coordinates=coords,
    )
    assert short(near) == [1, 2]
    far = await g(
        "/entities",
        type="AirQualityObserved",
        georel="near;minDistance==5000",
        geometry="Point",
        coordinates=coords,
    )
    assert short(far) == [3, 4]
    both = await g(
        "/entities",
        type="AirQualityObserved",
        q="NO2>40",
        georel="near;maxDistance==2000",
        geometry="Point",
        coordinates=coords,
        count="true",
    )
    assert short(both) == [2] and both.headers["NGSILD-Results-Count"] == "1"
    box = "[[[-1.14,37.98],[-1.12,37.98],[-1.12,38.0],[-1.14,38.0],[-1.14,37.98]]]"
    within = await g("/entities", georel="within", geometry="Polygon", coordinates=box)
    assert ids(within) == [
        "urn:ngsi-ld:AirQualityObserved:001",
        "urn:ngsi-ld:AirQualityObserved:002",
        "urn:ngsi-ld:ParkingSpot:001",
        "urn:ngsi-ld:Zone:001",
    ]
    contains = await g("/entities", georel="contains", geometry="Point", coordinates=coords)
    assert ids(contains) == ["urn:ngsi-ld:AirQualityObserved:001", "urn:ngsi-ld:Zone:001"]
    inter = await g(
        "/entities",
        type="Zone,AirQualityObserved",
        georel="intersects",
        geometry="Polygon",
        coordinates=box,
    )
    assert len(ids(inter)) == 3
    disjoint = await g(
        "/entities",
        type="AirQualityObserved",
        georel="disjoint",
        geometry="Polygon",
        coordinates=box,
    )
    assert short(disjoint) == [3, 4]
    equals = await g("/entities", georel="equals", geometry="Point", coordinates=coords)
    assert short(equals) == [1]
    overlaps = await g(
        "/entities",
        georel="overlaps",
        geometry="Polygon",
        coordinates=("[[[-1.13,37.99],[-1.11,37.99],[-1.11,38.01],[-1.13,38.01],[-1.13,37.99]]]"),
    )
    assert ids(overlaps) == ["urn:ngsi-ld:Zone:001"]

    # GeoJSON answer
    reply = await ngsi.call(
        "GET",
        "/entities",
        params={"type": "AirQualityObserved", "limit": "2"},
        headers={"Accept": "application/geo+json"},
    )
    assert reply.content_type == "application/geo+json"
    assert reply.body["type"] == "FeatureCollection"
    assert reply.body["features"][0]["geometry"] == {"type": "Point", "coordinates": MURCIA}

    # batch query
    reply = await ngsi.post(
        "/entityOperations/query",
        {
            "type": "Query",
            "entities": [{"type": "AirQualityObserved"}],
            "q": "NO2>40",
            "geoQ": {
                "georel": "near;maxDistance==2000",
                "geometry": "Point",
                "coordinates": MURCIA,
            },
            "attrs": ["NO2"],
        },
    )
    assert ids(reply) == ["urn:ngsi-ld:AirQualityObserved:002"]
    assert set(reply.body[0]) == {"id", "type", "NO2"}


async def test_batch_operations(ngsi: Ngsi) -> None:
    await ngsi.create(air(1, 10))
    # create: one duplicate, one invalid, one good -> 207, only the good one stored
    reply = await ngsi.post(
        "/entityOperations/create", [air(1, 11), {"id": "not a uri", "type": "X"}, air(2, 20)]
    )
    assert reply.status == 207
    assert reply.body["success"] == ["urn:ngsi-ld:AirQualityObserved:002"]
    errors = {e["entityId"]: e["error"]["type"].rsplit("/", 1)[1] for e in reply.body["errors"]}
    assert errors == {
        "urn:ngsi-ld:AirQualityObserved:001": "AlreadyExists",
        "not a uri": "BadRequestData",
    }
    assert (
        await ngsi.get("/entities/urn:ngsi-ld:AirQualityObserved:001", options="keyValues")
    ).body["NO2"] == 10
    # upsert: replace one, create one
    reply = await ngsi.post("/entityOperations/upsert", [air(1, 12), air(3, 30)])
    assert reply.status == 201 and reply.body == ["urn:ngsi-ld:AirQualityObserved:003"]
    reply = await ngsi.post("/entityOperations/upsert", [air(1, 13)])
    assert reply.status == 204
    # upsert with update keeps other attributes
    reply = await ngsi.call(
        "POST",
        "/entityOperations/upsert",
        [{"id": "urn:ngsi-ld:AirQualityObserved:001", "type": "AirQualityObserved", "PM10": 5}],
        params={"options": "update"},
    )
    assert reply.status == 204, reply.body
    kv = (await ngsi.get("/entities/urn:ngsi-ld:AirQualityObserved:001", options="keyValues")).body
    assert kv["NO2"] == 13 and kv["PM10"] == 5
    # update: unknown entity is an error
    reply = await ngsi.post(
        "/entityOperations/update",
        [
            {"id": "urn:ngsi-ld:AirQualityObserved:002", "NO2": 21},
            {"id": "urn:ngsi-ld:AirQualityObserved:999", "NO2": 1},
        ],
    )
    assert reply.status == 207
    assert reply.body["success"] == ["urn:ngsi-ld:AirQualityObserved:002"]
    assert reply.body["errors"][0]["error"]["status"] == 404
    # merge
    reply = await ngsi.post(
        "/entityOperations/merge",
        [{"id": "urn:ngsi-ld:AirQualityObserved:002", "NO2": {"value": 22}, "PM10": 1}],
    )
    assert reply.status == 204
    got = (await ngsi.get("/entities/urn:ngsi-ld:AirQualityObserved:002")).body
    assert got["NO2"]["value"] == 22 and got["PM10"]["value"] == 1 and "location" in got
    # delete
    reply = await ngsi.post(
        "/entityOperations/delete",
        ["urn:ngsi-ld:AirQualityObserved:001", "urn:ngsi-ld:AirQualityObserved:999"],
    )
    assert reply.status == 207 and reply.body["success"] == ["urn:ngsi-ld:AirQualityObserved:001"]
    remaining = await ngsi.get("/entities", type="AirQualityObserved")
    assert short(remaining) == [2, 3]
