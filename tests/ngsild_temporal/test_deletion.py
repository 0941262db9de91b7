"""Deletions in the history (NGSI-LD v1.8): a deleted attribute or entity keeps its history,
and the deletion shows as an instance with the NGSI-LD Null and ``deletedAt``; a deleted entity
carries ``deletedAt`` itself."""

from __future__ import annotations

from connector.ngsild.model import NULL
from tests.ngsild_subscriptions.support import Client, air
from tests.ngsild_temporal.test_history import S1, T, _three_readings


async def test_entity_deletion_keeps_history_and_shows_deleted_at(broker: Client) -> None:
    await _three_readings(broker)
    assert (await broker.delete(f"/entities/{S1}")).status == 204
    kept = await broker.get(f"/temporal/entities/{S1}", attrs="NO2")
    assert kept.status == 200, kept.body
    history = kept.body["NO2"]
    assert [i["value"] for i in history] == [31, 45, 52, NULL]
    deletion = history[-1]
    assert deletion["type"] == "Property" and deletion["deletedAt"] > T[2]
    assert "deletedAt" not in history[0]
    assert kept.body["deletedAt"] == deletion["deletedAt"]
    # every attribute of the entity got its deletion instance, relationships with object
    whole = await broker.get(f"/temporal/entities/{S1}")
    assert whole.body["location"][-1]["deletedAt"] == deletion["deletedAt"]
    # the query finds the deleted entity too, and lastN=1 is the deletion
    found = await broker.get("/temporal/entities", type="AirQualityObserved", lastN="1")
    assert [e["id"] for e in found.body] == [S1]
    assert found.body[0]["deletedAt"] == deletion["deletedAt"]
    assert found.body[0]["NO2"][0]["value"] == NULL
    # simplified representation: the NGSI-LD Null at the deletion time
    simple = await broker.get(f"/temporal/entities/{S1}", attrs="NO2", options="temporalValues")
    assert simple.body["NO2"]["values"][-1] == [NULL, deletion["deletedAt"]]
    # a q on the state the history leaves matches nothing: the attribute is gone
    gone = await broker.get("/temporal/entities", type="AirQualityObserved", q="NO2>0")
    assert gone.body == []

    # created again: no longer deleted, the old history still there
    assert (await broker.post("/entities", air(1, no2=60))).status == 201
    again = await broker.get(f"/temporal/entities/{S1}", attrs="NO2")
    assert "deletedAt" not in again.body
    assert [i["value"] for i in again.body["NO2"]] == [31, 45, 52, NULL, 60]


async def test_attribute_deletion_is_an_instance_with_deleted_at(broker: Client) -> None:
    entity = air(2)
    entity["id"] = "urn:ngsi-ld:AirQualityObserved:002"
    entity["isNear"] = {"type": "Relationship", "object": "urn:ngsi-ld:Place:1"}
    entity["PM10"] = [
        {"type": "Property", "value": 10, "datasetId": "urn:ngsi-ld:Dataset:a"},
        {"type": "Property", "value": 20, "datasetId": "urn:ngsi-ld:Dataset:b"},
    ]
    eid = entity["id"]
    assert (await broker.post("/entities", entity)).status == 201
    assert (await broker.delete(f"/entities/{eid}/attrs/isNear")).status == 204
    reply = await broker.call(
        "DELETE", f"/entities/{eid}/attrs/PM10?datasetId=urn:ngsi-ld:Dataset:a"
    )
    assert reply.status == 204
    assert (await broker.patch(f"/entities/{eid}", {"NO2": NULL})).status == 204  # merge: delete

    history = (await broker.get(f"/temporal/entities/{eid}")).body
    assert "deletedAt" not in history  # the entity itself still exists
    near = history["isNear"]
    assert [i["object"] for i in near] == ["urn:ngsi-ld:Place:1", NULL]
    assert near[-1]["type"] == "Relationship" and "deletedAt" in near[-1]
    pm10 = {(i.get("datasetId"), i["value"]) for i in history["PM10"]}
    assert pm10 == {
        ("urn:ngsi-ld:Dataset:a", 10),
        ("urn:ngsi-ld:Dataset:b", 20),
        ("urn:ngsi-ld:Dataset:a", NULL),
    }
    assert [i["value"] for i in history["NO2"]] == [30, NULL]
    # the current entity no longer has them
    current = (await broker.get(f"/entities/{eid}")).body
    assert "isNear" not in current and "NO2" not in current
    assert current["PM10"]["datasetId"] == "urn:ngsi-ld:Dataset:b"
