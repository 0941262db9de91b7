"""Subscriptions notify a real HTTP receiver on loopback when matching entities change."""

from __future__ import annotations

from typing import Any

from tests.ngsild_subscriptions.support import (
    Client,
    Receiver,
    air,
    settle,
    subscription,
)


async def _subscribe(broker: Client, body: dict[str, Any]) -> str:
    reply = await broker.post("/subscriptions", body)
    assert reply.status == 201, reply.body
    location: str = reply.headers["Location"]
    assert location.startswith("/ngsi-ld/v1/subscriptions/")
    return location.rsplit("/", 1)[1]


async def test_q_filtered_notification_roundtrip(broker: Client, receiver: Receiver) -> None:
    sub_id = await _subscribe(
        broker,
        subscription(
            receiver.url,
            q="NO2>40",
            notification={
                "attributes": ["NO2"],
                "format": "keyValues",
                "endpoint": {
                    "uri": receiver.url,
                    "accept": "application/json",
                    "receiverInfo": [{"key": "X-City", "value": "murcia"}],
                },
            },
        ),
    )
    assert (await broker.post("/entities", air(1, no2=20))).status == 201
    assert (await broker.post("/entities", air(2, no2=55))).status == 201
    [note] = await receiver.wait_for(1)
    assert note["type"] == "Notification"
    assert note["subscriptionId"] == sub_id
    assert note["id"].startswith("urn:ngsi-ld:Notification:")
    assert note["notifiedAt"].endswith("Z")
    assert note["data"] == [
        {"id": "urn:ngsi-ld:AirQualityObserved:002", "type": "AirQualityObserved", "NO2": 55}
    ]
    headers = receiver.received[0][0]
    assert headers["Content-Type"].startswith("application/json")
    assert "json-ld#context" in headers["Link"]
    assert headers["X-City"] == "murcia"

    # station 1 crosses the threshold: notified; a change below it is not
    r = await broker.patch("/entities/urn:ngsi-ld:AirQualityObserved:001/attrs", {"NO2": 48})
    assert r.status == 204, r.body
    notes = await receiver.wait_for(2)
    assert notes[1]["data"][0]["NO2"] == 48
    await broker.patch("/entities/urn:ngsi-ld:AirQualityObserved:002/attrs", {"NO2": 10})
    await settle()
    assert len(receiver.received) == 2

    # counters are persisted and shown
    got = await broker.get(f"/subscriptions/{sub_id}")
    assert got.status == 200
    assert got.body["status"] == "active"
    assert got.body["notification"]["timesSent"] == 2
    assert got.body["notification"]["status"] == "ok"
    assert "lastSuccess" in got.body["notification"]


async def test_watched_attributes_and_normalized_ld(lite: Client, receiver: Receiver) -> None:
    body = {
        "type": "Subscription",
        "watchedAttributes": ["temperature"],
        "notification": {
            "endpoint": {"uri": receiver.url, "accept": "application/ld+json"},
        },
    }
    await _subscribe(lite, body)
    await lite.post("/entities", air(1))
    await receiver.wait_for(1)
    await lite.patch("/entities/urn:ngsi-ld:AirQualityObserved:001/attrs", {"NO2": 99})
    await settle()
    assert len(receiver.received) == 1  # NO2 is not watched
    await lite.patch("/entities/urn:ngsi-ld:AirQualityObserved:001/attrs", {"temperature": 25})
    notes = await receiver.wait_for(2)
    entity = notes[1]["data"][0]
    assert notes[1]["@context"]
    assert entity["temperature"] == {"type": "Property", "value": 25}
    assert entity["NO2"]["value"] == 99
    assert receiver.received[1][0]["Content-Type"].startswith("application/ld+json")


async def test_entity_selectors_and_geoq(lite: Client, receiver: Receiver) -> None:
    await _subscribe(
        lite,
        {
            "type": "Subscription",
            "entities": [{"type": "AirQualityObserved", "idPattern": ".*:00[12]$"}],
            "geoQ": {
                "georel": "near;maxDistance==2000",
                "geometry": "Point",
                "coordinates": [-1.13, 37.98],
            },
            "notification": {"endpoint": {"uri": receiver.url}},
        },
    )
    await lite.post("/entities", air(3))  # pattern does not match
    await lite.post("/entities", air(1, lon=-3.70, lat=40.41))  # Madrid: too far
    await lite.post("/entities", air(2))
    notes = await receiver.wait_for(1)
    await settle()
    assert len(receiver.received) == 1
    assert notes[0]["data"][0]["id"] == "urn:ngsi-ld:AirQualityObserved:002"


async def test_throttling_drops_notifications_within_the_period(
    lite: Client, receiver: Receiver
) -> None:
    await _subscribe(lite, subscription(receiver.url, throttling=30))
    await lite.post("/entities", air(1))
    await receiver.wait_for(1)
    await lite.patch("/entities/urn:ngsi-ld:AirQualityObserved:001/attrs", {"NO2": 70})
    await settle()
    assert len(receiver.received) == 1


async def test_time_interval_sends_current_state_periodically(
    lite: Client, receiver: Receiver
) -> None:
    await lite.post("/entities", air(1, no2=44))
    await _subscribe(lite, subscription(receiver.url, timeInterval=0.3))
    notes = await receiver.wait_for(2)
    for note in notes:
        assert note["data"][0]["id"] == "urn:ngsi-ld:AirQualityObserved:001"
        assert note["data"][0]["NO2"]["value"] == 44


async def test_paused_and_expired_subscriptions_stay_silent(
    lite: Client, receiver: Receiver
) -> None:
    sub_id = await _subscribe(lite, subscription(receiver.url, isActive=False))
    await lite.post("/entities", air(1))
    await settle()
    assert receiver.received == []
    assert (await lite.get(f"/subscriptions/{sub_id}")).body["status"] == "paused"
    # reactivate: notified again
    assert (await lite.patch(f"/subscriptions/{sub_id}", {"isActive": True})).status == 204
    await lite.patch("/entities/urn:ngsi-ld:AirQualityObserved:001/attrs", {"NO2": 1})
    await receiver.wait_for(1)

    import datetime as dt

    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=0.4)).isoformat()
    sub2 = await _subscribe(lite, subscription(receiver.url, expiresAt=soon))
    await lite.delete(f"/subscriptions/{sub_id}")
    await settle(0.6)
    await lite.patch("/entities/urn:ngsi-ld:AirQualityObserved:001/attrs", {"NO2": 2})
    await settle()
    assert len(receiver.received) == 1
    assert (await lite.get(f"/subscriptions/{sub2}")).body["status"] == "expired"


async def test_failing_endpoint_is_retried_and_counted(lite: Client, receiver: Receiver) -> None:
    receiver.status = 500
    sub_id = await _subscribe(lite, subscription(receiver.url))
    await lite.post("/entities", air(1))
    await receiver.wait_for(3)  # three attempts (FAST backoff)
    await settle()
    got = (await lite.get(f"/subscriptions/{sub_id}")).body["notification"]
    assert got["status"] == "failed"
    assert got["timesSent"] == 1 and got["timesFailed"] == 1
    assert "lastFailure" in got and "lastSuccess" not in got


async def test_deletion_trigger_and_geojson_notifications(lite: Client, receiver: Receiver) -> None:
    await _subscribe(
        lite,
        {
            **subscription(receiver.url, notificationTrigger=["entityDeleted"]),
            "notification": {"endpoint": {"uri": receiver.url, "accept": "application/geo+json"}},
        },
    )
    await lite.post("/entities", air(1))
    await settle()
    assert receiver.received == []  # creation is not watched
    assert (await lite.delete("/entities/urn:ngsi-ld:AirQualityObserved:001")).status == 204
    [note] = await receiver.wait_for(1)
    assert note["triggerReason"] == "entityDeleted"
    [feature] = note["data"]["features"]
    assert feature["id"] == "urn:ngsi-ld:AirQualityObserved:001"
    assert "deletedAt" in feature["properties"]
    assert receiver.received[0][0]["Content-Type"].startswith("application/geo+json")


async def test_show_changes_carries_previous_values(lite: Client, receiver: Receiver) -> None:
    await _subscribe(
        lite,
        {
            **subscription(receiver.url, watchedAttributes=["NO2"]),
            "notification": {"showChanges": True, "endpoint": {"uri": receiver.url}},
        },
    )
    await lite.post("/entities", air(1, no2=30))
    await lite.patch("/entities/urn:ngsi-ld:AirQualityObserved:001/attrs", {"NO2": 47})
    notes = await receiver.wait_for(2)
    assert "previousValue" not in notes[0]["data"][0]["NO2"]
    changed = notes[1]["data"][0]
    assert changed["NO2"]["value"] == 47 and changed["NO2"]["previousValue"] == 30
    assert "previousValue" not in changed["temperature"]
