"""POST /temporal/entities creates or appends instances; DELETE removes an entity's history."""

from __future__ import annotations

from tests.ngsild_subscriptions.support import ERR, Client

EID = "urn:ngsi-ld:AirQualityObserved:hist"


def temporal_entity(*pairs: tuple[float, str]) -> dict[str, object]:
    return {
        "id": EID,
        "type": "AirQualityObserved",
        "NO2": [{"type": "Property", "value": v, "observedAt": at} for v, at in pairs],
    }


async def test_create_append_read_delete(broker: Client) -> None:
    first = await broker.post(
        "/temporal/entities",
        temporal_entity((10, "2024-01-01T00:00:00Z"), (11, "2024-01-01T01:00:00Z")),
    )
    assert first.status == 201, first.body
    assert first.headers["Location"] == f"/ngsi-ld/v1/temporal/entities/{EID}"
    again = await broker.post("/temporal/entities", temporal_entity((12, "2024-01-01T02:00:00Z")))
    assert again.status == 204
    got = await broker.get(f"/temporal/entities/{EID}", options="temporalValues")
    assert got.body["NO2"]["values"] == [
        [10, "2024-01-01T00:00:00Z"],
        [11, "2024-01-01T01:00:00Z"],
        [12, "2024-01-01T02:00:00Z"],
    ]
    appended = await broker.post(
        f"/temporal/entities/{EID}/attrs",
        {"NO2": {"type": "Property", "value": 13, "observedAt": "2024-01-01T03:00:00Z"}},
    )
    assert appended.status == 204, appended.body
    got = await broker.get(f"/temporal/entities/{EID}", options="temporalValues", lastN="1")
    assert got.body["NO2"]["values"] == [[13, "2024-01-01T03:00:00Z"]]
    unknown = await broker.post("/temporal/entities/urn:x:none/attrs", {"NO2": 1})
    assert unknown.status == 404 and unknown.body["type"] == ERR + "ResourceNotFound"
    # the current-state API is not affected by temporal writes
    assert (await broker.get(f"/entities/{EID}")).status == 404
    assert (await broker.delete(f"/temporal/entities/{EID}")).status == 204
    gone = await broker.get(f"/temporal/entities/{EID}")
    assert gone.status == 404 and gone.body["type"] == ERR + "ResourceNotFound"
    assert (await broker.delete(f"/temporal/entities/{EID}")).status == 404


async def test_bad_temporal_entities_store_nothing(lite: Client) -> None:
    bad = [
        [1, 2],
        {"type": "AirQualityObserved", "NO2": {"value": 1}},
        {"id": "not a uri", "type": "AirQualityObserved"},
        {"id": EID, "NO2": {"value": 1}},
        {"id": EID, "type": "AirQualityObserved", "NO2": {"type": "Property"}},
        {"id": EID, "type": "AirQualityObserved", "NO2": {"value": 1, "observedAt": "yesterday"}},
        {"id": EID, "type": "AirQualityObserved", "NO2": []},
    ]
    for body in bad:
        reply = await lite.post("/temporal/entities", body)
        assert reply.status == 400, (body, reply.body)
        assert reply.body["type"] == ERR + "BadRequestData", body
    assert (await lite.get(f"/temporal/entities/{EID}")).status == 404
    listed = await lite.get("/temporal/entities", type="AirQualityObserved", count="true")
    assert listed.body == [] and listed.headers["NGSILD-Results-Count"] == "0"


async def test_datasets_are_kept_apart(lite: Client) -> None:
    def inst(v: float, at: str, ds: str | None = None) -> dict[str, object]:
        out: dict[str, object] = {"type": "Property", "value": v, "observedAt": at}
        if ds:
            out["datasetId"] = ds
        return out

    body = {
        "id": EID,
        "type": "AirQualityObserved",
        "NO2": [
            inst(1, "2024-01-01T00:00:00Z"),
            inst(2, "2024-01-01T01:00:00Z"),
            inst(10, "2024-01-01T00:30:00Z", "urn:ngsi-ld:Dataset:sensorB"),
            inst(20, "2024-01-01T01:30:00Z", "urn:ngsi-ld:Dataset:sensorB"),
        ],
    }
    assert (await lite.post("/temporal/entities", body)).status == 201
    last = await lite.get(f"/temporal/entities/{EID}", lastN="1", options="temporalValues")
    assert last.body["NO2"] == [
        {"type": "Property", "values": [[2, "2024-01-01T01:00:00Z"]]},
        {
            "type": "Property",
            "datasetId": "urn:ngsi-ld:Dataset:sensorB",
            "values": [[20, "2024-01-01T01:30:00Z"]],
        },
    ]
    full = await lite.get(f"/temporal/entities/{EID}")
    assert [i["value"] for i in full.body["NO2"]] == [1, 10, 2, 20]  # in time order
