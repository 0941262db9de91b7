"""Try every NGSI-LD endpoint with an access token of a narrowed agreement: AirQualityObserved
only, NO2 and location only, within Murcia's box. Nothing outside may come back."""

from __future__ import annotations

from typing import Any

from tests.enforcement.helpers import Provider, air, narrowed_policy, parking

AIR = "urn:ngsi-ld:AirQualityObserved:"
INSIDE = {AIR + "001", AIR + "002", AIR + "003"}
ALLOWED_KEYS = {"id", "type", "NO2", "location"}


def ids(body: Any) -> set[str]:
    return {e["id"] for e in body}


def only_allowed_attributes(body: list[dict[str, Any]]) -> bool:
    return all(set(e) <= ALLOWED_KEYS for e in body)


async def test_queries_come_back_narrowed(provider: Provider) -> None:
    g = await provider.grant(narrowed_policy())
    status, body, headers = await g.call("GET", "/entities", params={"type": "AirQualityObserved"})
    assert status == 200, body
    assert ids(body) == INSIDE  # 008 and 009 lie outside the area
    assert only_allowed_attributes(body) and all("NO2" in e for e in body)

    for params in (
        {"idPattern": ".*"},
        {"attrs": "NO2,PM10"},
        {"idPattern": ".*", "count": "true"},
    ):
        status, body, headers = await g.call("GET", "/entities", params=params)
        assert status == 200, (params, body)
        assert ids(body) == INSIDE, params
        assert only_allowed_attributes(body), params
    assert headers["NGSILD-Results-Count"] == "3"

    # a type outside the agreement, alone: refused with the reason; mixed: narrowed
    status, body, _ = await g.call("GET", "/entities", params={"type": "ParkingSpot"})
    assert status == 403
    assert "ParkingSpot is not part of it" in body["detail"]
    status, body, _ = await g.call(
        "GET", "/entities", params={"type": "ParkingSpot,AirQualityObserved"}
    )
    assert status == 200 and ids(body) == INSIDE

    # forbidden attributes: refused when only they are asked for, invisible to q
    status, body, _ = await g.call("GET", "/entities", params={"attrs": "PM10"})
    assert status == 403 and "PM10" in body["detail"]
    for q in ("PM10>0", "PM10<0", "PM10==21", "PM10!=21"):
        status, body, _ = await g.call(
            "GET", "/entities", params={"type": "AirQualityObserved", "q": q}
        )
        assert status == 200 and body == [], (q, body)
    status, body, _ = await g.call(
        "GET", "/entities", params={"type": "AirQualityObserved", "q": "NO2>41"}
    )
    assert ids(body) == {AIR + "002", AIR + "003"}

    # pick / omit cannot widen the view
    status, body, _ = await g.call(
        "GET", "/entities", params={"type": "AirQualityObserved", "pick": "id,PM10,status"}
    )
    assert status == 200 and all(set(e) <= {"id"} for e in body), body
    status, body, _ = await g.call(
        "GET", "/entities", params={"type": "AirQualityObserved", "omit": "NO2"}
    )
    assert status == 200 and all(set(e) <= {"id", "type", "location"} for e in body), body
    # keyValues and a geo query do not widen it either
    status, body, _ = await g.call(
        "GET",
        "/entities",
        params={
            "type": "AirQualityObserved",
            "options": "keyValues",
            "georel": "near;maxDistance==100000",
            "geometry": "Point",
            "coordinates": "[-1.3,37.98]",
        },
    )
    assert status == 200 and ids(body) <= INSIDE and only_allowed_attributes(body)


async def test_retrieval_discovery_and_batch_query(provider: Provider) -> None:
    g = await provider.grant(narrowed_policy())
    status, body, _ = await g.call("GET", f"/entities/{AIR}001")
    assert status == 200 and set(body) == ALLOWED_KEYS, body
    status, body, _ = await g.call("GET", f"/entities/{AIR}001", params={"attrs": "PM10,NO2"})
    assert status == 200 and "PM10" not in body
    for hidden in ("urn:ngsi-ld:ParkingSpot:001", f"{AIR}008"):
        status, body, _ = await g.call("GET", f"/entities/{hidden}")
        assert status == 404, (hidden, body)

    status, body, _ = await g.call("GET", "/types")
    assert status == 200 and body["typeList"] == ["AirQualityObserved"]
    status, body, _ = await g.call("GET", "/types", params={"details": "true"})
    assert status == 200 and [t["typeName"] for t in body] == ["AirQualityObserved"]
    assert set(body[0]["attributeNames"]) <= {"NO2", "location"}
    status, body, _ = await g.call("GET", "/types/ParkingSpot")
    assert status == 403
    status, body, _ = await g.call("GET", "/attributes")
    assert status == 200 and set(body["attributeList"]) <= {"NO2", "location"}
    assert "PM10" not in body["attributeList"] and "status" not in body["attributeList"]
    status, body, _ = await g.call("GET", "/attributes/PM10")
    assert status == 404

    query: dict[str, Any] = {"type": "Query", "entities": [{"type": "AirQualityObserved"}]}
    status, body, _ = await g.call("POST", "/entityOperations/query", json=query)
    assert status == 200 and ids(body) == INSIDE and only_allowed_attributes(body)
    query = {"type": "Query", "entities": [{"type": "ParkingSpot"}]}
    status, body, _ = await g.call("POST", "/entityOperations/query", json=query)
    assert status == 403
    query = {"type": "Query", "attrs": ["PM10"], "q": "PM10>0"}
    status, body, _ = await g.call("POST", "/entityOperations/query", json=query)
    assert status == 200 and body == []


async def test_writes_are_refused(provider: Provider) -> None:
    g = await provider.grant(narrowed_policy())
    new = air(50)
    attempts: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/entities", {"json": new}),
        ("PATCH", f"/entities/{AIR}001", {"json": {"NO2": {"type": "Property", "value": 0}}}),
        ("PUT", f"/entities/{AIR}001", {"json": air(1)}),
        ("DELETE", f"/entities/{AIR}001", {}),
        ("POST", f"/entities/{AIR}001/attrs", {"json": {"NO2": {"type": "Property", "value": 0}}}),
        ("PATCH", f"/entities/{AIR}001/attrs/NO2", {"json": {"value": 0}}),
        ("DELETE", f"/entities/{AIR}001/attrs/NO2", {}),
        ("POST", "/entityOperations/upsert", {"json": [new]}),
        ("POST", "/entityOperations/create", {"json": [new]}),
        ("POST", "/entityOperations/delete", {"json": [f"{AIR}001"]}),
        ("POST", "/entityOperations/update", {"json": [air(1)]}),
        ("POST", "/entityOperations/merge", {"json": [air(1)]}),
        ("POST", "/entities", {"json": parking(9)}),
    ]
    for method, path, kw in attempts:
        status, body, _ = await g.call(method, path, **kw)
        assert status == 403, (method, path, status, body)
        assert "not change it" in body["detail"] or "not part of it" in body["detail"]
    # nothing changed
    status, body, _ = await g.call("GET", f"/entities/{AIR}001")
    assert body["NO2"]["value"] == 41
    status, body, _ = await g.call("GET", f"/entities/{AIR}050")
    assert status == 404


async def test_modify_permission_allows_writes_within_scope(provider: Provider) -> None:
    policy = {
        "permission": [
            {
                "action": "modify",
                "constraint": [
                    {
                        "leftOperand": "ngsi-ld:entityType",
                        "operator": "isPartOf",
                        "rightOperand": ["AirQualityObserved"],
                    }
                ],
            }
        ]
    }
    g = await provider.grant(policy)
    status, body, _ = await g.call("POST", "/entities", json=air(60))
    assert status == 201, body
    status, body, _ = await g.call("POST", "/entities", json=parking(60))
    assert status == 403 and "ParkingSpot" in body["detail"]
    status, body, _ = await g.call("PATCH", f"/entities/{AIR}060/attrs/NO2", json={"value": 1})
    assert status == 204, body
