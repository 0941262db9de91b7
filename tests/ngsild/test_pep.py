"""The policy enforcement seam: a narrowed AccessScope narrows every read path in the store."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from connector.ngsild.context import DEFAULT_VOCAB, NGSI_LD
from connector.ngsild.pep import AccessScope
from tests.ngsild.conftest import Ngsi, air

AQ = DEFAULT_VOCAB + "AirQualityObserved"
NO2 = DEFAULT_VOCAB + "NO2"
LOCATION = NGSI_LD + "location"
CENTRE_AREA = {
    "type": "Polygon",
    "coordinates": [[[-1.14, 37.98], [-1.12, 37.98], [-1.12, 38.0], [-1.14, 38.0], [-1.14, 37.98]]],
}


class RecordingPep:
    """A PEP that grants one fixed scope to everyone and records what it was asked."""

    def __init__(self, scope: AccessScope) -> None:
        self.scope = scope
        self.asked: list[tuple[str, set[str] | None]] = []
        self.after_calls: list[tuple[str, dict[str, Any]]] = []

    async def scope_for(
        self, request: web.Request, operation: str, target_types: set[str] | None
    ) -> AccessScope:
        self.asked.append((operation, target_types))
        return self.scope

    async def after(
        self,
        request: web.Request,
        operation: str,
        scope: AccessScope,
        response_summary: dict[str, Any],
    ) -> None:
        self.after_calls.append((operation, response_summary))


async def _seed(n: Ngsi) -> None:
    reply = await n.post(
        "/entityOperations/create",
        [
            air(1, 50, -1.1281, 37.9904, PM10=20),
            air(2, 60, -1.2154, 37.9693, PM10=30),
            {
                "id": "urn:ngsi-ld:ParkingSpot:001",
                "type": "ParkingSpot",
                "status": "free",
                "location": {
                    "type": "GeoProperty",
                    "value": {"type": "Point", "coordinates": [-1.129, 37.99]},
                },
            },
        ],
    )
    assert reply.status == 201, reply.body


def _install(n: Ngsi, pep: RecordingPep) -> None:
    assert n.connector.ctx is not None
    n.connector.ctx.components["ngsild.pep"] = pep


async def test_narrowed_scope_narrows_reads(ngsi_lite: Ngsi) -> None:
    n = ngsi_lite
    await _seed(n)
    pep = RecordingPep(
        AccessScope(
            entity_types=frozenset({AQ}),
            attributes=frozenset({NO2, LOCATION}),
            area=CENTRE_AREA,
            may_write=False,
        )
    )
    _install(n, pep)
    # query: only the AirQualityObserved inside the area, without PM10
    reply = await n.get("/entities", type="AirQualityObserved,ParkingSpot", count="true")
    assert [e["id"] for e in reply.body] == ["urn:ngsi-ld:AirQualityObserved:001"]
    assert reply.headers["NGSILD-Results-Count"] == "1"
    assert "PM10" not in reply.body[0] and reply.body[0]["NO2"]["value"] == 50
    # q on a hidden attribute matches nothing; on a visible one it works
    assert (await n.get("/entities", type="AirQualityObserved", q="PM10>0")).body == []
    assert len((await n.get("/entities", type="AirQualityObserved", q="NO2>0")).body) == 1
    assert (await n.get("/entities", type="ParkingSpot")).body == []
    # retrieve: hidden type is 404, visible entity without hidden attributes
    assert (await n.get("/entities/urn:ngsi-ld:ParkingSpot:001")).status == 404
    assert (await n.get("/entities/urn:ngsi-ld:AirQualityObserved:002")).status == 404  # area
    got = (await n.get("/entities/urn:ngsi-ld:AirQualityObserved:001")).body
    assert set(got) == {"id", "type", "NO2", "location"}
    # batch query
    reply = await n.post("/entityOperations/query", {"type": "Query", "attrs": ["NO2", "PM10"]})
    assert [e["id"] for e in reply.body] == ["urn:ngsi-ld:AirQualityObserved:001"]
    assert "PM10" not in reply.body[0]
    # discovery
    assert (await n.get("/types")).body["typeList"] == ["AirQualityObserved"]
    assert (await n.get("/types/ParkingSpot")).status == 404
    assert sorted((await n.get("/attributes")).body["attributeList"]) == ["NO2", "location"]
    assert (await n.get("/attributes/PM10")).status == 404
    info = (await n.get("/types/AirQualityObserved")).body
    assert [a["attributeName"] for a in info["attributeDetails"]] == ["NO2", "location"]
    # writes refused by a read-only scope, and nothing changed
    reply = await n.post("/entities", air(9))
    assert reply.status == 403
    reply = await n.call("DELETE", "/entities/urn:ngsi-ld:AirQualityObserved:001")
    assert reply.status == 403
    operations = {op for op, _ in pep.asked}
    assert {
        "entities.query",
        "entity.retrieve",
        "batch.query",
        "types.list",
        "types.retrieve",
        "attributes.list",
        "attributes.retrieve",
        "entity.create",
        "entity.delete",
    } <= operations
    assert ("entity.create", {AQ}) in pep.asked
    assert any(op == "entities.query" for op, _ in pep.after_calls)


async def test_write_scope_limits_types_and_attributes(ngsi_lite: Ngsi) -> None:
    n = ngsi_lite
    await _seed(n)
    _install(
        n,
        RecordingPep(
            AccessScope(
                entity_types=frozenset({AQ}), attributes=frozenset({NO2, LOCATION}), may_write=True
            )
        ),
    )
    assert (await n.post("/entities", air(5))).status == 201
    assert (await n.post("/entities", air(6, PM10=1))).status == 403
    reply = await n.post(
        "/entityOperations/upsert",
        [{"id": "urn:ngsi-ld:ParkingSpot:002", "type": "ParkingSpot", "status": "free"}, air(7)],
    )
    assert reply.status == 207 and reply.body["success"] == ["urn:ngsi-ld:AirQualityObserved:007"]
    assert reply.body["errors"][0]["error"]["status"] == 403


async def test_default_pep_wants_the_admin_key(ngsi_lite: Ngsi) -> None:
    n = ngsi_lite
    for method, path in (
        ("GET", "/entities?type=T"),
        ("GET", "/types"),
        ("GET", "/attributes"),
        ("POST", "/entityOperations/query"),
        ("GET", "/entities/urn:a:1"),
    ):
        reply = await n.call(
            method, path, {"type": "Query"} if method == "POST" else None, admin=False
        )
        assert reply.status == 401, path
    reply = await n.call("GET", "/types", admin=False, headers={"Authorization": "Bearer wrong"})
    assert reply.status == 401
