"""Bad input: each answered with the right NGSI-LD problem type, and nothing stored."""

from __future__ import annotations

import json
from typing import Any

from tests.ngsild.conftest import Ngsi, air

ERR = "https://uri.etsi.org/ngsi-ld/errors/"
GOOD_ID = "urn:ngsi-ld:AirQualityObserved:001"


async def _nothing_stored(ngsi: Ngsi) -> None:
    reply = await ngsi.get("/entities", idPattern=".*", count="true")
    assert reply.status == 200 and reply.body == [], reply.body
    assert reply.headers["NGSILD-Results-Count"] == "0"


def _entity(**attrs: Any) -> dict[str, Any]:
    return {"id": GOOD_ID, "type": "AirQualityObserved", **attrs}


BAD_ENTITIES = [
    ({"id": "not a uri", "type": "T"}, "BadRequestData"),
    ({"id": "noscheme", "type": "T"}, "BadRequestData"),
    ({"type": "T"}, "BadRequestData"),
    ({"id": GOOD_ID}, "BadRequestData"),
    ({"id": GOOD_ID, "type": ""}, "BadRequestData"),
    (_entity(NO2={"type": "Property"}), "BadRequestData"),
    (_entity(NO2={"type": "Property", "value": None}), "BadRequestData"),
    (_entity(ref={"type": "Relationship"}), "BadRequestData"),
    (_entity(ref={"type": "Relationship", "object": "not a uri"}), "BadRequestData"),
    (_entity(NO2={"type": "Propertee", "value": 1}), "BadRequestData"),
    (_entity(NO2={"type": "Property", "value": 1, "observedAt": "yesterday"}), "BadRequestData"),
    (_entity(NO2={"type": "Property", "value": 1, "datasetId": "x y"}), "BadRequestData"),
    (
        _entity(
            location={"type": "GeoProperty", "value": {"type": "Point", "coordinates": [200, 1]}}
        ),
        "BadRequestData",
    ),
    (
        _entity(location={"type": "GeoProperty", "value": {"type": "Point", "coordinates": "1,2"}}),
        "BadRequestData",
    ),
    (
        _entity(
            location={
                "type": "GeoProperty",
                "value": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 0]]]},
            }
        ),
        "BadRequestData",
    ),
    (
        _entity(
            location={"type": "GeoProperty", "value": {"type": "Circle", "coordinates": [1, 2]}}
        ),
        "BadRequestData",
    ),
    (_entity(location={"type": "Property", "value": 3}), "BadRequestData"),
    (_entity(name={"type": "LanguageProperty", "languageMap": {"en": 3}}), "BadRequestData"),
    (_entity(kind={"type": "VocabProperty", "vocab": 3}), "BadRequestData"),
    (_entity(**{"bad name": 1}), "BadRequestData"),
    (
        _entity(NO2=[{"type": "Property", "value": 1}, {"type": "Property", "value": 2}]),
        "BadRequestData",
    ),
    ([air(1)], "BadRequestData"),
]


async def test_invalid_entities_are_refused(ngsi_lite: Ngsi) -> None:
    for body, kind in BAD_ENTITIES:
        for path in ("/entities", "/entityOperations/upsert"):
            reply = await ngsi_lite.post(path, body if path == "/entities" else [body])
            if path == "/entities":
                assert reply.status == 400, (body, reply.body)
                assert reply.content_type == "application/problem+json"
                assert reply.body["type"] == ERR + kind
                assert reply.body["detail"]
            elif isinstance(body, dict):
                assert reply.status == 207, (body, reply.body)
                assert reply.body["errors"][0]["error"]["type"] == ERR + kind
    await _nothing_stored(ngsi_lite)


async def test_transport_errors(ngsi_lite: Ngsi) -> None:
    n = ngsi_lite
    reply = await n.call("POST", "/entities", raw=b'{"id": "urn:a:1", ', ctype="application/json")
    assert reply.status == 400 and reply.body["type"] == ERR + "InvalidRequest"
    assert "malformed JSON" in reply.body["detail"]
    reply = await n.call("POST", "/entities", air(1), ctype="text/plain")
    assert reply.status == 415
    reply = await n.call("POST", "/entities", air(1), ctype="application/xml")
    assert reply.status == 415
    big = air(1, blob={"type": "Property", "value": "x" * 1_100_000})
    reply = await n.call("POST", "/entities", raw=json.dumps(big).encode())
    assert reply.status == 413
    # application/json with an @context, ld+json without one
    reply = await n.post(
        "/entities", {**air(1), "@context": "https://smartdatamodels.org/context.jsonld"}
    )
    assert reply.status == 400 and reply.body["type"] == ERR + "BadRequestData"
    reply = await n.post("/entities", air(1), ctype="application/ld+json")
    assert reply.status == 400 and reply.body["type"] == ERR + "BadRequestData"
    # a remote context that is not bundled: 503 LdContextNotAvailable
    reply = await n.post(
        "/entities",
        {**air(1), "@context": "https://example.org/unknown.jsonld"},
        ctype="application/ld+json",
    )
    assert reply.status == 503 and reply.body["type"] == ERR + "LdContextNotAvailable"
    reply = await n.call(
        "GET",
        "/entities",
        params={"type": "T"},
        headers={
            "Link": '<https://example.org/c.jsonld>; rel="http://www.w3.org/ns/json-ld#context"'
        },
    )
    assert reply.status == 503
    await _nothing_stored(n)
    # unacceptable Accept, unknown paths, wrong methods, unauthenticated
    reply = await n.call("GET", "/entities", params={"type": "T"}, headers={"Accept": "text/html"})
    assert reply.status == 406
    reply = await n.get("/nothing/here")
    assert reply.status == 404 and reply.body["type"] == ERR + "ResourceNotFound"
    reply = await n.call("PUT", "/entities", air(1))
    assert reply.status == 405
    reply = await n.call("DELETE", "/entities")  # a purge without a filter: too wide
    assert reply.status == 400 and reply.body["type"] == ERR + "BadRequestData"
    reply = await n.call("POST", "/entities", air(1), admin=False)
    assert reply.status == 401
    await _nothing_stored(n)


async def test_entity_errors(ngsi_lite: Ngsi) -> None:
    n = ngsi_lite
    await n.create(air(1, 10))
    reply = await n.post("/entities", air(1, 99))
    assert reply.status == 409 and reply.body["type"] == ERR + "AlreadyExists"
    assert (await n.get(f"/entities/{GOOD_ID}", options="keyValues")).body["NO2"] == 10
    for path in ("/entities/urn:x:none", "/entities/not-a-uri"):
        reply = await n.get(path)
        assert reply.status in (400, 404)
    assert (await n.get("/entities/urn:x:none")).body["type"] == ERR + "ResourceNotFound"
    assert (await n.get("/entities/not-a-uri")).body["type"] == ERR + "BadRequestData"
    reply = await n.call("PUT", "/entities/urn:x:none", {"type": "T"})
    assert reply.status == 404
    reply = await n.call("PATCH", f"/entities/{GOOD_ID}", {"NO2": {"type": "Property"}})
    assert reply.status == 400
    reply = await n.call("PATCH", f"/entities/{GOOD_ID}/attrs/NO2", {"type": "Relationship"})
    assert reply.status == 400
    reply = await n.post(
        f"/entities/{GOOD_ID}/attrs",
        {"location": {"type": "GeoProperty", "value": {"type": "Point"}}},
    )
    assert reply.status == 400
    got = (await n.get(f"/entities/{GOOD_ID}", options="keyValues")).body
    assert got["NO2"] == 10 and got["location"]["coordinates"] == [-1.13, 37.98]


BAD_QUERIES = [
    {"type": "T", "q": "NO2>"},
    {"type": "T", "q": "NO2>>3"},
    {"type": "T", "q": "(NO2>3"},
    {"type": "T", "q": "NO2>3)"},
    {"type": "T", "q": 'NO2=="open'},
    {"type": "T", "q": "NO2~=("},
    {"type": "T", "q": "NO2>1..3"},
    {"type": "T", "q": ";"},
    {"type": "T,"},
    {"type": "(A;B"},
    {"type": "T", "limit": "-1"},
    {"type": "T", "limit": "abc"},
    {"type": "T", "limit": "0"},
    {"type": "T", "idPattern": "("},
    {"id": "not a uri"},
    {"type": "T", "scopeQ": "Madrid"},
    {"type": "T", "georel": "near;maxDistance==10", "geometry": "Point"},
    {"type": "T", "georel": "near;maxDistance==10", "geometry": "Point", "coordinates": "[1,"},
    {"type": "T", "georel": "near;maxDistance==10", "geometry": "Point", "coordinates": "[500,1]"},
    {"type": "T", "georel": "near", "geometry": "Point", "coordinates": "[1,1]"},
    {"type": "T", "georel": "near;maxDistance==x", "geometry": "Point", "coordinates": "[1,1]"},
    {"type": "T", "georel": "around", "geometry": "Point", "coordinates": "[1,1]"},
    {"type": "T", "georel": "within", "geometry": "Blob", "coordinates": "[1,1]"},
    {"type": "T", "georel": "within", "geometry": "Polygon", "coordinates": "[[1,1]]"},
    {},
]


async def test_malformed_queries(ngsi_lite: Ngsi) -> None:
    for params in BAD_QUERIES:
        reply = await ngsi_lite.get("/entities", **params)
        assert reply.status == 400, (params, reply.body)
        assert reply.body["type"] == ERR + "BadRequestData", params
    reply = await ngsi_lite.get("/entities", type="T", limit="5000")
    assert reply.status == 403 and reply.body["type"] == ERR + "TooManyResults"
    reply = await ngsi_lite.post("/entityOperations/query", {"type": "Query", "q": "a>"})
    assert reply.status == 400
    reply = await ngsi_lite.post("/entityOperations/query", ["not", "a", "query"])
    assert reply.status == 400
    reply = await ngsi_lite.post("/entityOperations/create", {"id": "urn:a:1"})
    assert reply.status == 400
