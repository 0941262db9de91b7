"""Every attribute change is kept and queried back through /temporal/entities."""

from __future__ import annotations

from typing import Any

from tests.ngsild_subscriptions.support import Client, air

S1 = "urn:ngsi-ld:AirQualityObserved:001"
T = ["2025-03-04T10:00:00Z", "2025-03-04T11:00:00Z", "2025-03-04T12:00:00Z"]


def reading(no2: float, at: str) -> dict[str, Any]:
    return {"NO2": {"type": "Property", "value": no2, "unitCode": "GQ", "observedAt": at}}


async def _three_readings(c: Client) -> None:
    first = air(1)
    first["NO2"]["observedAt"] = T[0]
    first["NO2"]["value"] = 31
    assert (await c.post("/entities", first)).status == 201
    for no2, at in ((45, T[1]), (52, T[2])):
        r = await c.patch(f"/entities/{S1}/attrs", reading(no2, at))
        assert r.status == 204, r.body


async def test_history_of_an_entity_with_time_windows(broker: Client) -> None:
    await _three_readings(broker)
    whole = await broker.get(f"/temporal/entities/{S1}", attrs="NO2")
    assert whole.status == 200, whole.body
    assert whole.body["id"] == S1 and whole.body["type"] == "AirQualityObserved"
    values = [i["value"] for i in whole.body["NO2"]]
    assert values == [31, 45, 52]
    assert all(i["type"] == "Property" and i["unitCode"] == "GQ" for i in whole.body["NO2"])
    assert len({i["instanceId"] for i in whole.body["NO2"]}) == 3
    assert [i["observedAt"] for i in whole.body["NO2"]] == T
    assert "temperature" not in whole.body

    after = await broker.get(f"/temporal/entities/{S1}", timerel="after", timeAt=T[0])
    assert [i["value"] for i in after.body["NO2"]] == [31, 45, 52]  # §4.11: inclusive
    after = await broker.get(
        f"/temporal/entities/{S1}", timerel="after", timeAt="2025-03-04T11:00:00.000Z"
    )
    assert [i["value"] for i in after.body["NO2"]] == [45, 52]  # the same instant, spelt apart
    before = await broker.get(f"/temporal/entities/{S1}", timerel="before", timeAt=T[1])
    assert [i["value"] for i in before.body["NO2"]] == [31]
    between = await broker.get(
        f"/temporal/entities/{S1}",
        timerel="between",
        timeAt="2025-03-04T11:30:00+01:00",  # = 10:30Z: offsets are honoured
        endTimeAt=T[2],
    )
    assert [i["value"] for i in between.body["NO2"]] == [45]
    last = await broker.get(f"/temporal/entities/{S1}", attrs="NO2", lastN="2")
    assert [i["value"] for i in last.body["NO2"]] == [45, 52]

    simple = await broker.get(
        f"/temporal/entities/{S1}", attrs="NO2,temperature", options="temporalValues"
    )
    assert simple.body["NO2"] == {
        "type": "Property",
        "values": [[31, T[0]], [45, T[1]], [52, T[2]]],
    }
    assert simple.body["temperature"]["values"][0][0] == 21.5

    by_modified = await broker.get(
        f"/temporal/entities/{S1}",
        attrs="NO2",
        timeproperty="modifiedAt",
        timerel="after",
        timeAt="2000-01-01T00:00:00Z",
        options="sysAttrs",
    )
    assert len(by_modified.body["NO2"]) == 3
    assert all("modifiedAt" in i for i in by_modified.body["NO2"])


async def test_temporal_query_filters_and_paging(broker: Client) -> None:
    await _three_readings(broker)
    for n, no2 in ((2, 12), (3, 70)):
        assert (await broker.post("/entities", air(n, no2=no2))).status == 201
    page = await broker.get(
        "/temporal/entities", type="AirQualityObserved", attrs="NO2", count="true", limit="2"
    )
    assert page.status == 200
    assert page.headers["NGSILD-Results-Count"] == "3"
    assert [e["id"] for e in page.body] == [S1, "urn:ngsi-ld:AirQualityObserved:002"]
    rest = await broker.get("/temporal/entities", type="AirQualityObserved", offset="2")
    assert [e["id"] for e in rest.body] == ["urn:ngsi-ld:AirQualityObserved:003"]
    high = await broker.get("/temporal/entities", type="AirQualityObserved", q="NO2>40")
    assert sorted(e["id"] for e in high.body) == [S1, "urn:ngsi-ld:AirQualityObserved:003"]
    pattern = await broker.get("/temporal/entities", idPattern=".*:00[23]$", attrs="NO2")
    assert [e["id"] for e in pattern.body] == [
        "urn:ngsi-ld:AirQualityObserved:002",
        "urn:ngsi-ld:AirQualityObserved:003",
    ]
    near = await broker.get(
        "/temporal/entities",
        type="AirQualityObserved",
        georel="near;maxDistance==1000",
        geometry="Point",
        coordinates="[-1.13,37.98]",
    )
    assert len(near.body) == 3
    ld = await broker.call(
        "GET",
        "/temporal/entities",
        params={"type": "AirQualityObserved", "limit": "1"},
        headers={"Accept": "application/ld+json"},
    )
    assert "@context" in ld.body[0]
