"""The shipped city data through the API: contexts, content negotiation and discovery."""

from __future__ import annotations

from connector.ngsild.context import CORE_URL, SDM_URL
from connector.ngsild.examples import load_examples
from tests.ngsild.conftest import Ngsi

LINK = f'<{SDM_URL}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
SDM_NO2 = "https://smartdatamodels.org/dataModel.Environment/NO2"


async def test_example_data_round_trip(ngsi_lite: Ngsi) -> None:
    n = ngsi_lite
    entities = load_examples()
    assert {e["type"] for e in entities} >= {
        "AirQualityObserved",
        "ParkingSpot",
        "OffStreetParking",
        "WasteContainer",
        "TrafficFlowObserved",
    }
    reply = await n.post("/entityOperations/upsert", entities, ctype="application/ld+json")
    assert reply.status == 201, reply.body
    assert len(reply.body) == len(entities)

    # with the Smart Data Models context in a Link header, the short names work
    reply = await n.call(
        "GET",
        "/entities",
        headers={"Link": LINK},
        params={
            "type": "AirQualityObserved",
            "q": "NO2>40",
            "georel": "near;maxDistance==3000",
            "geometry": "Point",
            "coordinates": "[-1.1281,37.9904]",
            "count": "true",
        },
    )
    assert reply.status == 200, reply.body
    assert {e["id"] for e in reply.body} == {
        "urn:ngsi-ld:AirQualityObserved:MUR-SBA",
        "urn:ngsi-ld:AirQualityObserved:MUR-CEN",
    }
    assert reply.headers["Link"].startswith(f"<{SDM_URL}>")
    assert reply.body[0]["NO2"]["unitCode"] == "GQ"
    # without it, the same names mean other IRIs: nothing matches
    assert (await n.get("/entities", type="AirQualityObserved")).body == []
    # the full IRI always works, and comes back compacted only when a context knows it
    reply = await n.get(
        "/entities",
        type="https://smartdatamodels.org/dataModel.Environment/AirQualityObserved",
        q=f"{SDM_NO2}>60",
    )
    assert [e["id"] for e in reply.body] == ["urn:ngsi-ld:AirQualityObserved:MUR-CEN"]
    assert SDM_NO2 in reply.body[0]

    # application/ld+json answers carry the @context in the body
    reply = await n.call(
        "GET",
        "/entities/urn:ngsi-ld:ParkingSpot:MUR-PK-CATEDRAL-001",
        headers={"Link": LINK, "Accept": "application/ld+json"},
    )
    assert reply.content_type == "application/ld+json"
    assert reply.body["@context"] == SDM_URL and "Link" not in reply.headers
    assert reply.body["refParkingSite"]["object"] == "urn:ngsi-ld:OffStreetParking:MUR-PK-CATEDRAL"
    reply = await n.call(
        "GET",
        "/entities",
        headers={"Link": LINK},
        params={
            "q": 'refParkingSite=="urn:ngsi-ld:OffStreetParking:MUR-PK-CATEDRAL";status=="free"'
        },
    )
    assert [e["id"] for e in reply.body] == ["urn:ngsi-ld:ParkingSpot:MUR-PK-CATEDRAL-001"]
    # a GeoJSON feature for a LineString location
    reply = await n.call(
        "GET",
        "/entities/urn:ngsi-ld:TrafficFlowObserved:MUR-TF-001",
        headers={"Link": LINK, "Accept": "application/geo+json"},
        params={"options": "keyValues"},
    )
    assert reply.body["type"] == "Feature" and reply.body["geometry"]["type"] == "LineString"
    assert reply.body["properties"]["intensity"] == 412

    # discovery under the SDM context
    types = (await n.call("GET", "/types", headers={"Link": LINK})).body
    assert "AirQualityObserved" in types["typeList"] and types["type"] == "EntityTypeList"
    details = (
        await n.call("GET", "/types", headers={"Link": LINK}, params={"details": "true"})
    ).body
    aq = next(t for t in details if t["typeName"] == "AirQualityObserved")
    assert {"NO2", "PM10", "PM25", "O3", "location"} <= set(aq["attributeNames"])
    info = (await n.call("GET", "/types/AirQualityObserved", headers={"Link": LINK})).body
    assert info["entityCount"] == 5 and info["type"] == "EntityTypeInfo"
    attrs = (await n.call("GET", "/attributes", headers={"Link": LINK})).body
    assert "fillingLevel" in attrs["attributeList"]
    attr = (await n.call("GET", "/attributes/NO2", headers={"Link": LINK})).body
    assert attr["attributeCount"] == 5 and attr["typeNames"] == ["AirQualityObserved"]
    listed = (
        await n.call("GET", "/attributes", headers={"Link": LINK}, params={"details": "true"})
    ).body
    assert any(
        a["attributeName"] == "refParkingSite" and a["typeNames"] == ["ParkingSpot"] for a in listed
    )


async def test_inline_context_create(ngsi_lite: Ngsi) -> None:
    n = ngsi_lite
    entity = {
        "@context": [{"ex": "http://example.org/", "speed": "ex:speed"}, CORE_URL],
        "id": "urn:ngsi-ld:Car:1",
        "type": "ex:Car",
        "speed": 80,
    }
    reply = await n.post("/entities", entity, ctype="application/ld+json")
    assert reply.status == 201, reply.body
    got = (await n.get("/entities/urn:ngsi-ld:Car:1")).body
    assert got["http://example.org/speed"]["value"] == 80
    assert got["type"] == "http://example.org/Car"
