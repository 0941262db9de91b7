"""A narrowed access scope applies to history exactly as to current entities."""

from __future__ import annotations

from tests.ngsild_subscriptions.support import CONSUMER, Client, ConsumerPep, air

S1 = "urn:ngsi-ld:AirQualityObserved:001"


async def test_history_is_narrowed(lite: Client) -> None:
    await lite.post("/entities", air(1, no2=44))
    await lite.post("/entities", air(2, no2=50, lon=-3.70, lat=40.41))  # outside the area
    await lite.post(
        "/entities",
        {
            "id": "urn:ngsi-ld:WeatherObserved:1",
            "type": "WeatherObserved",
            "temperature": {"type": "Property", "value": 30},
        },
    )
    await lite.patch(f"/entities/{S1}/attrs", {"NO2": 47, "temperature": 30})
    assert lite.connector.ctx is not None
    pep = ConsumerPep()
    lite.connector.ctx.components["ngsild.pep"] = pep
    consumer = {"Authorization": f"Bearer {CONSUMER}"}

    listed = await lite.call(
        "GET",
        "/temporal/entities",
        admin=False,
        headers=consumer,
        params={"type": "AirQualityObserved,WeatherObserved"},
    )
    assert listed.status == 200
    assert [e["id"] for e in listed.body] == [S1]
    [station] = listed.body
    assert set(station) == {"id", "type", "NO2", "location"}
    assert [i["value"] for i in station["NO2"]] == [44, 47]
    hidden_q = await lite.call(
        "GET",
        "/temporal/entities",
        admin=False,
        headers=consumer,
        params={"type": "AirQualityObserved", "q": "temperature>0"},
    )
    assert hidden_q.body == []
    other = await lite.call(
        "GET", "/temporal/entities/urn:ngsi-ld:WeatherObserved:1", admin=False, headers=consumer
    )
    assert other.status == 404
    # read-only: temporal writes and deletes are refused, nothing changes
    write = await lite.call("POST", "/temporal/entities", air(1), admin=False, headers=consumer)
    assert write.status == 403
    gone = await lite.call("DELETE", f"/temporal/entities/{S1}", admin=False, headers=consumer)
    assert gone.status == 403
    assert len((await lite.get(f"/temporal/entities/{S1}", attrs="NO2")).body["NO2"]) == 2
    assert {"temporal.query", "temporal.retrieve", "temporal.create", "temporal.delete"} <= set(
        pep.seen
    )
